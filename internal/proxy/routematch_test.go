package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestRouteConditions checks header and query conditions and segment
// prefixes through the route table, with a real upstream: every route
// forwards under its own path prefix, so the upstream's request URI says
// which route matched.
func TestRouteConditions(t *testing.T) {
	echo := newEcho(t)
	seg := func(v string) []model.PathMatch { return []model.PathMatch{{Kind: model.PathSegmentPrefix, Value: v}} }
	hm := func(name string, kind model.ValueKind, value string, invert bool) model.ValueMatch {
		return model.ValueMatch{Name: name, Kind: kind, Value: value, Invert: invert}
	}
	r := func(name string, m model.RouteMatch) model.Route {
		return model.Route{Name: name, Listener: "web", Match: m, Backend: model.Backend{URL: echo.URL + "/" + name}}
	}
	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "web", Address: "127.0.0.1:0"}},
		Routes: []model.Route{
			r("exact", model.RouteMatch{Paths: seg("/h/exact"), HeaderMatches: []model.ValueMatch{hm("x-env", model.ValueExact, "prod", false)}}),
			r("prefix", model.RouteMatch{Paths: seg("/h/prefix"), HeaderMatches: []model.ValueMatch{hm("X-Env", model.ValuePrefix, "pro", false)}}),
			r("suffix", model.RouteMatch{Paths: seg("/h/suffix"), HeaderMatches: []model.ValueMatch{hm("x-env", model.ValueSuffix, "od", false)}}),
			r("regex", model.RouteMatch{Paths: seg("/h/regex"), HeaderMatches: []model.ValueMatch{hm("x-version", model.ValueRegex, `v[0-9]+`, false)}}),
			r("present", model.RouteMatch{Paths: seg("/h/present"), HeaderMatches: []model.ValueMatch{hm("x-canary", model.ValuePresent, "", false)}}),
			r("absent", model.RouteMatch{Paths: seg("/h/absent"), HeaderMatches: []model.ValueMatch{hm("x-canary", model.ValuePresent, "", true)}}),
			r("not-bot", model.RouteMatch{Paths: seg("/h/notbot"), HeaderMatches: []model.ValueMatch{hm("user-agent", model.ValueRegex, `.*bot.*`, true)}}),
			r("both", model.RouteMatch{Paths: seg("/h/both"), HeaderMatches: []model.ValueMatch{hm("x-a", model.ValueExact, "1", false), hm("x-b", model.ValueExact, "2", false)}}),
			r("q-exact", model.RouteMatch{Paths: seg("/q/exact"), Query: []model.ValueMatch{hm("debug", model.ValueExact, "a b", false)}}),
			r("q-present", model.RouteMatch{Paths: seg("/q/present"), Query: []model.ValueMatch{hm("v", model.ValuePresent, "", false)}}),
			r("q-not", model.RouteMatch{Paths: seg("/q/not"), Query: []model.ValueMatch{hm("v", model.ValueExact, "1", true)}}),
			r("q-regex", model.RouteMatch{Paths: seg("/q/regex"), Query: []model.ValueMatch{hm("id", model.ValueRegex, `[0-9]+`, false)}}),
			r("q-name-exact", model.RouteMatch{Paths: seg("/q/name"), Query: []model.ValueMatch{hm("Mode", model.ValueExact, "x", false)}}),
			r("seg", model.RouteMatch{Paths: seg("/foo")}),
			r("seg-slash", model.RouteMatch{Paths: seg("/bar/")}),
			r("seg-encoded", model.RouteMatch{Paths: seg("/caf%c3%a9")}),
			r("all", model.RouteMatch{Paths: seg("/")}),
		},
	}
	h := build(t, cfg, Options{}).Handler("web")

	tests := []struct {
		name   string
		target string
		hdr    http.Header
		want   string
	}{
		{"header exact", "/h/exact", http.Header{"X-Env": {"prod"}}, "exact"},
		{"header exact is exact", "/h/exact", http.Header{"X-Env": {"production"}}, "all"},
		{"header exact, any of a repeated header", "/h/exact", http.Header{"X-Env": {"dev", "prod"}}, "exact"},
		{"header absent", "/h/exact", nil, "all"},
		{"header prefix, name case-insensitive", "/h/prefix", http.Header{"X-Env": {"production"}}, "prefix"},
		{"header suffix", "/h/suffix", http.Header{"X-Env": {"prod"}}, "suffix"},
		{"header regex matches the whole value", "/h/regex", http.Header{"X-Version": {"v12"}}, "regex"},
		{"header regex is anchored", "/h/regex", http.Header{"X-Version": {"xv12"}}, "all"},
		{"header present, empty value", "/h/present", http.Header{"X-Canary": {""}}, "present"},
		{"header present: absent", "/h/present", nil, "all"},
		{"inverted present: absent", "/h/absent", nil, "absent"},
		{"inverted present: present", "/h/absent", http.Header{"X-Canary": {"1"}}, "all"},
		{"inverted regex: no match", "/h/notbot", http.Header{"User-Agent": {"curl"}}, "not-bot"},
		{"inverted regex: absent header holds", "/h/notbot", http.Header{"User-Agent": nil}, "not-bot"},
		{"inverted regex: match", "/h/notbot", http.Header{"User-Agent": {"googlebot/2"}}, "all"},
		{"inverted: one of several values matches", "/h/notbot", http.Header{"User-Agent": {"curl", "a-bot"}}, "all"},
		{"conditions AND: both", "/h/both", http.Header{"X-A": {"1"}, "X-B": {"2"}}, "both"},
		{"conditions AND: one", "/h/both", http.Header{"X-A": {"1"}}, "all"},
		{"query exact, decoded", "/q/exact?debug=a+b", nil, "q-exact"},
		{"query exact, percent-decoded", "/q/exact?x=1&debug=a%20b", nil, "q-exact"},
		{"query exact: other value", "/q/exact?debug=ab", nil, "all"},
		{"query present, empty", "/q/present?v", nil, "q-present"},
		{"query present: absent", "/q/present?w=1", nil, "all"},
		{"query inverted: absent", "/q/not", nil, "q-not"},
		{"query inverted: other value", "/q/not?v=2", nil, "q-not"},
		{"query inverted: repeated, one matches", "/q/not?v=2&v=1", nil, "all"},
		{"query regex", "/q/regex?id=42", nil, "q-regex"},
		{"query regex anchored", "/q/regex?id=42a", nil, "all"},
		{"query names are exact", "/q/name?mode=x", nil, "all"},
		{"query name exact", "/q/name?Mode=x", nil, "q-name-exact"},
		{"segment prefix: itself", "/foo", nil, "seg"},
		{"segment prefix: trailing slash", "/foo/", nil, "seg"},
		{"segment prefix: below", "/foo/x/y", nil, "seg"},
		{"segment prefix: not a longer segment", "/foobar", nil, "all"},
		{"segment prefix: normalized path", "/x/../foo//y", nil, "seg"},
		{"segment prefix written with a slash", "/bar", nil, "seg-slash"},
		{"segment prefix written with a slash, below", "/bar/x", nil, "seg-slash"},
		{"segment prefix written with a slash, not barx", "/barx", nil, "all"},
		{"segment prefix in canonical form", "/caf%C3%A9/x", nil, "seg-encoded"},
		{"/ matches every path", "/anything/at/all", nil, "all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.target, nil)
			for k, vs := range tt.hdr {
				if vs == nil {
					req.Header.Del(k)
					continue
				}
				req.Header[k] = vs
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
			if res.status != http.StatusOK {
				t.Fatalf("status %d, body %q", res.status, res.body)
			}
			if uri := res.echo(t).RequestURI; !strings.HasPrefix(uri, "/"+tt.want+"/") {
				t.Fatalf("upstream saw %q, want route %s", uri, tt.want)
			}
		})
	}
}

