package kgateway

import (
	"jwtgate.dev/jwtgate/internal/dialect"
	"time"

	"go.yaml.in/yaml/v3"
)

// The YAML of the kgateway resources jwtgate reads, key for key (the
// API's JSON field names). Optional scalars are pointers, so that "not
// set" and "set to the zero value" stay apart. Fields typed yaml.Node
// are known but not translated: each is reported where it is read.

// object is one document of the API.
type object[S any] = dialect.Object[S]

// metadata is an object's metadata.
type metadata = dialect.Metadata

// extensionSpec is the spec of a GatewayExtension: exactly one of its
// kinds of extension.
type extensionSpec struct {
	Type      *string    `yaml:"type"` // deprecated, no effect
	JWT       *jwtConfig `yaml:"jwt"`
	ExtAuth   yaml.Node  `yaml:"extAuth"`
	ExtProc   yaml.Node  `yaml:"extProc"`
	RateLimit yaml.Node  `yaml:"rateLimit"`
	OAuth2    yaml.Node  `yaml:"oauth2"`
}

// jwtConfig is a GatewayExtension's jwt.
type jwtConfig struct {
	ValidationMode *string       `yaml:"validationMode"`
	Providers      []jwtProvider `yaml:"providers"`
}

// jwtProvider is a NamedJWTProvider.
type jwtProvider struct {
	Name            string          `yaml:"name"`
	Issuer          *string         `yaml:"issuer"`
	Audiences       []string        `yaml:"audiences"`
	TokenSource     *tokenSource    `yaml:"tokenSource"`
	ClaimsToHeaders []claimToHeader `yaml:"claimsToHeaders"`
	JWKS            *jwks           `yaml:"jwks"`
	ForwardToken    *bool           `yaml:"forwardToken"`
	RemoteJWKS      yaml.Node       `yaml:"remoteJwks"` // not in the API: reported with a hint
	KeepToken       yaml.Node       `yaml:"keepToken"`  // an intermediate revision's field: reported
}

// tokenSource is where a provider finds tokens: exactly one of header
// and queryParameter.
type tokenSource struct {
	Header *struct {
		Header string  `yaml:"header"`
		Prefix *string `yaml:"prefix"`
	} `yaml:"header"`
	QueryParameter *string `yaml:"queryParameter"`
}

// claimToHeader copies a claim into a request header.
type claimToHeader struct {
	Name   string `yaml:"name"`
	Header string `yaml:"header"`
}

// jwks is where a provider's keys are: exactly one of local and remote.
type jwks struct {
	Local  *localJWKS  `yaml:"local"`
	Remote *remoteJWKS `yaml:"remote"`
}

// localJWKS is exactly one of inline and configMapRef.
type localJWKS struct {
	Inline       *string `yaml:"inline"`
	ConfigMapRef *struct {
		Name string `yaml:"name"`
	} `yaml:"configMapRef"`
}

// remoteJWKS is a key set fetched from url through backendRef.
type remoteJWKS struct {
	URL           string         `yaml:"url"`
	BackendRef    *backendObjRef `yaml:"backendRef"`
	CacheDuration *time.Duration `yaml:"cacheDuration"`
	AsyncFetch    *struct {
		FastListener          *bool     `yaml:"fastListener"`
		FailedRefetchDuration yaml.Node `yaml:"failedRefetchDuration"`
	} `yaml:"asyncFetch"`
	RetryPolicy yaml.Node `yaml:"retryPolicy"`
}

// backendObjRef is a Gateway API BackendObjectReference.
type backendObjRef struct {
	Group     *string `yaml:"group"`
	Kind      *string `yaml:"kind"`
	Name      string  `yaml:"name"`
	Namespace *string `yaml:"namespace"`
	Port      *int    `yaml:"port"`
}

