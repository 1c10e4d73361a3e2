package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"jwtgate.dev/jwtgate/internal/metrics"
	"jwtgate.dev/jwtgate/internal/model"
)

func explainOf(t *testing.T, rt *Runtime, req ExplainRequest) *ExplainReport {
	t.Helper()
	rep, err := rt.ExplainRequest(context.Background(), req)
	if err != nil {
		t.Fatalf("ExplainRequest: %v", err)
	}
	return rep
}

// TestExplainSendsNothing: an allowed request is recorded at the
// transport, with the headers the upstream would receive (claim headers,
// X-Forwarded-*, the token removed), and the upstream receives nothing;
// the same request served does reach it. Explaining counts in no metric.
func TestExplainSendsNothing(t *testing.T) {
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(up.Close)
	m := metrics.New()
	rt := build(t, seed004Config(t, up.URL), Options{Metrics: m})
	token := readTestdata(t, "seed004.jwt")
	scrape := func() string { // the gateway's own series
		w := httptest.NewRecorder()
		m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		var own []string
		for _, l := range strings.Split(w.Body.String(), "\n") {
			if strings.HasPrefix(l, "jwtgate_") {
				own = append(own, l)
			}
		}
		return strings.Join(own, "\n")
	}
	before := scrape()

	rep := explainOf(t, rt, ExplainRequest{URL: "http://www.example.com/headers?x=1", Header: http.Header{"Authorization": {"Bearer " + token}}})
	if hits.Load() != 0 {
		t.Fatalf("explaining sent %d requests upstream", hits.Load())
	}
	if after := scrape(); after != before {
		t.Errorf("explaining changed the metrics:\n%s", lineDiff(before, after))
	}
	u := rep.Upstream
	if !rep.Answer.Forwarded || u == nil {
		t.Fatalf("not forwarded:\n%s", rep.Text())
	}
	if u.Method != "GET" || u.URL != up.URL+"/headers?x=1" || u.Host != "www.example.com" || u.Backend != up.URL {
		t.Errorf("upstream %s %s host %s backend %s", u.Method, u.URL, u.Host, u.Backend)
	}
	if u.Header.Get("X-Team") != "dev" || u.Header.Get("X-Org") != "solo.io" || u.Header.Get("X-Jwt-Payload") == "" ||
		u.Header.Get("Authorization") != "" || u.Header.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Errorf("upstream headers %v", u.Header)
	}
	if rep.Route != "httpbin" || rep.Authn == nil || rep.Authn.Outcome != "verified" || rep.Authn.Tokens[0].VerifiedBy != "selfminted" {
		t.Errorf("route %q authn %+v", rep.Route, rep.Authn)
	}

	r := httptest.NewRequest("GET", "http://www.example.com/headers", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	rt.Handler("http").ServeHTTP(w, r)
	if w.Code != http.StatusOK || hits.Load() != 1 {
		t.Errorf("served: %d, upstream hits %d; want 200 and 1", w.Code, hits.Load())
	}
	if scrape() == before {
		t.Error("serving changed no metric either: the metrics check proves nothing")
	}
}

