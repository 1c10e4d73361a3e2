package gloo

import (
	"jwtgate.dev/jwtgate/internal/dialect"
	"time"

	"go.yaml.in/yaml/v3"
)

// The YAML of the Gloo Platform v2 resources jwtgate reads, key for key
// (the proto field names in camelCase, as the Kubernetes API serves
// them). Fields typed yaml.Node are known but not translated: they are
// either bookkeeping or reported as not served where they are read.

// object is one document of the API.
type object[S any] = dialect.Object[S]

// metadata is an object's metadata.
type metadata = dialect.Metadata

// objectSelector is common.gloo.solo.io ObjectSelector.
type objectSelector struct {
	Labels    map[string]string `yaml:"labels"`
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Cluster   string            `yaml:"cluster"`
	Workspace string            `yaml:"workspace"`
}

// objectReference is common.gloo.solo.io ObjectReference.
type objectReference struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
	Cluster   string `yaml:"cluster"`
}

// portSelector is common.gloo.solo.io PortSelector: a number or a name.
type portSelector struct {
	Number int    `yaml:"number"`
	Name   string `yaml:"name"`
}

// workloadSelector is common.gloo.solo.io WorkloadSelector.
type workloadSelector struct {
	Selector *objectSelector `yaml:"selector"`
	Kind     string          `yaml:"kind"`
	Port     *portSelector   `yaml:"port"`
}

// destinationSelector is common.gloo.solo.io DestinationSelector.
type destinationSelector struct {
	Selector *objectSelector `yaml:"selector"`
	Kind     string          `yaml:"kind"`
	Port     *portSelector   `yaml:"port"`
}

// destinationReference is common.gloo.solo.io DestinationReference.
type destinationReference struct {
	Ref       *objectReference  `yaml:"ref"`
	Kind      string            `yaml:"kind"`
	Port      *portSelector     `yaml:"port"`
	Subset    map[string]string `yaml:"subset"`
	Weight    *int              `yaml:"weight"`
	Function  yaml.Node         `yaml:"function"`
	AWSLambda yaml.Node         `yaml:"awsLambda"`
}

// routeTableSpec is the spec of networking.gloo.solo.io/v2 RouteTable.
type routeTableSpec struct {
	Hosts                     []string              `yaml:"hosts"`
	VirtualGateways           []objectReference     `yaml:"virtualGateways"`
	WorkloadSelectors         []workloadSelector    `yaml:"workloadSelectors"`
	ApplyToDestinations       yaml.Node             `yaml:"applyToDestinations"`
	DefaultDestination        *destinationReference `yaml:"defaultDestination"`
	HTTP                      []httpRoute           `yaml:"http"`
	TCP                       yaml.Node             `yaml:"tcp"`
	TLS                       yaml.Node             `yaml:"tls"`
	Weight                    int                   `yaml:"weight"`
	PortalMetadata            yaml.Node             `yaml:"portalMetadata"`
	FailureMode               string                `yaml:"failureMode"`
	VirtualServiceAnnotations map[string]string     `yaml:"virtualServiceAnnotations"`
}

// httpRoute is one entry of a RouteTable's http list.
type httpRoute struct {
	Name           string            `yaml:"name"`
	Labels         map[string]string `yaml:"labels"`
	Matchers       []httpMatcher     `yaml:"matchers"`
	ForwardTo      *forwardTo        `yaml:"forwardTo"`
	Delegate       yaml.Node         `yaml:"delegate"`
	Redirect       *redirect         `yaml:"redirect"`
	DirectResponse *directResponse   `yaml:"directResponse"`
	GraphQL        yaml.Node         `yaml:"graphql"`
}

// httpMatcher is common.gloo.solo.io HTTPRequestMatcher.
type httpMatcher struct {
	Name            string          `yaml:"name"`
	URI             *stringMatch    `yaml:"uri"`
	Headers         []headerMatcher `yaml:"headers"`
	QueryParameters []queryMatcher  `yaml:"queryParameters"`
	Method          string          `yaml:"method"`
	Port            int             `yaml:"port"`
}

// stringMatch is common.gloo.solo.io StringMatch.
type stringMatch struct {
	Exact      *string `yaml:"exact"`
	Prefix     *string `yaml:"prefix"`
	Regex      *string `yaml:"regex"`
	Suffix     *string `yaml:"suffix"`
	IgnoreCase bool    `yaml:"ignoreCase"`
}

type headerMatcher struct {
	Name        string `yaml:"name"`
	Value       string `yaml:"value"`
	Regex       bool   `yaml:"regex"`
	InvertMatch bool   `yaml:"invertMatch"`
}

type queryMatcher struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
	Regex bool   `yaml:"regex"`
}

type forwardTo struct {
	Destinations    []destinationReference `yaml:"destinations"`
	PathRewrite     *string                `yaml:"pathRewrite"`
	RegexRewrite    yaml.Node              `yaml:"regexRewrite"`
	HostRewrite     string                 `yaml:"hostRewrite"`
	AutoHostRewrite bool                   `yaml:"autoHostRewrite"`
}

type redirect struct {
	HostRedirect string `yaml:"hostRedirect"`
	PathRedirect string `yaml:"pathRedirect"`
	ResponseCode string `yaml:"responseCode"`
}

type directResponse struct {
	Status int    `yaml:"status"`
	Body   string `yaml:"body"`
}

