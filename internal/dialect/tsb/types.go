package tsb

import "go.yaml.in/yaml/v3"

// The YAML of the TSB resources jwtgate reads, key for key (the proto
// field names in camelCase). Fields typed yaml.Node are known but not
// translated: they are either harmless bookkeeping or reported as not
// served where they are read.

// object is one TSB document.
type object[S any] struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   metadata  `yaml:"metadata"`
	Spec       S         `yaml:"spec"`
	Status     yaml.Node `yaml:"status"` // written by the control plane; ignored
}

// metadata holds both styles: tctl's hierarchy keys and Kubernetes'
// annotations.
type metadata struct {
	Name         string            `yaml:"name"`
	Namespace    string            `yaml:"namespace"`
	Labels       map[string]string `yaml:"labels"`
	Annotations  map[string]string `yaml:"annotations"`
	Organization string            `yaml:"organization"`
	Tenant       string            `yaml:"tenant"`
	Workspace    string            `yaml:"workspace"`
	Group        string            `yaml:"group"`
	// Bookkeeping of tctl and Kubernetes, ignored.
	ResourceVersion   yaml.Node `yaml:"resourceVersion"`
	Etag              yaml.Node `yaml:"etag"`
	UID               yaml.Node `yaml:"uid"`
	Generation        yaml.Node `yaml:"generation"`
	CreationTimestamp yaml.Node `yaml:"creationTimestamp"`
	ManagedFields     yaml.Node `yaml:"managedFields"`
	Finalizers        yaml.Node `yaml:"finalizers"`
	OwnerReferences   yaml.Node `yaml:"ownerReferences"`
}

// documentation are the spec keys every TSB resource may carry that do
// not change what it does.
type documentation struct {
	DisplayName string    `yaml:"displayName"`
	Description string    `yaml:"description"`
	Etag        yaml.Node `yaml:"etag"`
}