// TestExplainRedacts: tokens and credentials never appear in the report,
// wherever the request carries them (a forwarded token, a query
// parameter, a cookie, a policy condition on a header) and whatever
// route takes them.
func TestExplainRedacts(t *testing.T) {
	token := readTestdata(t, "seed004.jwt")
	cfg := seed004Config(t, "http://127.0.0.1:1")
	p := &cfg.Providers[0]
	p.ForwardToken = true
	p.From = []model.TokenSource{{Header: "Authorization", Prefix: "Bearer "}, {Query: "access_token"}, {Cookie: "session"}}
	cfg.Policies = []model.Policy{{Name: "hdr", Action: model.ActionAllow, Routes: []string{"httpbin"},
		Rules: []model.Rule{{When: []model.Condition{{Kind: model.CondHeader, Name: "authorization", Values: []string{"Basic *"}}}}}}}
	rt := build(t, cfg, Options{})
	tests := []struct {
		name    string
		url     string
		header  http.Header
		secrets []string
		status  int // 0: forwarded
	}{
		{"forwarded header token", "http://www.example.com/a", http.Header{"Authorization": {"Bearer " + token}}, []string{token}, 403},
		{"query token", "http://www.example.com/a?access_token=" + token, nil, []string{token}, 403},
		{"cookie token", "http://www.example.com/a", http.Header{"Cookie": {"theme=dark; session=" + token}}, []string{token}, 403},
		{"basic credentials on an open route", "http://x/open/a", http.Header{"Authorization": {"Basic dXNlcjpwYXNzd29yZA=="}, "Cookie": {"sid=s3cr3t-value"}}, []string{"dXNlcjpwYXNzd29yZA==", "s3cr3t-value"}, 0},
		{"token to an open route", "http://x/open/a?access_token=" + token, http.Header{"Authorization": {"Bearer " + token}}, []string{token}, 0},
		{"token in a header no provider reads", "http://x/open/a?t=" + token, http.Header{"X-Token": {"v=" + token}}, []string{token}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := explainOf(t, rt, ExplainRequest{URL: tt.url, Header: tt.header})
			b, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			text := rep.Text()
			for _, s := range tt.secrets {
				if strings.Contains(string(b), s) || strings.Contains(text, s) {
					t.Errorf("the report shows a secret:\n%s", text)
				}
			}
			if tt.status == 0 && !rep.Answer.Forwarded || tt.status != 0 && rep.Answer.Status != tt.status {
				t.Errorf("answer %+v, want %d", rep.Answer, tt.status)
			}
		})
	}
}

// TestExplainRouteMisses: each route tried before the one chosen says
// which part of its match the request failed, with the request's value.
func TestExplainRouteMisses(t *testing.T) {
	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "web", Address: "127.0.0.1:8080"}},
		Routes: []model.Route{
			{Name: "host", Match: model.RouteMatch{Hosts: []string{"*.internal.example", "api.example.com"}}},
			{Name: "method", Match: model.RouteMatch{Methods: []string{"POST", "PUT"}}},
			{Name: "header", Match: model.RouteMatch{Headers: map[string]string{"x-env": "prod"}}},
			{Name: "present", Match: model.RouteMatch{Headers: map[string]string{"x-debug": "*"}}},
			{Name: "regex", Match: model.RouteMatch{HeaderMatches: []model.ValueMatch{{Name: "user-agent", Kind: model.ValueRegex, Value: ".*bot.*", Invert: true}}}},
			{Name: "query", Match: model.RouteMatch{Query: []model.ValueMatch{{Name: "version", Kind: model.ValueExact, Value: "2"}}}},
			{Name: "path", Match: model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathExact, Value: "/exact"}, {Kind: model.PathRegex, Value: "/v[0-9]+"}}}},
			{Name: "rest"},
		},
	}
	for i := range cfg.Routes {
		cfg.Routes[i].Listener = "web"
		cfg.Routes[i].Backend.URL = "http://127.0.0.1:1"
	}
	rt := build(t, cfg, Options{})
	rep := explainOf(t, rt, ExplainRequest{URL: "http://www.example.com/x?version=1&version=3", Header: http.Header{"X-Env": {"dev"}, "User-Agent": {"a-bot/1"}}})
	want := []string{
		`host "www.example.com" is not one of [*.internal.example, api.example.com]`,
		`method GET is not one of [POST, PUT]`,
		`header X-Env must be "prod"; the request has ["dev"]`,
		`header X-Debug is absent (the route requires it)`,
		`header condition !User-Agent:regex:.*bot.* does not hold; the request has ["a-bot/1"]`,
		`query condition version:exact:2 does not hold; the request has ["1", "3"]`,
		`path "/x" matches none of [exact:/exact, regex:/v[0-9]+]`,
	}
	if rep.Route != "rest" || len(rep.Misses) != len(want) {
		t.Fatalf("route %q, misses %+v", rep.Route, rep.Misses)
	}
	for i, w := range want {
		if rep.Misses[i].Reason != w {
			t.Errorf("miss %d (%s): %q, want %q", i, rep.Misses[i].Route, rep.Misses[i].Reason, w)
		}
	}
	// Every route but the last misses for the reason given, and the
	// matcher agrees with mismatch.
	l := rt.byName["web"]
	for _, c := range l.routes {
		r := httptest.NewRequest("GET", "/x?version=1", nil)
		var q1, q2 = r.URL.Query(), r.URL.Query()
		m, _ := c.mismatch("www.example.com", "/x", r, &q1)
		if (m == matchOK) != c.matches("www.example.com", "/x", r, &q2) {
			t.Errorf("route %s: mismatch and matches disagree", c.name)
		}
	}
}

