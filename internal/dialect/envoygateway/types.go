package envoygateway

import (
	"jwtgate.dev/jwtgate/internal/dialect"
	"time"

	"go.yaml.in/yaml/v3"
)

// The YAML of the SecurityPolicy jwtgate reads, key for key (the API's
// JSON field names, gateway.envoyproxy.io/v1alpha1 as of Envoy Gateway
// v1.9). Optional scalars are pointers, so that "not set" (which takes
// the API's default) and "set to the zero value" stay apart. Fields typed
// yaml.Node are known but not translated: they are bookkeeping, or
// features jwtgate reports as not served where it reads them. A key that
// is not listed here is an error: in a security resource, a misspelt
// field left out would grant more.

// object is one SecurityPolicy document.
type object struct {
	APIVersion string             `yaml:"apiVersion"`
	Kind       string             `yaml:"kind"`
	Metadata   metadata           `yaml:"metadata"`
	Spec       securityPolicySpec `yaml:"spec"`
	Status     yaml.Node          `yaml:"status"` // written by a controller; ignored
}

// metadata is an object's metadata.
type metadata = dialect.Metadata

// securityPolicySpec is the spec of a SecurityPolicy.
type securityPolicySpec struct {
	// TargetRef is deprecated in favour of TargetRefs; both are read.
	TargetRef       *targetRef       `yaml:"targetRef"`
	TargetRefs      []targetRef      `yaml:"targetRefs"`
	TargetSelectors []targetSelector `yaml:"targetSelectors"`
	MergeType       *string          `yaml:"mergeType"`

	JWT           *jwt           `yaml:"jwt"`
	Authorization *authorization `yaml:"authorization"`

	// Features jwtgate does not serve: a policy holding one of the
	// access checks denies every request (see unsupportedChecks); CORS is
	// only reported.
	CORS       yaml.Node `yaml:"cors"`
	BasicAuth  yaml.Node `yaml:"basicAuth"`
	APIKeyAuth yaml.Node `yaml:"apiKeyAuth"`
	OIDC       yaml.Node `yaml:"oidc"`
	ExtAuth    yaml.Node `yaml:"extAuth"`
}

// targetRef is a LocalPolicyTargetReferenceWithSectionName.
type targetRef struct {
	Group       string  `yaml:"group"`
	Kind        string  `yaml:"kind"`
	Name        string  `yaml:"name"`
	SectionName *string `yaml:"sectionName"`
}

// targetSelector chooses targets by their labels.
type targetSelector struct {
	Group            *string            `yaml:"group"`
	Kind             string             `yaml:"kind"`
	MatchLabels      map[string]string  `yaml:"matchLabels"`
	MatchExpressions []labelRequirement `yaml:"matchExpressions"`
	Namespaces       *struct {
		From     *string   `yaml:"from"`
		Selector yaml.Node `yaml:"selector"`
	} `yaml:"namespaces"`
}

// labelRequirement is one matchExpressions entry of a label selector.
type labelRequirement struct {
	Key      string   `yaml:"key"`
	Operator string   `yaml:"operator"`
	Values   []string `yaml:"values"`
}

// jwt is the policy's JWT authentication.
type jwt struct {
	Optional  *bool         `yaml:"optional"`
	FailOpen  *bool         `yaml:"failOpen"`
	Providers []jwtProvider `yaml:"providers"`
}

// jwtProvider is one trusted issuer.
type jwtProvider struct {
	Name           string          `yaml:"name"`
	Issuer         string          `yaml:"issuer"`
	Audiences      []string        `yaml:"audiences"`
	RemoteJWKS     *remoteJWKS     `yaml:"remoteJWKS"`
	LocalJWKS      *localJWKS      `yaml:"localJWKS"`
	ClaimToHeaders []claimToHeader `yaml:"claimToHeaders"`
	RecomputeRoute *bool           `yaml:"recomputeRoute"`
	ExtractFrom    *extractFrom    `yaml:"extractFrom"`
}

// remoteJWKS is a key set fetched from a URI.
type remoteJWKS struct {
	URI                   string         `yaml:"uri"`
	CacheDuration         *time.Duration `yaml:"cacheDuration"`
	FailedRefetchDuration yaml.Node      `yaml:"failedRefetchDuration"`
	BackendRef            yaml.Node      `yaml:"backendRef"`
	BackendRefs           yaml.Node      `yaml:"backendRefs"`
	BackendSettings       yaml.Node      `yaml:"backendSettings"`
}

// localJWKS is a key set held inline or in a ConfigMap.
type localJWKS struct {
	Type     *string         `yaml:"type"`
	Inline   *string         `yaml:"inline"`
	ValueRef *localObjectRef `yaml:"valueRef"`
}

// localObjectRef names an object of the policy's namespace.
type localObjectRef struct {
	Group string `yaml:"group"`
	Kind  string `yaml:"kind"`
	Name  string `yaml:"name"`
}

// claimToHeader copies a claim into a request header.
type claimToHeader struct {
	Header string `yaml:"header"`
	Claim  string `yaml:"claim"`
}

// extractFrom lists where tokens are taken from.
type extractFrom struct {
	Headers []struct {
		Name        string  `yaml:"name"`
		ValuePrefix *string `yaml:"valuePrefix"`
	} `yaml:"headers"`
	Cookies []string `yaml:"cookies"`
	Params  []string `yaml:"params"`
}

// authorization is the policy's ordered authorization rules.
type authorization struct {
	Rules         []authzRule `yaml:"rules"`
	DefaultAction *string     `yaml:"defaultAction"`
}

// authzRule is one rule: the first that matches decides.
type authzRule struct {
	Name      *string    `yaml:"name"`
	Action    string     `yaml:"action"`
	Operation *operation `yaml:"operation"`
	Principal *principal `yaml:"principal"`
	CEL       *string    `yaml:"cel"`
}

// operation matches the request's method and path.
type operation struct {
	Methods []string   `yaml:"methods"`
	Path    *pathMatch `yaml:"path"`
}

// pathMatch is a Gateway API path match, with invert.
type pathMatch struct {
	Type   *string `yaml:"type"`
	Value  *string `yaml:"value"`
	Invert *bool   `yaml:"invert"`
}

// principal matches the client: every field present must match.
type principal struct {
	ClientCIDRs          []string      `yaml:"clientCIDRs"`
	JWT                  *jwtPrincipal `yaml:"jwt"`
	Headers              []headerMatch `yaml:"headers"`
	ClientIPGeoLocations yaml.Node     `yaml:"clientIPGeoLocations"`
	ClientCert           yaml.Node     `yaml:"clientCert"`
}

// jwtPrincipal matches the claims and scopes of a provider's token.
type jwtPrincipal struct {
	Provider string     `yaml:"provider"`
	Claims   []jwtClaim `yaml:"claims"`
	Scopes   []string   `yaml:"scopes"`
}

// jwtClaim is one claim and the values it may have.
type jwtClaim struct {
	Name      string   `yaml:"name"`
	ValueType *string  `yaml:"valueType"`
	Values    []string `yaml:"values"`
}

// headerMatch is a header and the exact values it may have.
type headerMatch struct {
	Name   string   `yaml:"name"`
	Values []string `yaml:"values"`
}