// TestConditionMatchAllocs: header conditions and segment prefixes cost
// no allocation on the request path; only a query condition parses the
// query, once per request however many routes have one.
func TestConditionMatchAllocs(t *testing.T) {
	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "web", Address: "127.0.0.1:0"}},
		Routes: []model.Route{
			{Name: "h", Listener: "web", Backend: model.Backend{URL: "http://127.0.0.1:1"}, Match: model.RouteMatch{
				Paths:         []model.PathMatch{{Kind: model.PathSegmentPrefix, Value: "/api"}},
				HeaderMatches: []model.ValueMatch{{Name: "x-env", Kind: model.ValueRegex, Value: "pr.d"}, {Name: "x-canary", Kind: model.ValuePresent, Invert: true}},
			}},
			{Name: "q1", Listener: "web", Backend: model.Backend{URL: "http://127.0.0.1:1"}, Match: model.RouteMatch{Query: []model.ValueMatch{{Name: "a", Kind: model.ValueExact, Value: "1"}}}},
			{Name: "q2", Listener: "web", Backend: model.Backend{URL: "http://127.0.0.1:1"}, Match: model.RouteMatch{Query: []model.ValueMatch{{Name: "b", Kind: model.ValueExact, Value: "1"}}}},
			{Name: "rest", Listener: "web", Backend: model.Backend{URL: "http://127.0.0.1:1"}},
		},
	}
	l := build(t, cfg, Options{}).byName["web"]
	req := httptest.NewRequest(http.MethodGet, "/api/x?c=1", nil)
	req.Header.Set("X-Env", "prod")
	if got := l.match("h", "/api/x", req); got == nil || got.name != "h" {
		t.Fatalf("matched %v, want h", got)
	}
	if n := testing.AllocsPerRun(100, func() { l.match("h", "/api/x", req) }); n != 0 {
		t.Errorf("header conditions: %v allocations, want 0", n)
	}
	req.Header.Set("X-Env", "dev")
	var q url.Values
	want := testing.AllocsPerRun(100, func() { q = req.URL.Query() })
	_ = q
	if got := l.match("h", "/api/x", req); got == nil || got.name != "rest" {
		t.Fatalf("matched %v, want rest", got)
	}
	if n := testing.AllocsPerRun(100, func() { l.match("h", "/api/x", req) }); n != want {
		t.Errorf("two routes with query conditions: %v allocations, want %v (one parse of the query)", n, want)
	}
}
