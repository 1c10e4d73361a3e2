package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/authz"
	"jwtgate.dev/jwtgate/internal/metrics"
	"jwtgate.dev/jwtgate/internal/model"
)

// route is a compiled model.Route: its matchers in the form the request
// path compares cheaply, and what runs once it matches.
type route struct {
	name     string
	listener string

	hosts   []hostMatcher // empty: any host
	paths   []pathMatcher // empty: any path
	methods []string      // empty: any method
	headers []headerMatcher
	// headerMatches and query are conditions on headers and query
	// parameters; nil when the route has none.
	headerMatches []valueMatcher
	query         []valueMatcher

	// req authenticates; nil for an open route.
	req *authn.Requirement
	// postAuthz runs authorization before authentication.
	postAuthz bool
	// engine authorizes; nil when no policy applies.
	engine *authz.Engine

	// backend forwards; nil on a route that splits its requests (split)
	// or answers them itself (actions).
	backend *backend
	// split picks a backend per request by weight (routeaction.go); nil
	// for a single backend.
	split *split
	// actions redirect, answer directly, rewrite or change headers
	// (routeaction.go); nil on a route that only forwards.
	actions *actions
	// egress is set on the route of an egress server (egress.go).
	egress *egressRoute

	// corsPreflight lets CORS preflight requests pass authentication
	// (they still meet authorization).
	corsPreflight bool
	// metrics count the route's requests; authnMetrics its
	// authentication outcomes (by the requirement's first provider);
	// policyMetrics its authorization decisions, by policy name ("" for
	// decisions no policy made).
	metrics       *metrics.RouteMetrics
	authnMetrics  map[string]*metrics.ProviderMetrics
	firstProvider *metrics.ProviderMetrics
	policyMetrics map[string]*metrics.PolicyMetrics
}

// hostMatcher is an exact host name or, with wildcard set, a suffix that
// must be preceded by at least one label ("*.example.com" holds
// ".example.com").
type hostMatcher struct {
	name     string
	wildcard bool
	any      bool
}

func compileHost(h string) hostMatcher {
	// Request hosts are compared lower case without a trailing dot;
	// configured ones too.
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	switch {
	case h == "*":
		return hostMatcher{any: true}
	case strings.HasPrefix(h, "*."):
		return hostMatcher{name: h[1:], wildcard: true}
	}
	return hostMatcher{name: h}
}

// match reports whether host (lower case, without port) matches.
func (m hostMatcher) match(host string) bool {
	switch {
	case m.any:
		return true
	case m.wildcard:
		return len(host) > len(m.name) && strings.HasSuffix(host, m.name)
	}
	return host == m.name
}

type pathMatcher struct {
	kind  model.PathMatchKind
	value string
	re    *regexp.Regexp
}

// compilePath compiles one path match. Exact, prefix and segment prefix
// values are brought to the form of a normalized request path
// (model.CanonicalPath), so that "/café" or "/a%3fb" is not a route that
// silently never matches; a segment prefix loses its trailing slash
// ("/foo/" matches what "/foo" does). A regex must match the whole
// normalized path, as Envoy's safe_regex does.
func compilePath(pm model.PathMatch) (pathMatcher, error) {
	m := pathMatcher{kind: pm.Kind, value: pm.Value}
	switch pm.Kind {
	case model.PathExact, model.PathPrefix, model.PathSegmentPrefix:
		v, err := model.CanonicalPath(pm.Value)
		if err != nil {
			return m, fmt.Errorf("path %q can never match a request: %w", pm.Value, err)
		}
		if pm.Kind == model.PathSegmentPrefix && len(v) > 1 {
			v = strings.TrimSuffix(v, "/")
		}
		m.value = v
	case model.PathRegex:
		if _, err := regexp.Compile(pm.Value); err != nil {
			return m, fmt.Errorf("compiling regex: %w", err)
		}
		m.re = regexp.MustCompile(`^(?:` + pm.Value + `)$`)
	default:
		return m, fmt.Errorf("unknown path match kind %q", pm.Kind)
	}
	return m, nil
}

func (m *pathMatcher) match(p string) bool {
	switch m.kind {
	case model.PathExact:
		return p == m.value
	case model.PathPrefix:
		return strings.HasPrefix(p, m.value)
	case model.PathSegmentPrefix:
		// "/foo" matches "/foo" and "/foo/...", not "/foobar"; "/"
		// matches every path.
		return m.value == "/" || strings.HasPrefix(p, m.value) && (len(p) == len(m.value) || p[len(m.value)] == '/')
	}
	return m.re.MatchString(p)
}

// headerMatcher requires a header: present (any value) or one value equal.
type headerMatcher struct {
	name    string // canonical
	value   string
	present bool
}

