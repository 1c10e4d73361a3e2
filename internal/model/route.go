package model

import "time"

// Default backend settings.
const (
	DefaultBackendTimeout = 15 * time.Second
)

// Route sends matching requests to a backend, under a JWT requirement.
// Routes are tried in order; the first that matches wins.
type Route struct {
	Name string `yaml:"name"`
	// Listener names the listener the route serves on. Dialects fill it in
	// when there is exactly one listener.
	Listener string     `yaml:"listener"`
	Labels   Labels     `yaml:"labels,omitempty"`
	Match    RouteMatch `yaml:"match,omitempty"`
	Backend  Backend    `yaml:"backend"`
	// Backends, when set, split requests across several backends by
	// weight; Backend is then not used.
	Backends []WeightedBackend `yaml:"backends,omitempty"`
	// Actions other than forwarding, and changes to the exchange: see
	// RouteActions.
	RouteActions `yaml:",inline"`
	// JWT is the route's own authentication requirement. Nil means the route
	// is open unless a JWTPolicy attaches one.
	JWT    *JWTRequirement `yaml:"jwt,omitempty"`
	Origin Origin          `yaml:"origin,omitempty"`
}

// RouteMatch selects requests. Every non-empty part must match; inside a
// part any listed value matches.
type RouteMatch struct {
	// Hosts are exact host names or "*.suffix" wildcards, compared without
	// the port and case-insensitively. Empty matches any host.
	Hosts []string `yaml:"hosts,omitempty"`
	// Paths match the normalized path. Empty matches any path.
	Paths []PathMatch `yaml:"paths,omitempty"`
	// Methods are HTTP methods. Empty matches any method.
	Methods []string `yaml:"methods,omitempty"`
	// Headers must all be present; a value of "*" matches any value,
	// otherwise the value must be equal.
	Headers map[string]string `yaml:"headers,omitempty"`
	// HeaderMatches are further conditions on headers; all must hold.
	HeaderMatches []ValueMatch `yaml:"headerMatches,omitempty"`
	// Query are conditions on query parameters; all must hold.
	Query []ValueMatch `yaml:"query,omitempty"`
}

// PathMatchKind says how a PathMatch compares.
type PathMatchKind string

// Path match kinds.
const (
	PathExact  PathMatchKind = "exact"
	PathPrefix PathMatchKind = "prefix"
	PathRegex  PathMatchKind = "regex"
	// PathSegmentPrefix matches the value and whatever continues it after
	// a "/": "/foo" matches "/foo", "/foo/" and "/foo/x", not "/foobar"
	// (Gateway API's PathPrefix).
	PathSegmentPrefix PathMatchKind = "segmentPrefix"
)

// PathMatch is one path pattern.
type PathMatch struct {
	Kind  PathMatchKind `yaml:"kind"`
	Value string        `yaml:"value"`
}

// Backend is where a route forwards requests.
type Backend struct {
	// URL is the upstream base, http:// or https://. Its path, when not
	// empty or "/", is prefixed to the request path.
	URL string `yaml:"url"`
	// Timeout bounds the whole upstream exchange until response headers
	// arrive; it yields 504.
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// CAFile is the CA bundle an https upstream must chain to. Empty means
	// the system roots.
	CAFile string `yaml:"caFile,omitempty"`
	// CertFile and KeyFile, when set, are presented to an https upstream
	// (mutual TLS origination).
	CertFile string `yaml:"certFile,omitempty"`
	KeyFile  string `yaml:"keyFile,omitempty"`
	// ServerName overrides the name verified in the upstream certificate.
	ServerName string `yaml:"serverName,omitempty"`
	// Endpoints, when set, are the addresses ("host:port") connections
	// are made to, spread across them in turn, instead of the URL's host,
	// which still names the upstream for TLS (SNI, the certificate check)
	// and the logs: a Kubernetes Service's ready endpoints, say.
	Endpoints []string `yaml:"endpoints,omitempty"`
	// Unavailable, when set, says why the backend cannot be reached (a
	// Service with no ready endpoint): requests are answered 503 "no
	// healthy upstream" without a connection, as a cluster would, and the
	// reason is logged.
	Unavailable string `yaml:"unavailable,omitempty"`
	// MaxIdleConnsPerHost is how many idle connections to the upstream
	// host are kept for reuse. Zero means DefaultMaxIdleConnsPerHost
	// (256).
	MaxIdleConnsPerHost int `yaml:"maxIdleConnsPerHost,omitempty"`
	// IdleConnTimeout closes a pooled connection left idle this long.
	// Zero means DefaultIdleConnTimeout (90s).
	IdleConnTimeout time.Duration `yaml:"idleConnTimeout,omitempty"`
	// DialTimeout bounds connecting to the upstream; a failure is 503.
	// Zero means DefaultDialTimeout (5s).
	DialTimeout time.Duration `yaml:"dialTimeout,omitempty"`
	// TLSHandshakeTimeout bounds the TLS handshake with an https
	// upstream; a failure is 503. Zero means DefaultTLSHandshakeTimeout
	// (5s).
	TLSHandshakeTimeout time.Duration `yaml:"tlsHandshakeTimeout,omitempty"`
	// BodyIdleTimeout is the longest the upstream's connection may stay
	// silent while the gateway waits for its response (headers or body),
	// or may leave the request body it is sent unread. A response cut by
	// it closes the client's connection and is logged as an upstream
	// failure. Zero means DefaultUpstreamBodyIdleTimeout (5m).
	BodyIdleTimeout time.Duration `yaml:"bodyIdleTimeout,omitempty"`
	// Protocol is the HTTP version spoken to the upstream: BackendHTTP1
	// (the zero value means it too) or BackendHTTP2.
	Protocol BackendProtocol `yaml:"protocol,omitempty"`
}