// virtualGatewaySpec is the spec of networking.gloo.solo.io/v2
// VirtualGateway.
type virtualGatewaySpec struct {
	Workloads []workloadSelector `yaml:"workloads"`
	Listeners []vgListener       `yaml:"listeners"`
}

type vgListener struct {
	Port                    *portSelector      `yaml:"port"`
	TLS                     *tlsConfig         `yaml:"tls"`
	HTTPSRedirect           bool               `yaml:"httpsRedirect"`
	HTTP                    yaml.Node          `yaml:"http"`
	TCP                     yaml.Node          `yaml:"tcp"`
	AllowedRouteTables      []routeTableFilter `yaml:"allowedRouteTables"`
	ExposedExternalServices yaml.Node          `yaml:"exposedExternalServices"`
	AppProtocol             string             `yaml:"appProtocol"`
}

type routeTableFilter struct {
	Host          string          `yaml:"host"`
	Selector      *objectSelector `yaml:"selector"`
	AllowedRoutes yaml.Node       `yaml:"allowedRoutes"`
}

type tlsConfig struct {
	Mode                 string         `yaml:"mode"`
	SecretName           string         `yaml:"secretName"`
	Files                *tlsFiles      `yaml:"files"`
	VerifySubjectAltName []string       `yaml:"verifySubjectAltName"`
	Parameters           *tlsParameters `yaml:"parameters"`
}

type tlsFiles struct {
	ServerCert string `yaml:"serverCert"`
	PrivateKey string `yaml:"privateKey"`
	CACerts    string `yaml:"caCerts"`
}

type tlsParameters struct {
	MinimumProtocolVersion string   `yaml:"minimumProtocolVersion"`
	MaximumProtocolVersion string   `yaml:"maximumProtocolVersion"`
	CipherSuites           []string `yaml:"cipherSuites"`
}

// jwtPolicySpec is the spec of security.policy.gloo.solo.io/v2 JWTPolicy.
type jwtPolicySpec struct {
	ApplyToRoutes       []routeSelector       `yaml:"applyToRoutes"`
	ApplyToDestinations []destinationSelector `yaml:"applyToDestinations"`
	Config              *jwtConfig            `yaml:"config"`
}

// routeSelector is common.gloo.solo.io RouteSelector: route or
// withDestinations (neither: every route).
type routeSelector struct {
	Route            *routeLabelSelector  `yaml:"route"`
	WithDestinations *destinationSelector `yaml:"withDestinations"`
}

type routeLabelSelector struct {
	Labels    map[string]string `yaml:"labels"`
	Namespace string            `yaml:"namespace"`
	Cluster   string            `yaml:"cluster"`
	Workspace string            `yaml:"workspace"`
}

type jwtConfig struct {
	Providers            map[string]jwtProvider `yaml:"providers"`
	Phase                *phase                 `yaml:"phase"`
	AllowMissingOrFailed bool                   `yaml:"allowMissingOrFailed"`
	ValidationPolicy     string                 `yaml:"validationPolicy"`
	ClearRouteCache      string                 `yaml:"clearRouteCache"`
	Claims               []claimMatcher         `yaml:"claims"`
	RequiredScopes       []string               `yaml:"requiredScopes"`
}

type phase struct {
	PreAuthz  *phaseEntry `yaml:"preAuthz"`
	PostAuthz *phaseEntry `yaml:"postAuthz"`
}

type phaseEntry struct {
	Priority int `yaml:"priority"`
}

type jwtProvider struct {
	Issuer                string           `yaml:"issuer"`
	Audiences             []string         `yaml:"audiences"`
	TokenSource           *tokenSource     `yaml:"tokenSource"`
	Local                 *localJWKS       `yaml:"local"`
	Remote                *remoteJWKS      `yaml:"remote"`
	ClaimsToHeaders       []claimsToHeader `yaml:"claimsToHeaders"`
	KeepToken             bool             `yaml:"keepToken"`
	ClockSkewSeconds      *uint32          `yaml:"clockSkewSeconds"`
	OutputPayloadToHeader string           `yaml:"outputPayloadToHeader"`
}

type tokenSource struct {
	Headers     []tokenHeader `yaml:"headers"`
	QueryParams []string      `yaml:"queryParams"`
}

type tokenHeader struct {
	Name   string `yaml:"name"`
	Prefix string `yaml:"prefix"`
}

type localJWKS struct {
	Inline    string     `yaml:"inline"`
	SecretRef *secretRef `yaml:"secretRef"`
}

type secretRef struct {
	ObjectRef *objectReference `yaml:"objectRef"`
	Key       string           `yaml:"key"`
}

type remoteJWKS struct {
	URL              string                `yaml:"url"`
	DestinationRef   *destinationReference `yaml:"destinationRef"`
	CacheDuration    time.Duration         `yaml:"cacheDuration"`
	Timeout          time.Duration         `yaml:"timeout"`
	EnableAsyncFetch bool                  `yaml:"enableAsyncFetch"`
}

type claimsToHeader struct {
	Claim  string `yaml:"claim"`
	Header string `yaml:"header"`
	Append bool   `yaml:"append"`
}

type claimMatcher struct {
	Key                  string   `yaml:"key"`
	Values               []string `yaml:"values"`
	NotValues            []string `yaml:"notValues"`
	NestedClaimDelimiter string   `yaml:"nestedClaimDelimiter"`
}