// TestExplainPeer: the peer's SPIFFE ID and the remote address reach the
// policies as a client certificate and a connection would bring them.
func TestExplainPeer(t *testing.T) {
	cfg := oneRoute("http://127.0.0.1:1", model.Route{})
	cfg.Policies = []model.Policy{{Name: "mesh", Action: model.ActionAllow, Routes: []string{"r"},
		Rules: []model.Rule{{From: []model.From{{Namespaces: []string{"default"}, RemoteIPBlocks: []string{"10.0.0.0/8"}}}}}}}
	rt := build(t, cfg, Options{})
	rep := explainOf(t, rt, ExplainRequest{URL: "/", PeerSPIFFE: "spiffe://cluster.local/ns/default/sa/sleep", RemoteAddr: "10.1.2.3"})
	if !rep.Answer.Forwarded || rep.Authz == nil || rep.Authz.PeerPrincipal != "cluster.local/ns/default/sa/sleep" || rep.Authz.ClientAddress != "10.1.2.3" {
		t.Errorf("with a peer: %s", rep.Text())
	}
	if len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "plain HTTP") {
		t.Errorf("notes %v, want one on the plain HTTP listener", rep.Notes)
	}
	rep = explainOf(t, rt, ExplainRequest{URL: "/", RemoteAddr: "10.1.2.3:5555"})
	if rep.Answer.Status != http.StatusForbidden || len(rep.Policies) != 1 || !strings.Contains(rep.Policies[0].Rules[0].Why, `namespaces [default] does not match peer namespace "" (no client certificate)`) {
		t.Errorf("without a peer: %s", rep.Text())
	}
}

// TestExplainRequestErrors: requests that cannot be explained are
// errors, never a report.
func TestExplainRequestErrors(t *testing.T) {
	cfg := oneRoute("http://127.0.0.1:1", model.Route{})
	cfg.Listeners = append(cfg.Listeners, model.Listener{Name: "admin", Address: "127.0.0.1:9443"})
	rt := build(t, cfg, Options{})
	tests := []struct {
		req  ExplainRequest
		want string
	}{
		{ExplainRequest{Method: "GE T", URL: "/"}, "not an HTTP method"},
		{ExplainRequest{Method: "CONNECT", URL: "/"}, "CONNECT is not explained"},
		{ExplainRequest{URL: "x/y", Listener: "web"}, "a path starting with /"},
		{ExplainRequest{URL: "http://u:p@x/", Listener: "web"}, "user information"},
		{ExplainRequest{URL: "/", Listener: "web", Header: http.Header{"Bad Name": {"x"}}}, "header name"},
		{ExplainRequest{URL: "/", Listener: "web", Header: http.Header{"X": {"a\r\nb"}}}, "CR, LF or NUL"},
		{ExplainRequest{URL: "/", Listener: "nope"}, `no listener "nope"`},
		{ExplainRequest{URL: "http://x/"}, "several listeners"},
		{ExplainRequest{URL: "/", Listener: "web", RemoteAddr: "x"}, "want IP"},
	}
	for _, tt := range tests {
		rep, err := rt.ExplainRequest(context.Background(), tt.req)
		if err == nil || rep != nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want an error with %q", tt.req, err, tt.want)
		}
	}
	// The port picks the listener when the URL names it.
	if rep, err := rt.ExplainRequest(context.Background(), ExplainRequest{URL: "http://x:9443/"}); err != nil || rep.Listener != "admin" {
		t.Errorf("by port: %v %v", rep, err)
	}
}

