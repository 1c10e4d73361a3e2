package gatewayapi

import (
	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/dialect"
)

// The YAML of the Gateway API resources jwtgate reads, key for key (the
// API's JSON field names). Optional scalars are pointers, so that "not
// set" (which takes the API's default) and "set to the zero value" stay
// apart. Fields typed yaml.Node are known but not translated: they are
// either bookkeeping or reported as not served where they are read.

// object is one document of the API.
type object[S any] = dialect.Object[S]

// metadata is an object's metadata.
type metadata = dialect.Metadata

// gatewayClassSpec is the spec of a GatewayClass.
type gatewayClassSpec struct {
	ControllerName string    `yaml:"controllerName"`
	Description    yaml.Node `yaml:"description"`
	ParametersRef  yaml.Node `yaml:"parametersRef"`
}

// gatewaySpec is the spec of a Gateway.
type gatewaySpec struct {
	GatewayClassName string     `yaml:"gatewayClassName"`
	Listeners        []listener `yaml:"listeners"`
	Addresses        yaml.Node  `yaml:"addresses"`
	Infrastructure   *struct {
		Labels        yaml.Node `yaml:"labels"`
		Annotations   yaml.Node `yaml:"annotations"`
		ParametersRef yaml.Node `yaml:"parametersRef"`
	} `yaml:"infrastructure"`
	AllowedListeners yaml.Node `yaml:"allowedListeners"`
	TLS              *struct {
		Backend  yaml.Node `yaml:"backend"`
		Frontend yaml.Node `yaml:"frontend"`
	} `yaml:"tls"`
	DefaultScope yaml.Node `yaml:"defaultScope"`
}

// listener is one entry of a Gateway's listeners.
type listener struct {
	Name          string         `yaml:"name"`
	Hostname      *string        `yaml:"hostname"`
	Port          int            `yaml:"port"`
	Protocol      string         `yaml:"protocol"`
	TLS           *listenerTLS   `yaml:"tls"`
	AllowedRoutes *allowedRoutes `yaml:"allowedRoutes"`
}

// listenerTLS is a listener's tls.
type listenerTLS struct {
	Mode               string            `yaml:"mode"`
	CertificateRefs    []objectRef       `yaml:"certificateRefs"`
	Options            map[string]string `yaml:"options"`
	FrontendValidation yaml.Node         `yaml:"frontendValidation"`
}

// objectRef is a SecretObjectReference or a BackendObjectReference
// without port: group, kind, name and namespace.
type objectRef struct {
	Group     *string `yaml:"group"`
	Kind      *string `yaml:"kind"`
	Name      string  `yaml:"name"`
	Namespace *string `yaml:"namespace"`
}

// allowedRoutes says which routes may attach to a listener.
type allowedRoutes struct {
	Namespaces *struct {
		From     *string        `yaml:"from"`
		Selector *labelSelector `yaml:"selector"`
	} `yaml:"namespaces"`
	Kinds []struct {
		Group *string `yaml:"group"`
		Kind  string  `yaml:"kind"`
	} `yaml:"kinds"`
}