// trafficPolicySpec is the spec of a TrafficPolicy: what jwtgate reads,
// and every other field of the API, known so that each is reported.
type trafficPolicySpec struct {
	TargetRefs      []targetRef      `yaml:"targetRefs"`
	TargetSelectors []targetSelector `yaml:"targetSelectors"`
	JWTAuth         *jwtAuth         `yaml:"jwtAuth"`
	RBAC            *rbac            `yaml:"rbac"`

	// Access control jwtgate does not enforce: failing closed, the
	// routes they reach answer 403.
	ExtAuth     yaml.Node `yaml:"extAuth"`
	BasicAuth   yaml.Node `yaml:"basicAuth"`
	APIKeyAuth  yaml.Node `yaml:"apiKeyAuth"`
	OAuth2      yaml.Node `yaml:"oauth2"`
	ACL         yaml.Node `yaml:"acl"`
	CSRF        yaml.Node `yaml:"csrf"`
	JWTMistaken yaml.Node `yaml:"jwt"` // the docs' misspelling of jwtAuth

	// Traffic features jwtgate does not apply (reported, not served).
	Transformation  yaml.Node `yaml:"transformation"`
	ExtProc         yaml.Node `yaml:"extProc"`
	RateLimit       yaml.Node `yaml:"rateLimit"`
	CORS            yaml.Node `yaml:"cors"`
	HeaderModifiers yaml.Node `yaml:"headerModifiers"`
	AutoHostRewrite yaml.Node `yaml:"autoHostRewrite"`
	Buffer          yaml.Node `yaml:"buffer"`
	Timeouts        yaml.Node `yaml:"timeouts"`
	Retry           yaml.Node `yaml:"retry"`
	URLRewrite      yaml.Node `yaml:"urlRewrite"`
	Compression     yaml.Node `yaml:"compression"`
	Tracing         yaml.Node `yaml:"tracing"`
	FaultInjection  yaml.Node `yaml:"faultInjection"`
	StatPrefix      yaml.Node `yaml:"statPrefix"`
	HashPolicies    yaml.Node `yaml:"hashPolicies"`
	AI              yaml.Node `yaml:"ai"`
}

// targetRef is a LocalPolicyTargetReferenceWithSectionName. The API has
// no namespace: a target is always in the policy's namespace.
type targetRef struct {
	Group       string    `yaml:"group"`
	Kind        string    `yaml:"kind"`
	Name        string    `yaml:"name"`
	SectionName *string   `yaml:"sectionName"`
	Namespace   yaml.Node `yaml:"namespace"` // not in the API: reported
}

// targetSelector chooses targets of a kind, in the policy's namespace,
// by their labels.
type targetSelector struct {
	Group       string            `yaml:"group"`
	Kind        string            `yaml:"kind"`
	MatchLabels map[string]string `yaml:"matchLabels"`
	SectionName *string           `yaml:"sectionName"`
}

// jwtAuth is exactly one of extensionRef and disable.
type jwtAuth struct {
	ExtensionRef *struct {
		Name      string  `yaml:"name"`
		Namespace *string `yaml:"namespace"`
	} `yaml:"extensionRef"`
	Disable yaml.Node `yaml:"disable"`
}

// rbac is a kgateway Authorization.
type rbac struct {
	Action *string `yaml:"action"`
	Policy *struct {
		MatchExpressions []string `yaml:"matchExpressions"`
		AllowedCIDRs     []string `yaml:"allowedCIDRs"`
		BlockedCIDRs     []string `yaml:"blockedCIDRs"`
	} `yaml:"policy"`
}

// backendSpec is the spec of a Backend: exactly one of its kinds.
type backendSpec struct {
	Type                *string        `yaml:"type"` // deprecated, no effect
	Static              *staticBackend `yaml:"static"`
	AWS                 yaml.Node      `yaml:"aws"`
	GCP                 yaml.Node      `yaml:"gcp"`
	DynamicForwardProxy yaml.Node      `yaml:"dynamicForwardProxy"`
}

// staticBackend is a Backend of fixed hosts.
type staticBackend struct {
	Hosts []struct {
		Host string `yaml:"host"`
		Port int    `yaml:"port"`
	} `yaml:"hosts"`
	AppProtocol *string `yaml:"appProtocol"`
}