func compileHeaders(h map[string]string) []headerMatcher {
	out := make([]headerMatcher, 0, len(h))
	for k, v := range h {
		out = append(out, headerMatcher{name: http.CanonicalHeaderKey(k), value: v, present: v == "*"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (m *headerMatcher) match(h http.Header) bool {
	vs, ok := h[m.name]
	if !ok {
		return false
	}
	if m.present {
		return true
	}
	for _, v := range vs {
		if v == m.value {
			return true
		}
	}
	return false
}

// valueMatcher is a compiled model.ValueMatch: a condition on a header
// (name canonical) or a query parameter (name as written).
type valueMatcher struct {
	name   string
	kind   model.ValueKind
	value  string
	re     *regexp.Regexp // kind regex, anchored
	invert bool
}

func compileValueMatch(c model.ValueMatch, header bool) (valueMatcher, error) {
	m := valueMatcher{name: c.Name, kind: c.Kind, value: c.Value, invert: c.Invert}
	if header {
		m.name = http.CanonicalHeaderKey(c.Name)
	}
	switch c.Kind {
	case model.ValueExact, model.ValuePrefix, model.ValueSuffix, model.ValuePresent:
	case model.ValueRegex:
		if _, err := regexp.Compile(c.Value); err != nil {
			return m, fmt.Errorf("compiling regex: %w", err)
		}
		m.re = regexp.MustCompile(`^(?:` + c.Value + `)$`)
	default:
		return m, fmt.Errorf("unknown match kind %q", c.Kind)
	}
	return m, nil
}

// holds reports whether the condition holds for the values of its
// header or parameter (ok: it is there): one value matching is enough
// (present: being there); inverted, none may match.
func (m *valueMatcher) holds(vs []string, ok bool) bool {
	found := false
	if m.kind == model.ValuePresent {
		found = ok
	} else {
		for _, v := range vs {
			if m.matchValue(v) {
				found = true
				break
			}
		}
	}
	return found != m.invert
}

func (m *valueMatcher) matchValue(v string) bool {
	switch m.kind {
	case model.ValueExact:
		return v == m.value
	case model.ValuePrefix:
		return strings.HasPrefix(v, m.value)
	case model.ValueSuffix:
		return strings.HasSuffix(v, m.value)
	case model.ValueRegex:
		return m.re.MatchString(v)
	}
	return false
}

// summarizeValues describes conditions for Explain: "name:kind:value",
// "!" first when inverted.
func summarizeValues(cs []model.ValueMatch) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		s := c.Name + ":" + string(c.Kind)
		if c.Kind != model.ValuePresent {
			s += ":" + c.Value
		}
		if c.Invert {
			s = "!" + s
		}
		out[i] = s
	}
	return strings.Join(out, ",")
}

// matches reports whether the request (host lower-cased without port,
// normalized path) selects the route. q holds the request's query once
// parsed: the first route with query conditions parses it, for the
// routes after it.
func (rt *route) matches(host, path string, r *http.Request, q *url.Values) bool {
	m, _ := rt.mismatch(host, path, r, q)
	return m == matchOK
}

// miss names the part of a route's match a request fails.
type miss uint8

const (
	matchOK miss = iota
	missHost
	missPath
	missMethod
	missHeader      // headers[i]
	missHeaderMatch // headerMatches[i]
	missQuery       // query[i]
)

// mismatch is the one route matcher: it returns the first part of the
// match the request fails, with the index of the failing header or query
// condition, or matchOK (matches uses it; explain words it).
func (rt *route) mismatch(host, path string, r *http.Request, q *url.Values) (miss, int) {
	method, h := r.Method, r.Header
	if len(rt.hosts) > 0 {
		ok := false
		for _, m := range rt.hosts {
			if m.match(host) {
				ok = true
				break
			}
		}
		if !ok {
			return missHost, 0
		}
	}
	if len(rt.paths) > 0 {
		ok := false
		for i := range rt.paths {
			if rt.paths[i].match(path) {
				ok = true
				break
			}
		}
		if !ok {
			return missPath, 0
		}
	}
	if len(rt.methods) > 0 {
		ok := false
		for _, m := range rt.methods {
			if m == method {
				ok = true
				break
			}
		}
		if !ok {
			return missMethod, 0
		}
	}
	for i := range rt.headers {
		if !rt.headers[i].match(h) {
			return missHeader, i
		}
	}
	for i := range rt.headerMatches {
		m := &rt.headerMatches[i]
		vs, ok := h[m.name]
		if !m.holds(vs, ok) {
			return missHeaderMatch, i
		}
	}
	if len(rt.query) > 0 {
		if *q == nil {
			*q = r.URL.Query()
		}
		for i := range rt.query {
			m := &rt.query[i]
			vs, ok := (*q)[m.name]
			if !m.holds(vs, ok) {
				return missQuery, i
			}
		}
	}
	return matchOK, 0
}

// hostOnly returns the host of a Host header without its port, lower
// case. It allocates only when the host has upper-case letters.
func hostOnly(hostport string) string {
	h := hostport
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[1:i]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h[:i], ':') < 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if 'A' <= h[i] && h[i] <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// summary describes the match for Explain.
func summarizeMatch(m model.RouteMatch) string {
	var parts []string
	if len(m.Hosts) > 0 {
		parts = append(parts, "hosts="+strings.Join(m.Hosts, ","))
	}
	if len(m.Paths) > 0 {
		ps := make([]string, len(m.Paths))
		for i, p := range m.Paths {
			ps[i] = string(p.Kind) + ":" + p.Value
		}
		parts = append(parts, "paths="+strings.Join(ps, ","))
	}
	if len(m.Methods) > 0 {
		parts = append(parts, "methods="+strings.Join(m.Methods, ","))
	}
	if len(m.Headers) > 0 {
		hs := make([]string, 0, len(m.Headers))
		for k, v := range m.Headers {
			hs = append(hs, k+"="+v)
		}
		sort.Strings(hs)
		parts = append(parts, "headers="+strings.Join(hs, ","))
	}
	if len(m.HeaderMatches) > 0 {
		parts = append(parts, "headerMatches="+summarizeValues(m.HeaderMatches))
	}
	if len(m.Query) > 0 {
		parts = append(parts, "query="+summarizeValues(m.Query))
	}
	if len(parts) == 0 {
		return "any"
	}
	return strings.Join(parts, " ")
}