// TestExplainBackends: a backend marked unavailable answers 503 without
// a request; a weighted split says which backend this request went to.
func TestExplainBackends(t *testing.T) {
	cfg := oneRoute("http://127.0.0.1:1", model.Route{})
	cfg.Routes[0].Backend.Unavailable = "no endpoints"
	cfg.Routes = append(cfg.Routes, model.Route{Name: "split", Listener: "web", Match: model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/split"}}},
		Backends: []model.WeightedBackend{{Backend: model.Backend{URL: "http://127.0.0.1:2"}, Weight: 1}}})
	cfg.Routes[0], cfg.Routes[1] = cfg.Routes[1], cfg.Routes[0]
	rt := build(t, cfg, Options{})
	rep := explainOf(t, rt, ExplainRequest{URL: "/"})
	if rep.Answer.Status != http.StatusServiceUnavailable || rep.Upstream != nil || rep.Answer.Reason != "upstream unavailable" {
		t.Errorf("unavailable: %s", rep.Text())
	}
	rep = explainOf(t, rt, ExplainRequest{URL: "/split/a"})
	if rep.Upstream == nil || rep.Upstream.Backend != "http://127.0.0.1:2" || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "splits") {
		t.Errorf("split: %s", rep.Text())
	}
}

// TestMemWriter: the explanation's writer keeps the headers as sent and
// bounds the body.
func TestMemWriter(t *testing.T) {
	w := newMemWriter()
	w.Header().Set("A", "1")
	w.WriteHeader(http.StatusTeapot)
	w.Header().Set("B", "2")
	_, _ = io.WriteString(w, strings.Repeat("x", maxExplainBody+10))
	if w.status != http.StatusTeapot || w.sent.Get("A") != "1" || w.sent.Get("B") != "" || w.body.Len() != maxExplainBody || !w.truncated {
		t.Errorf("status %d sent %v body %d truncated %v", w.status, w.sent, w.body.Len(), w.truncated)
	}
}

