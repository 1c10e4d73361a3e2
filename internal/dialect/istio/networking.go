package istio

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// The YAML of the Istio routing resources jwtgate reads
// (networking.istio.io Gateway and VirtualService), key for key. Every
// field of the API is listed, so that a misspelt key is an error and a
// known one jwtgate does not translate gets a status; fields typed
// yaml.Node are known but not translated.

// gatewaySpec is networking.v1alpha3.Gateway.
type gatewaySpec struct {
	Servers  []server          `yaml:"servers"`
	Selector map[string]string `yaml:"selector"`
}

// server is networking.v1alpha3.Server.
type server struct {
	Port            *serverPort `yaml:"port"`
	Bind            string      `yaml:"bind"`
	Hosts           []string    `yaml:"hosts"`
	TLS             *serverTLS  `yaml:"tls"`
	DefaultEndpoint string      `yaml:"defaultEndpoint"`
	Name            string      `yaml:"name"`
}

// serverPort is networking.v1alpha3.Port.
type serverPort struct {
	Number     int    `yaml:"number"`
	Protocol   string `yaml:"protocol"`
	Name       string `yaml:"name"`
	TargetPort int    `yaml:"targetPort"`
}

// serverTLS is networking.v1alpha3.ServerTLSSettings.
type serverTLS struct {
	HTTPSRedirect         bool      `yaml:"httpsRedirect"`
	Mode                  string    `yaml:"mode"`
	ServerCertificate     string    `yaml:"serverCertificate"`
	PrivateKey            string    `yaml:"privateKey"`
	CACertificates        string    `yaml:"caCertificates"`
	CACrl                 string    `yaml:"caCrl"`
	CredentialName        string    `yaml:"credentialName"`
	CredentialNames       []string  `yaml:"credentialNames"`
	TLSCertificates       yaml.Node `yaml:"tlsCertificates"`
	SubjectAltNames       []string  `yaml:"subjectAltNames"`
	VerifyCertificateSpki []string  `yaml:"verifyCertificateSpki"`
	VerifyCertificateHash []string  `yaml:"verifyCertificateHash"`
	MinProtocolVersion    string    `yaml:"minProtocolVersion"`
	MaxProtocolVersion    string    `yaml:"maxProtocolVersion"`
	CipherSuites          []string  `yaml:"cipherSuites"`
}

// virtualServiceSpec is networking.v1alpha3.VirtualService.
type virtualServiceSpec struct {
	Hosts    []string    `yaml:"hosts"`
	Gateways []string    `yaml:"gateways"`
	HTTP     []httpRoute `yaml:"http"`
	TLS      yaml.Node   `yaml:"tls"`
	TCP      yaml.Node   `yaml:"tcp"`
	ExportTo []string    `yaml:"exportTo"`
}

// httpRoute is networking.v1alpha3.HTTPRoute.
type httpRoute struct {
	Name             string              `yaml:"name"`
	Match            []httpMatch         `yaml:"match"`
	Route            []routeDestination  `yaml:"route"`
	Redirect         *httpRedirect       `yaml:"redirect"`
	DirectResponse   *httpDirectResponse `yaml:"directResponse"`
	Delegate         yaml.Node           `yaml:"delegate"`
	Rewrite          *httpRewrite        `yaml:"rewrite"`
	Timeout          *time.Duration      `yaml:"timeout"`
	Retries          *httpRetry          `yaml:"retries"`
	Fault            *httpFault          `yaml:"fault"`
	Mirror           yaml.Node           `yaml:"mirror"`
	Mirrors          yaml.Node           `yaml:"mirrors"`
	MirrorPercent    yaml.Node           `yaml:"mirrorPercent"`
	MirrorPercentage yaml.Node           `yaml:"mirrorPercentage"`
	CORSPolicy       yaml.Node           `yaml:"corsPolicy"`
	Headers          *headers            `yaml:"headers"`
}