// BackendProtocol is the HTTP version a backend is spoken to in.
type BackendProtocol string

// Backend protocols.
const (
	// BackendHTTP1 speaks HTTP/1.1, over TLS for an https URL.
	BackendHTTP1 BackendProtocol = "http1"
	// BackendHTTP2 speaks HTTP/2 and nothing else: over TLS (ALPN "h2")
	// for an https URL, in cleartext with prior knowledge (h2c) for an
	// http one. gRPC backends need it; WebSocket upgrades cannot use it.
	BackendHTTP2 BackendProtocol = "http2"
)

// AuthMode is what a requirement does with requests whose token is
// missing or fails verification.
type AuthMode string

// Authentication modes.
const (
	// AuthRequired rejects missing and invalid tokens with 401.
	AuthRequired AuthMode = "required"
	// AuthAllowMissing lets requests without a token through
	// unauthenticated; an invalid token is still 401 (Istio's
	// RequestAuthentication).
	AuthAllowMissing AuthMode = "allowMissing"
	// AuthAllowMissingOrFailed lets every request through; only verified
	// tokens produce an identity and outputs.
	AuthAllowMissingOrFailed AuthMode = "allowMissingOrFailed"
)

// Phase says whether authentication runs before or after authorization.
type Phase string

// Phases.
const (
	PhasePreAuthz  Phase = "preAuthz"
	PhasePostAuthz Phase = "postAuthz"
)

// JWTRequirement is how a route authenticates.
type JWTRequirement struct {
	// Providers a token may verify against.
	Providers []string `yaml:"providers"`
	// RequireAll demands a valid token for each provider instead of any one.
	RequireAll bool     `yaml:"requireAll,omitempty"`
	Mode       AuthMode `yaml:"mode"`
	// Phase places authentication before (default) or after authorization.
	Phase Phase `yaml:"phase,omitempty"`
	// Priority orders steps within a phase: lower runs first.
	Priority int `yaml:"priority,omitempty"`
	// AuthenticatePreflight makes CORS preflight requests (OPTIONS with
	// Origin and Access-Control-Request-Method) meet authentication like
	// any other. False, the default, lets them pass authentication, as
	// browsers send them without credentials; they still meet
	// authorization.
	AuthenticatePreflight bool `yaml:"authenticatePreflight,omitempty"`
}

// JWTPolicy attaches a JWT requirement to routes chosen by name or label
// selector. When several requirements reach one route, the first created
// (the route's own, then JWTPolicies in order) applies and the others are
// reported as not applied.
type JWTPolicy struct {
	Name string `yaml:"name"`
	// Routes names routes. Selector chooses them by label. Neither set means
	// every route.
	Routes      []string          `yaml:"routes,omitempty"`
	Selector    map[string]string `yaml:"selector,omitempty"`
	Requirement JWTRequirement    `yaml:"requirement"`
	Origin      Origin            `yaml:"origin,omitempty"`
}