type workloadSelector struct {
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

// gatewaySpec is the spec of gateway.tsb.tetrate.io/v2 Gateway.
type gatewaySpec struct {
	documentation            `yaml:",inline"`
	WorkloadSelector         *workloadSelector     `yaml:"workloadSelector"`
	HTTP                     []httpServer          `yaml:"http"`
	EgressAuthorization      []egressAuthorization `yaml:"egressAuthorization"`
	TCP                      yaml.Node             `yaml:"tcp"`
	TLS                      yaml.Node             `yaml:"tls"`
	WAF                      yaml.Node             `yaml:"waf"`
	WasmPlugins              yaml.Node             `yaml:"wasmPlugins"`
	Extension                yaml.Node             `yaml:"extension"`
	ConfigGenerationMetadata yaml.Node             `yaml:"configGenerationMetadata"`
}

// httpServer is one entry of a Gateway's http list.
type httpServer struct {
	Name             string          `yaml:"name"`
	Hostname         string          `yaml:"hostname"`
	Port             *int            `yaml:"port"`
	TrafficMode      string          `yaml:"trafficMode"`
	Transit          yaml.Node       `yaml:"transit"`
	TLS              *tlsSettings    `yaml:"tls"`
	Routing          *routing        `yaml:"routing"`
	Authentication   *authentication `yaml:"authentication"`
	Authorization    *authorization  `yaml:"authorization"`
	Extensions       yaml.Node       `yaml:"extensions"`
	RateLimiting     yaml.Node       `yaml:"rateLimiting"`
	FailoverSettings yaml.Node       `yaml:"failoverSettings"`
	OpenAPI          yaml.Node       `yaml:"openapi"`
}

// tlsSettings is both a server's own tls and a serviceDestination's tls
// (origination); files holds the keys of both.
type tlsSettings struct {
	Mode               string    `yaml:"mode"`
	SecretName         string    `yaml:"secretName"`
	Files              *tlsFiles `yaml:"files"`
	SubjectAltNames    []string  `yaml:"subjectAltNames"`
	MinProtocolVersion string    `yaml:"minProtocolVersion"`
	MaxProtocolVersion string    `yaml:"maxProtocolVersion"`
	CipherSuites       []string  `yaml:"cipherSuites"`
}

type tlsFiles struct {
	CACertificates    string `yaml:"caCertificates"`
	ClientCertificate string `yaml:"clientCertificate"`
	PrivateKey        string `yaml:"privateKey"`
	ServerCertificate string `yaml:"serverCertificate"`
}

type routing struct {
	Rules      []routeRule `yaml:"rules"`
	CorsPolicy yaml.Node   `yaml:"corsPolicy"`
}

type routeRule struct {
	Match                        []routeMatch `yaml:"match"`
	Route                        *route       `yaml:"route"`
	Redirect                     yaml.Node    `yaml:"redirect"`
	DirectResponse               yaml.Node    `yaml:"directResponse"`
	Modify                       yaml.Node    `yaml:"modify"`
	Timeout                      yaml.Node    `yaml:"timeout"`
	CorsPolicy                   yaml.Node    `yaml:"corsPolicy"`
	DisableExternalAuthorization bool         `yaml:"disableExternalAuthorization"`
	Extensions                   yaml.Node    `yaml:"extensions"`
}

type routeMatch struct {
	URI     *stringMatch `yaml:"uri"`
	Headers yaml.Node    `yaml:"headers"`
}

type stringMatch struct {
	Exact  string `yaml:"exact"`
	Prefix string `yaml:"prefix"`
	Regex  string `yaml:"regex"`
}

type route struct {
	ServiceDestination *serviceDestination `yaml:"serviceDestination"`
	ClusterDestination yaml.Node           `yaml:"clusterDestination"`
}

type serviceDestination struct {
	Host string       `yaml:"host"`
	Port *int         `yaml:"port"`
	TLS  *tlsSettings `yaml:"tls"`
}

type authentication struct {
	JWT        *jwtRule   `yaml:"jwt"`
	Rules      *authRules `yaml:"rules"`
	OIDC       yaml.Node  `yaml:"oidc"`
	RequireJWT *bool      `yaml:"requireJwt"`
}

type authRules struct {
	JWT []jwtRule `yaml:"jwt"`
}

// jwtRule is TSB's JWT rule, with Istio's JWTRule semantics.
type jwtRule struct {
	Issuer                string          `yaml:"issuer"`
	Audiences             []string        `yaml:"audiences"`
	JWKSURI               string          `yaml:"jwksUri"`
	JWKS                  string          `yaml:"jwks"`
	FromHeaders           []jwtHeader     `yaml:"fromHeaders"`
	FromCookies           []string        `yaml:"fromCookies"`
	OutputPayloadToHeader string          `yaml:"outputPayloadToHeader"`
	OutputClaimToHeaders  []claimToHeader `yaml:"outputClaimToHeaders"`
}

type jwtHeader struct {
	Name   string `yaml:"name"`
	Prefix string `yaml:"prefix"`
}

type claimToHeader struct {
	Header string `yaml:"header"`
	Claim  string `yaml:"claim"`
}

type authorization struct {
	Local    *localAuthorization `yaml:"local"`
	External yaml.Node           `yaml:"external"`
}

type localAuthorization struct {
	Rules []localRule `yaml:"rules"`
}

type localRule struct {
	Name string      `yaml:"name"`
	From []localFrom `yaml:"from"`
	To   []localTo   `yaml:"to"`
}

type localFrom struct {
	JWT *jwtPrincipal `yaml:"jwt"`
}

type jwtPrincipal struct {
	Iss   string            `yaml:"iss"`
	Sub   string            `yaml:"sub"`
	Other map[string]string `yaml:"other"`
}

type localTo struct {
	Methods []string `yaml:"methods"`
	Paths   []string `yaml:"paths"`
}

// egressAuthorization is one entry of a Gateway's egressAuthorization.
type egressAuthorization struct {
	From          *authzFrom `yaml:"from"`
	To            []egressTo `yaml:"to"`
	IdentityMatch string     `yaml:"identityMatch"`
}

type egressTo struct {
	Host    yaml.Node `yaml:"host"` // a string, or {exact|prefix|regex}
	Methods []string  `yaml:"methods"`
	Paths   []string  `yaml:"paths"`
}

// authzFrom is who a rule admits: a Gateway's egressAuthorization from,
// and the AuthorizationSettings of an EgressGateway rule.
type authzFrom struct {
	Mode            string    `yaml:"mode"`
	ServiceAccounts []string  `yaml:"serviceAccounts"`
	Resources       []string  `yaml:"resources"`
	Rules           yaml.Node `yaml:"rules"`
	HTTP            yaml.Node `yaml:"http"`
	IdentityMatch   string    `yaml:"identityMatch"`
}

// egressGatewaySpec is the spec of gateway.tsb.tetrate.io/v2
// EgressGateway.
type egressGatewaySpec struct {
	documentation            `yaml:",inline"`
	WorkloadSelector         *workloadSelector `yaml:"workloadSelector"`
	Authorization            []egressRule      `yaml:"authorization"`
	ConfigGenerationMetadata yaml.Node         `yaml:"configGenerationMetadata"`
}

type egressRule struct {
	From *authzFrom `yaml:"from"`
	To   []string   `yaml:"to"`
}

// trafficSettingSpec is the spec of traffic.tsb.tetrate.io/v2
// TrafficSetting.
type trafficSettingSpec struct {
	documentation           `yaml:",inline"`
	Reachability            *reachability `yaml:"reachability"`
	Egress                  *egressHost   `yaml:"egress"`
	Outbound                *outbound     `yaml:"outbound"`
	Resilience              yaml.Node     `yaml:"resilience"`
	UpstreamTrafficSettings yaml.Node     `yaml:"upstreamTrafficSettings"`
	Inbound                 yaml.Node     `yaml:"inbound"`
}

type reachability struct {
	Mode  string   `yaml:"mode"`
	Hosts []string `yaml:"hosts"`
}

type egressHost struct {
	Host string `yaml:"host"`
}

type outbound struct {
	Egress                  *egressHost   `yaml:"egress"`
	Reachability            *reachability `yaml:"reachability"`
	UpstreamTrafficSettings yaml.Node     `yaml:"upstreamTrafficSettings"`
}

// workspaceSpec is the spec of tsb.tetrate.io/v2 Workspace, and of the
// Groups (gateway, traffic and security), which have the same fields
// jwtgate reads and configMode besides.
type workspaceSpec struct {
	documentation             `yaml:",inline"`
	NamespaceSelector         *namespaceSelector `yaml:"namespaceSelector"`
	ConfigMode                yaml.Node          `yaml:"configMode"`
	Privileged                yaml.Node          `yaml:"privileged"`
	IsolationBoundary         yaml.Node          `yaml:"isolationBoundary"`
	DeletionProtectionEnabled yaml.Node          `yaml:"deletionProtectionEnabled"`
	ConfigGenerationMetadata  yaml.Node          `yaml:"configGenerationMetadata"`
}

type namespaceSelector struct {
	Names []string `yaml:"names"`
}