// httpMatch is networking.v1alpha3.HTTPMatchRequest. Its fields AND.
type httpMatch struct {
	Name            string                 `yaml:"name"`
	URI             *stringMatch           `yaml:"uri"`
	Scheme          *stringMatch           `yaml:"scheme"`
	Method          *stringMatch           `yaml:"method"`
	Authority       *stringMatch           `yaml:"authority"`
	Headers         map[string]stringMatch `yaml:"headers"`
	Port            int                    `yaml:"port"`
	SourceLabels    map[string]string      `yaml:"sourceLabels"`
	Gateways        []string               `yaml:"gateways"`
	QueryParams     map[string]stringMatch `yaml:"queryParams"`
	IgnoreURICase   bool                   `yaml:"ignoreUriCase"`
	WithoutHeaders  map[string]stringMatch `yaml:"withoutHeaders"`
	SourceNamespace string                 `yaml:"sourceNamespace"`
	StatPrefix      string                 `yaml:"statPrefix"`
}

// stringMatch is networking.v1alpha3.StringMatch: one of the three, or
// none (which Istio reads as "present" in headers and queryParams).
type stringMatch struct {
	Exact  *string `yaml:"exact"`
	Prefix *string `yaml:"prefix"`
	Regex  *string `yaml:"regex"`
}

// routeDestination is networking.v1alpha3.HTTPRouteDestination.
type routeDestination struct {
	Destination *destination `yaml:"destination"`
	Weight      int          `yaml:"weight"`
	Headers     *headers     `yaml:"headers"`
}

// destination is networking.v1alpha3.Destination.
type destination struct {
	Host   string        `yaml:"host"`
	Subset string        `yaml:"subset"`
	Port   *portSelector `yaml:"port"`
}

type portSelector struct {
	Number int `yaml:"number"`
}

// headers is networking.v1alpha3.Headers.
type headers struct {
	Request  *headerOperations `yaml:"request"`
	Response *headerOperations `yaml:"response"`
}

type headerOperations struct {
	Set    map[string]string `yaml:"set"`
	Add    map[string]string `yaml:"add"`
	Remove []string          `yaml:"remove"`
}

// httpRedirect is networking.v1alpha3.HTTPRedirect.
type httpRedirect struct {
	URI          string `yaml:"uri"`
	Authority    string `yaml:"authority"`
	Port         int    `yaml:"port"`
	DerivePort   string `yaml:"derivePort"`
	Scheme       string `yaml:"scheme"`
	RedirectCode int    `yaml:"redirectCode"`
}

// httpDirectResponse is networking.v1alpha3.HTTPDirectResponse.
type httpDirectResponse struct {
	Status int       `yaml:"status"`
	Body   *httpBody `yaml:"body"`
}

type httpBody struct {
	String *string `yaml:"string"`
	Bytes  *string `yaml:"bytes"` // base64, as protobuf's JSON writes bytes
}

// httpRewrite is networking.v1alpha3.HTTPRewrite.
type httpRewrite struct {
	URI             string    `yaml:"uri"`
	Authority       string    `yaml:"authority"`
	URIRegexRewrite yaml.Node `yaml:"uriRegexRewrite"`
}

// httpRetry is networking.v1alpha3.HTTPRetry.
type httpRetry struct {
	Attempts                 int       `yaml:"attempts"`
	PerTryTimeout            yaml.Node `yaml:"perTryTimeout"`
	RetryOn                  yaml.Node `yaml:"retryOn"`
	RetryRemoteLocalities    yaml.Node `yaml:"retryRemoteLocalities"`
	RetryIgnorePreviousHosts yaml.Node `yaml:"retryIgnorePreviousHosts"`
	Backoff                  yaml.Node `yaml:"backoff"`
}

// httpFault is networking.v1alpha3.HTTPFaultInjection.
type httpFault struct {
	Delay yaml.Node   `yaml:"delay"`
	Abort *faultAbort `yaml:"abort"`
}

type faultAbort struct {
	HTTPStatus int       `yaml:"httpStatus"`
	GRPCStatus string    `yaml:"grpcStatus"`
	HTTP2Error string    `yaml:"http2Error"`
	Percentage *percent  `yaml:"percentage"`
	Percent    yaml.Node `yaml:"percent"` // deprecated integer form
}

type percent struct {
	Value float64 `yaml:"value"`
}