// lineDiff lists the lines of b that a does not have.
func lineDiff(a, b string) string {
	have := map[string]bool{}
	for _, l := range strings.Split(a, "\n") {
		have[l] = true
	}
	var out []string
	for _, l := range strings.Split(b, "\n") {
		if !have[l] {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// FuzzExplainRequest: whatever the admin console's form or the command
// line hands ExplainRequest, it answers an error or a report, never
// panics, and the report never shows the token it was given.
func FuzzExplainRequest(f *testing.F) {
	token := readTestdata(f, "seed004.jwt")
	rt := build(f, seed004Config(f, "http://127.0.0.1:1"), Options{})
	f.Add("GET", "http://www.example.com/headers?a=1", "Bearer "+token, "127.0.0.1", "")
	f.Add("post", "/open/x/../y", "Basic abc", "[::1]:80", "spiffe://td/ns/a/sa/b")
	f.Add("", "https://www.example.com/%2e%2e/%zz", "", "", "spiffe://")
	f.Add("GET", "http://[::1]:99999/", "Bearer a b", "1.2.3.4:5", "spiffe://x/y")
	f.Fuzz(func(t *testing.T, method, url, auth, remote, peer string) {
		rep, err := rt.ExplainRequest(context.Background(), ExplainRequest{Method: method, URL: url, Header: http.Header{"Authorization": {auth}}, RemoteAddr: remote, PeerSPIFFE: peer})
		if err != nil {
			return
		}
		text := rep.Text()
		if strings.Contains(text, token) {
			t.Errorf("the report shows the token")
		}
	})
}

// TestExplainRewrites: the route's host and path rewrites and header
// changes are in the request the upstream would receive, and its
// response header changes in the answer.
func TestExplainRewrites(t *testing.T) {
	r := model.Route{Match: model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/old"}}}}
	r.Rewrite = &model.Rewrite{Host: "internal.example", Path: &model.PathRewrite{Prefix: "/new"}}
	r.RequestHeaders = model.HeaderOps{Set: map[string]string{"x-env": "prod"}, Remove: []string{"x-debug"}}
	r.ResponseHeaders = model.HeaderOps{Set: map[string]string{"x-frame-options": "DENY"}}
	rt := build(t, oneRoute("http://127.0.0.1:1/base", r), Options{})
	rep := explainOf(t, rt, ExplainRequest{URL: "http://www.example.com/old/page?q=1", Header: http.Header{"X-Debug": {"1"}}})
	u := rep.Upstream
	if u == nil || u.URL != "http://127.0.0.1:1/base/new/page?q=1" || u.Host != "internal.example" ||
		u.Header.Get("X-Env") != "prod" || u.Header.Get("X-Debug") != "" || u.Header.Get("X-Forwarded-Host") != "www.example.com" {
		t.Fatalf("upstream %+v", u)
	}
	if rep.Answer.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("answer headers %v, want the route's X-Frame-Options", rep.Answer.Header)
	}
}

// TestExplainPhases: a postAuthz requirement and a CORS preflight are
// noted, so that the order of the stages shown is not misread.
func TestExplainPhases(t *testing.T) {
	cfg := seed004Config(t, "http://127.0.0.1:1")
	cfg.JWTPolicies[0].Requirement.Phase = model.PhasePostAuthz
	rt := build(t, cfg, Options{})
	rep := explainOf(t, rt, ExplainRequest{URL: "http://www.example.com/"})
	if rep.Answer.Status != http.StatusUnauthorized || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "postAuthz") {
		t.Errorf("postAuthz: %s", rep.Text())
	}
	cfg = seed004Config(t, "http://127.0.0.1:1")
	rt = build(t, cfg, Options{})
	rep = explainOf(t, rt, ExplainRequest{Method: "OPTIONS", URL: "http://www.example.com/", Header: http.Header{"Origin": {"https://a.example"}, "Access-Control-Request-Method": {"GET"}}})
	if !rep.Answer.Forwarded || rep.Authn != nil || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "preflight") {
		t.Errorf("preflight: %s", rep.Text())
	}
}

// TestExplainGRPC: a gRPC request the gateway refuses is explained with
// the answer a gRPC client gets (200, grpc-status 16), as serve sends it.
func TestExplainGRPC(t *testing.T) {
	rt := build(t, seed004Config(t, "http://127.0.0.1:1"), Options{})
	h := http.Header{"Content-Type": {"application/grpc"}}
	rep := explainOf(t, rt, ExplainRequest{Method: "POST", URL: "http://www.example.com/grpc.health.v1.Health/Check", Header: h})
	a := rep.Answer
	if a.Status != http.StatusOK || a.Header.Get("Grpc-Status") != "16" || a.Header.Get("Grpc-Message") != "Jwt is missing" {
		t.Errorf("explained answer %d %v, want 200 with grpc-status 16:\n%s", a.Status, a.Header, rep.Text())
	}
	r := httptest.NewRequest("POST", "http://www.example.com/grpc.health.v1.Health/Check", nil)
	r.Header = h.Clone()
	w := httptest.NewRecorder()
	rt.Handler("http").ServeHTTP(w, r)
	if w.Code != a.Status || w.Header().Get("Grpc-Status") != a.Header.Get("Grpc-Status") {
		t.Errorf("served %d grpc-status %q; explained %d %q", w.Code, w.Header().Get("Grpc-Status"), a.Status, a.Header.Get("Grpc-Status"))
	}
}
