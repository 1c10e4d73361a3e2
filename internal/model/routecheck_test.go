package model

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestRouteCheckIssues: each check on header and query conditions,
// segment prefixes, weighted backends, redirects, direct responses,
// rewrites and header changes, with its field path.
func TestRouteCheckIssues(t *testing.T) {
	seg := []PathMatch{{Kind: PathSegmentPrefix, Value: "/api"}}
	withOutputs := func(c *Config) {
		c.Providers[0].ClaimsToHeaders = []ClaimToHeader{{Claim: "team", Header: "x-team"}}
		c.Providers[0].PayloadHeader = "x-payload"
	}
	tests := []struct {
		name   string
		change func(r *Route, c *Config)
		want   string
	}{
		{"valid: every feature", func(r *Route, c *Config) {
			withOutputs(c)
			r.Match.Paths = append(seg, PathMatch{Kind: PathSegmentPrefix, Value: "/"})
			r.Match.HeaderMatches = []ValueMatch{{Name: "x-env", Kind: ValueExact, Value: ""}, {Name: "x-canary", Kind: ValuePresent, Invert: true}, {Name: "ua", Kind: ValueRegex, Value: ".*bot.*", Invert: true}}
			r.Match.Query = []ValueMatch{{Name: "v", Kind: ValueSuffix, Value: "2"}}
			r.Backend = Backend{}
			r.Backends = []WeightedBackend{{Backend: Backend{URL: "http://a"}, Weight: 1}, {Backend: Backend{URL: "http://b"}, Weight: 0}}
			r.Rewrite = &Rewrite{Host: "[::1]:8080", Path: &PathRewrite{Prefix: "/v2/"}}
			r.RequestHeaders = HeaderOps{Set: map[string]string{"x-a": "1\t2"}, Add: map[string]string{"X-B": "c"}, Remove: []string{"x-c", "Authorization"}}
			r.ResponseHeaders = HeaderOps{Set: map[string]string{"Content-Type": "text/html", "X-Forwarded-For": "x"}}
		}, ``},
		{"segment prefix must start with a slash", func(r *Route, _ *Config) {
			r.Match.Paths = []PathMatch{{Kind: PathSegmentPrefix, Value: "api"}}
		}, `a.yaml:10: routes[0].match.paths[0]: invalid path "api": must start with "/" (route "r")`},
		{"header conditions", func(r *Route, c *Config) {
			withOutputs(c)
			r.Match.HeaderMatches = []ValueMatch{
				{Kind: ValuePresent}, {Name: "bad name", Kind: ValuePresent}, {Name: "host", Kind: ValueExact, Value: "a"},
				{Name: "connection", Kind: ValuePresent}, {Name: "X-Team", Kind: ValueExact, Value: "dev"},
				{Name: "x", Kind: "contains", Value: "a"}, {Name: "x", Kind: ValueRegex, Value: "a("},
				{Name: "x", Kind: ValuePrefix}, {Name: "x", Kind: ValuePresent, Value: "y"},
			}
		}, `a.yaml:10: routes[0].match.headerMatches[0].name: required (route "r")
a.yaml:10: routes[0].match.headerMatches[1].name: invalid header name "bad name" (route "r")
a.yaml:10: routes[0].match.headerMatches[2].name: the host is matched by match.hosts, not as a header (route "r")
a.yaml:10: routes[0].match.headerMatches[3].name: header "connection" is hop-by-hop: the gateway removes it, a route cannot match on it (route "r")
a.yaml:10: routes[0].match.headerMatches[4].name: header "X-Team" is set by the gateway from tokens (provider "p"): a client's value is removed, so a route cannot match on it (use a policy on the claim) (route "r")
a.yaml:10: routes[0].match.headerMatches[5].kind: invalid kind "contains" (want exact, prefix, suffix, regex or present) (route "r")
a.yaml:10: routes[0].match.headerMatches[6].value: invalid regex "a(": missing closing ) (route "r")
a.yaml:10: routes[0].match.headerMatches[7].value: an empty prefix matches every value: use kind present (route "r")
a.yaml:10: routes[0].match.headerMatches[8].value: not used with kind present (route "r")`},
		{"query conditions", func(r *Route, _ *Config) {
			r.Match.Query = []ValueMatch{{Kind: ValueExact, Value: "1"}, {Name: "a", Kind: ValueSuffix}}
		}, `a.yaml:10: routes[0].match.query[0].name: required (route "r")
a.yaml:10: routes[0].match.query[1].value: an empty suffix matches every value: use kind present (route "r")`},
		{"weighted backends", func(r *Route, _ *Config) {
			r.Backends = []WeightedBackend{{Backend: Backend{URL: "ftp://a"}, Weight: -1}, {Backend: Backend{URL: "http://b", CertFile: "c.pem"}, Weight: MaxBackendWeight + 1}}
		}, `a.yaml:10: warning: routes[0].backend: not used: backends is set (route "r")
a.yaml:10: routes[0].backends[0].url: invalid URL "ftp://a": scheme must be http or https (route "r")
a.yaml:10: routes[0].backends[0].weight: must not be negative, got -1 (route "r")
a.yaml:10: routes[0].backends[1].keyFile: required with certFile (route "r")
a.yaml:10: routes[0].backends[1].weight: at most 1000000, got 1000001 (route "r")
a.yaml:10: routes[0].backends: the weights add up to 0: no backend would get a request (route "r")`},
		{"no target at all", func(r *Route, _ *Config) { r.Backend = Backend{} },
			`a.yaml:10: routes[0].backend.url: required (route "r")`},
		{"redirect", func(r *Route, _ *Config) {
			r.Backends = []WeightedBackend{{Backend: Backend{URL: "http://a"}, Weight: 1}}
			r.Redirect = &Redirect{Status: 200, Scheme: "ftp", Host: "a.example:80", Port: -1, Path: &PathRewrite{Prefix: "/x"}}
			r.DirectResponse = &DirectResponse{Status: 200}
			r.Rewrite = &Rewrite{Host: "x"}
			r.RequestHeaders = HeaderOps{Set: map[string]string{"x-a": "b"}}
		}, `a.yaml:10: routes[0].directResponse: give redirect or directResponse, not both (route "r")
a.yaml:10: routes[0].backend: not with redirect: the route answers itself (route "r")
a.yaml:10: routes[0].backends: not with redirect: the route answers itself (route "r")
a.yaml:10: routes[0].redirect.status: invalid redirect status 200 (want 301, 302, 303, 307 or 308) (route "r")
a.yaml:10: routes[0].redirect.scheme: invalid scheme "ftp" (want http or https) (route "r")
a.yaml:10: routes[0].redirect.host: invalid host "a.example:80" (want a host name or an IP address, without a port: see redirect.port) (route "r")
a.yaml:10: routes[0].redirect.port: invalid port -1 (route "r")
a.yaml:10: routes[0].redirect.path.prefix: replaces the part of the path a prefix matched: the route needs a prefix or segmentPrefix path (route "r")
a.yaml:10: routes[0].rewrite: only for a route that forwards: this one answers with its redirect or direct response (route "r")
a.yaml:10: warning: routes[0].requestHeaders: not used: the route answers with its redirect or direct response and forwards nothing (route "r")`},
		{"redirect that changes nothing", func(r *Route, _ *Config) {
			r.Backend = Backend{}
			r.Redirect = &Redirect{Status: 301}
		}, `a.yaml:10: warning: routes[0].redirect: changes nothing: the Location is the request's own URL, and clients that follow it loop (route "r")`},
		{"redirect paths", func(r *Route, _ *Config) {
			r.Backend = Backend{}
			r.Match.Paths = seg
			r.Redirect = &Redirect{Host: "::1", Path: &PathRewrite{Full: "/a?b"}}
		}, `a.yaml:10: routes[0].redirect.path.full: invalid path "/a?b": a path has no query or fragment (the request's query is kept) (route "r")`},
		{"direct response", func(r *Route, _ *Config) {
			r.Backend = Backend{}
			r.DirectResponse = &DirectResponse{Status: 304, Body: "x"}
		}, `a.yaml:10: routes[0].directResponse.body: a 304 response has no body (route "r")`},
		{"direct response status and size", func(r *Route, _ *Config) {
			r.Backend = Backend{}
			r.DirectResponse = &DirectResponse{Status: 600, Body: strings.Repeat("x", MaxDirectResponseBody+1)}
		}, `a.yaml:10: routes[0].directResponse.status: invalid status 600 (want 200 to 599) (route "r")
a.yaml:10: routes[0].directResponse.body: 65537 bytes: at most 65536 (route "r")`},
		{"rewrite", func(r *Route, _ *Config) {
			r.Rewrite = &Rewrite{Host: "a b", Path: &PathRewrite{Full: "/a", Prefix: "/b"}}
		}, `a.yaml:10: routes[0].rewrite.host: invalid host "a b" (want a host name or an IP address, with an optional :port) (route "r")
a.yaml:10: routes[0].rewrite.path: give full or prefix, not both (route "r")`},
		{"rewrite paths", func(r *Route, _ *Config) {
			r.Match.Paths = []PathMatch{{Kind: PathPrefix, Value: "/a"}}
			r.Rewrite = &Rewrite{Path: &PathRewrite{Prefix: "v2"}}
		}, `a.yaml:10: routes[0].rewrite.path.prefix: invalid path "v2": must start with "/" (route "r")`},
		{"rewrite unsafe path, empty rewrite", func(r *Route, _ *Config) {
			r.Rewrite = &Rewrite{Path: &PathRewrite{Full: "/a%2Fb"}}
		}, `a.yaml:10: routes[0].rewrite.path.full: invalid path "/a%2Fb": path cannot be normalized safely (route "r")`},
		{"empty rewrite and path", func(r *Route, _ *Config) {
			r.Rewrite = &Rewrite{Path: &PathRewrite{}}
		}, `a.yaml:10: routes[0].rewrite.path: give full or prefix (route "r")`},
		{"request headers", func(r *Route, c *Config) {
			withOutputs(c)
			r.RequestHeaders = HeaderOps{
				Set:    map[string]string{"x-team": "a", "Host": "h", "x-ok": "a\r\nb", "X-OK": "c", "bad name": "x"},
				Add:    map[string]string{"Transfer-Encoding": "x", "x-forwarded-proto": "https"},
				Remove: []string{"X-Payload", "content-length", ""},
			}
		}, `a.yaml:10: routes[0].requestHeaders.set.Host: the Host header is changed by rewrite.host (route "r")
a.yaml:10: routes[0].requestHeaders.set["bad name"]: invalid header name "bad name" (route "r")
a.yaml:10: routes[0].requestHeaders.set.x-ok: header "x-ok" is also given as "X-OK" (route "r")
a.yaml:10: routes[0].requestHeaders.set.x-ok: invalid value for header "x-ok": control characters (such as a line break) are not allowed (route "r")
a.yaml:10: routes[0].requestHeaders.set.x-team: header "x-team" is set by the gateway from tokens (provider "p"): a route cannot change it (route "r")
a.yaml:10: routes[0].requestHeaders.add.Transfer-Encoding: header "Transfer-Encoding" belongs to the connection or the message framing: it cannot be changed (route "r")
a.yaml:10: routes[0].requestHeaders.add.x-forwarded-proto: header "x-forwarded-proto" is set by the gateway on every forwarded request (route "r")
a.yaml:10: routes[0].requestHeaders.remove[0]: header "X-Payload" is set by the gateway from tokens (provider "p"): a route cannot change it (route "r")
a.yaml:10: routes[0].requestHeaders.remove[1]: header "content-length" belongs to the connection or the message framing: it cannot be changed (route "r")
a.yaml:10: routes[0].requestHeaders.remove[2]: empty header name (route "r")`},
		{"response headers", func(r *Route, _ *Config) {
			r.ResponseHeaders = HeaderOps{Set: map[string]string{"Connection": "close"}, Remove: []string{"Content-Length"}}
		}, `a.yaml:10: routes[0].responseHeaders.set.Connection: header "Connection" belongs to the connection or the message framing: it cannot be changed (route "r")
a.yaml:10: routes[0].responseHeaders.remove[0]: header "Content-Length" belongs to the connection or the message framing: it cannot be changed (route "r")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c.Routes[0], c)
			if got := texts(c.Validate()); got != tt.want {
				t.Errorf("issues:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestCoversConditions: a route with header or query conditions covers
// only routes that have the same conditions; segment prefixes cover what
// lies at or below them.
func TestCoversConditions(t *testing.T) {
	seg := func(v string) PathMatch { return PathMatch{Kind: PathSegmentPrefix, Value: v} }
	pre := func(v string) PathMatch { return PathMatch{Kind: PathPrefix, Value: v} }
	ex := func(v string) PathMatch { return PathMatch{Kind: PathExact, Value: v} }
	h := func(name, v string) ValueMatch { return ValueMatch{Name: name, Kind: ValueExact, Value: v} }
	tests := []struct {
		name       string
		earlier, m RouteMatch
		want       bool
	}{
		{"header condition covers nothing without it", RouteMatch{HeaderMatches: []ValueMatch{h("x-a", "1")}}, RouteMatch{}, false},
		{"same header condition, name case-insensitive", RouteMatch{HeaderMatches: []ValueMatch{h("x-a", "1")}}, RouteMatch{HeaderMatches: []ValueMatch{h("b", "2"), h("X-A", "1")}}, true},
		{"inverted differs", RouteMatch{HeaderMatches: []ValueMatch{h("x-a", "1")}}, RouteMatch{HeaderMatches: []ValueMatch{{Name: "x-a", Kind: ValueExact, Value: "1", Invert: true}}}, false},
		{"later conditions only narrow the later route", RouteMatch{}, RouteMatch{HeaderMatches: []ValueMatch{h("x-a", "1")}, Query: []ValueMatch{h("q", "1")}}, true},
		{"query names are exact", RouteMatch{Query: []ValueMatch{h("q", "1")}}, RouteMatch{Query: []ValueMatch{h("Q", "1")}}, false},
		{"same query condition", RouteMatch{Query: []ValueMatch{h("q", "1")}}, RouteMatch{Query: []ValueMatch{h("q", "1")}}, true},
		{"segment covers itself and below", RouteMatch{Paths: []PathMatch{seg("/foo")}}, RouteMatch{Paths: []PathMatch{ex("/foo"), ex("/foo/x"), pre("/foo/x"), seg("/foo/"), seg("/foo/bar")}}, true},
		{"segment does not cover a character prefix", RouteMatch{Paths: []PathMatch{seg("/foo")}}, RouteMatch{Paths: []PathMatch{pre("/foo")}}, false},
		{"segment does not cover a longer segment", RouteMatch{Paths: []PathMatch{seg("/foo")}}, RouteMatch{Paths: []PathMatch{ex("/foobar")}}, false},
		{"segment / covers everything", RouteMatch{Paths: []PathMatch{seg("/")}}, RouteMatch{Paths: []PathMatch{pre("/x"), ex("/"), seg("/a")}}, true},
		{"prefix covers a segment under it", RouteMatch{Paths: []PathMatch{pre("/fo")}}, RouteMatch{Paths: []PathMatch{seg("/foo")}}, true},
		{"prefix with a slash does not cover the segment itself", RouteMatch{Paths: []PathMatch{pre("/foo/")}}, RouteMatch{Paths: []PathMatch{seg("/foo")}}, false},
		{"exact does not cover a segment", RouteMatch{Paths: []PathMatch{ex("/foo")}}, RouteMatch{Paths: []PathMatch{seg("/foo")}}, false},
	}
	for _, tt := range tests {
		if got := covers(tt.earlier, tt.m); got != tt.want {
			t.Errorf("%s: covers = %v", tt.name, got)
		}
	}
}

// TestCoversSegmentsSound: whenever covers says an earlier path match
// covers a later one, every sample path the later matches, the earlier
// matches too.
func TestCoversSegmentsSound(t *testing.T) {
	values := []string{"/", "/a", "/a/", "/a/b", "/ab", "/a/b/", "/b"}
	samples := []string{"/", "/a", "/a/", "/a/b", "/a/bc", "/ab", "/a/b/c", "/b", "/b/a", "/abc"}
	kinds := []PathMatchKind{PathExact, PathPrefix, PathSegmentPrefix}
	matches := func(p PathMatch, s string) bool {
		switch p.Kind {
		case PathExact:
			return s == p.Value
		case PathPrefix:
			return strings.HasPrefix(s, p.Value)
		}
		v := strings.TrimSuffix(p.Value, "/")
		return v == "" || s == v || strings.HasPrefix(s, v+"/")
	}
	for _, qk := range kinds {
		for _, qv := range values {
			for _, pk := range kinds {
				for _, pv := range values {
					q, p := PathMatch{Kind: qk, Value: qv}, PathMatch{Kind: pk, Value: pv}
					if !pathCovers(q, p) {
						continue
					}
					for _, s := range samples {
						if matches(p, s) && !matches(q, s) {
							t.Errorf("%v covers %v, but %q matches only the second", q, p, s)
						}
					}
				}
			}
		}
	}
}

// TestShadowIndexSegments is TestShadowIndex with segment prefixes and
// header conditions in the tables.
func TestShadowIndexSegments(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(list ...string) string { return list[rng.IntN(len(list))] }
	for round := range 200 {
		var routes []Route
		for i := range 30 {
			r := Route{Name: strconv.Itoa(i), Listener: "a"}
			for range rng.IntN(3) {
				kind := []PathMatchKind{PathExact, PathPrefix, PathSegmentPrefix}[rng.IntN(3)]
				r.Match.Paths = append(r.Match.Paths, PathMatch{Kind: kind, Value: pick("/", "/a", "/a/", "/a/b", "/ab", "/b")})
			}
			if rng.IntN(4) == 0 {
				r.Match.HeaderMatches = []ValueMatch{{Name: pick("x-a", "X-A", "x-b"), Kind: ValueExact, Value: "1"}}
			}
			routes = append(routes, r)
		}
		var x shadowIndex
		for i, r := range routes {
			want := -1
			for j, e := range routes[:i] {
				if covers(e.Match, r.Match) {
					want = j
					break
				}
			}
			if got := x.first(r, routes); got != want {
				t.Fatalf("round %d, route %d %+v: first = %d, want %d", round, i, r, got, want)
			}
			x.add(i, r)
		}
	}
}