// labelSelector is a Kubernetes LabelSelector.
type labelSelector struct {
	MatchLabels      map[string]string `yaml:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `yaml:"key"`
		Operator string   `yaml:"operator"`
		Values   []string `yaml:"values"`
	} `yaml:"matchExpressions"`
}

// routeCommon is what an HTTPRoute's and a GRPCRoute's specs share:
// where the route attaches, and the hostnames it serves.
type routeCommon struct {
	ParentRefs         []parentRef `yaml:"parentRefs"`
	Hostnames          []string    `yaml:"hostnames"`
	UseDefaultGateways *string     `yaml:"useDefaultGateways"`
}

// httpRouteSpec is the spec of an HTTPRoute.
type httpRouteSpec struct {
	routeCommon `yaml:",inline"`
	Rules       []rule `yaml:"rules"`
}

// parentRef is one of a route's parentRefs.
type parentRef struct {
	Group       *string `yaml:"group"`
	Kind        *string `yaml:"kind"`
	Namespace   *string `yaml:"namespace"`
	Name        string  `yaml:"name"`
	SectionName *string `yaml:"sectionName"`
	Port        *int    `yaml:"port"`
}

// rule is one of an HTTPRoute's rules.
type rule struct {
	Name               *string      `yaml:"name"`
	Matches            []match      `yaml:"matches"`
	Filters            []filter     `yaml:"filters"`
	BackendRefs        []backendRef `yaml:"backendRefs"`
	Timeouts           *timeouts    `yaml:"timeouts"`
	Retry              yaml.Node    `yaml:"retry"`
	SessionPersistence yaml.Node    `yaml:"sessionPersistence"`
}

// match is an HTTPRouteMatch.
type match struct {
	Path        *pathMatch   `yaml:"path"`
	Headers     []valueMatch `yaml:"headers"`
	QueryParams []valueMatch `yaml:"queryParams"`
	Method      *string      `yaml:"method"`
}

// pathMatch is an HTTPPathMatch.
type pathMatch struct {
	Type  *string `yaml:"type"`
	Value *string `yaml:"value"`
}

// valueMatch is an HTTPHeaderMatch or an HTTPQueryParamMatch.
type valueMatch struct {
	Type  *string `yaml:"type"`
	Name  string  `yaml:"name"`
	Value string  `yaml:"value"`
}

// filter is an HTTPRouteFilter.
type filter struct {
	Type                   string          `yaml:"type"`
	RequestHeaderModifier  *headerModifier `yaml:"requestHeaderModifier"`
	ResponseHeaderModifier *headerModifier `yaml:"responseHeaderModifier"`
	RequestRedirect        *redirect       `yaml:"requestRedirect"`
	URLRewrite             *urlRewrite     `yaml:"urlRewrite"`
	RequestMirror          yaml.Node       `yaml:"requestMirror"`
	CORS                   yaml.Node       `yaml:"cors"`
	ExtensionRef           yaml.Node       `yaml:"extensionRef"`
	ExternalAuth           yaml.Node       `yaml:"externalAuth"`
}

// headerModifier is an HTTPHeaderFilter.
type headerModifier struct {
	Set    []header `yaml:"set"`
	Add    []header `yaml:"add"`
	Remove []string `yaml:"remove"`
}

type header struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// redirect is an HTTPRequestRedirectFilter.
type redirect struct {
	Scheme     *string       `yaml:"scheme"`
	Hostname   *string       `yaml:"hostname"`
	Path       *pathModifier `yaml:"path"`
	Port       *int          `yaml:"port"`
	StatusCode *int          `yaml:"statusCode"`
}

// urlRewrite is an HTTPURLRewriteFilter.
type urlRewrite struct {
	Hostname *string       `yaml:"hostname"`
	Path     *pathModifier `yaml:"path"`
}

// pathModifier is an HTTPPathModifier.
type pathModifier struct {
	Type               string  `yaml:"type"`
	ReplaceFullPath    *string `yaml:"replaceFullPath"`
	ReplacePrefixMatch *string `yaml:"replacePrefixMatch"`
}

// backendRef is an HTTPBackendRef.
type backendRef struct {
	objectRef `yaml:",inline"`
	Port      *int     `yaml:"port"`
	Weight    *int     `yaml:"weight"`
	Filters   []filter `yaml:"filters"`
}

// timeouts is an HTTPRouteTimeouts.
type timeouts struct {
	Request        *string `yaml:"request"`
	BackendRequest *string `yaml:"backendRequest"`
}

// referenceGrantSpec is the spec of a ReferenceGrant.
type referenceGrantSpec struct {
	From []struct {
		Group     string `yaml:"group"`
		Kind      string `yaml:"kind"`
		Namespace string `yaml:"namespace"`
	} `yaml:"from"`
	To []struct {
		Group string  `yaml:"group"`
		Kind  string  `yaml:"kind"`
		Name  *string `yaml:"name"`
	} `yaml:"to"`
}
