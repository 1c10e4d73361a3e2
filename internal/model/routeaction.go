package model

// ValueKind says how a ValueMatch compares.
type ValueKind string

// Value match kinds.
const (
	ValueExact   ValueKind = "exact"
	ValuePrefix  ValueKind = "prefix"
	ValueSuffix  ValueKind = "suffix"
	ValueRegex   ValueKind = "regex" // RE2, matching the whole value
	ValuePresent ValueKind = "present"
)

// ValueMatch is a condition on a named header or query parameter: it
// holds when a value of it matches (for ValuePresent, when it is there),
// or, with Invert, when none does. A header's values are matched one by
// one (a repeated header has several); a header's name is compared
// case-insensitively, a query parameter's exactly.
type ValueMatch struct {
	Name   string    `yaml:"name"`
	Kind   ValueKind `yaml:"kind"`
	Value  string    `yaml:"value,omitempty"`
	Invert bool      `yaml:"invert,omitempty"`
}

// WeightedBackend is one backend of a split: it gets Weight parts of the
// requests out of the total of the route's weights. Weight 0 gets none.
type WeightedBackend struct {
	Backend `yaml:",inline"`
	Weight  int `yaml:"weight"`
}

// RouteActions are what a route does instead of forwarding (Redirect,
// DirectResponse: at most one, and then the route has no backend), and
// how it changes the exchange when it forwards.
type RouteActions struct {
	// Redirect answers with a redirect (3xx and Location).
	Redirect *Redirect `yaml:"redirect,omitempty"`
	// DirectResponse answers with a fixed status and body.
	DirectResponse *DirectResponse `yaml:"directResponse,omitempty"`
	// Rewrite changes the host or the path the upstream receives.
	Rewrite *Rewrite `yaml:"rewrite,omitempty"`
	// RequestHeaders change the request's headers before it is
	// forwarded; ResponseHeaders the response's before it is returned.
	// They apply after authentication and authorization, and never to
	// headers the gateway itself sets from tokens.
	RequestHeaders  HeaderOps `yaml:"requestHeaders,omitempty"`
	ResponseHeaders HeaderOps `yaml:"responseHeaders,omitempty"`
}

// HeaderOps change headers: Remove first, then Set (replacing), then Add
// (appending a value).
type HeaderOps struct {
	Set    map[string]string `yaml:"set,omitempty"`
	Add    map[string]string `yaml:"add,omitempty"`
	Remove []string          `yaml:"remove,omitempty"`
}

// Empty reports whether o changes nothing.
func (o HeaderOps) Empty() bool { return len(o.Set) == 0 && len(o.Add) == 0 && len(o.Remove) == 0 }

// PathRewrite replaces the whole path (Full) or the part a prefix match
// matched (Prefix): the route's first prefix or segmentPrefix path that
// matches. Exactly one is set.
type PathRewrite struct {
	Full   string `yaml:"full,omitempty"`
	Prefix string `yaml:"prefix,omitempty"`
}

// Rewrite changes what the upstream receives.
type Rewrite struct {
	// Host replaces the Host header.
	Host string       `yaml:"host,omitempty"`
	Path *PathRewrite `yaml:"path,omitempty"`
}

// Redirect is a redirect answer. Empty fields keep the request's own
// scheme, host, port and path.
type Redirect struct {
	Scheme string       `yaml:"scheme,omitempty"`
	Host   string       `yaml:"host,omitempty"`
	Port   int          `yaml:"port,omitempty"`
	Path   *PathRewrite `yaml:"path,omitempty"`
	// Status is 301, 302, 303, 307 or 308; zero means 302.
	Status int `yaml:"status,omitempty"`
}

// DirectResponse is a fixed answer.
type DirectResponse struct {
	Status int    `yaml:"status"`
	Body   string `yaml:"body,omitempty"`
}
