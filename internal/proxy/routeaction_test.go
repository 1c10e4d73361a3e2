package proxy

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

func segPaths(vs ...string) []model.PathMatch {
	out := make([]model.PathMatch, len(vs))
	for i, v := range vs {
		out[i] = model.PathMatch{Kind: model.PathSegmentPrefix, Value: v}
	}
	return out
}

// serve sends one request through h; tls marks it as arriving over TLS.
func serve(t testing.TB, h http.Handler, method, target string, hdr http.Header, overTLS bool) response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = "192.0.2.10:40000"
	for k, vs := range hdr {
		if k == "Host" {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	if overTLS {
		req.TLS = &tls.ConnectionState{}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// TestRedirect: the Location is the request's URL with the configured
// parts replaced; the status defaults to 302; the route's authentication
// still comes first, and its response headers are added.
func TestRedirect(t *testing.T) {
	echo := newEcho(t)
	redirectRoute := func(name string, paths []model.PathMatch, rd model.Redirect) model.Route {
		return model.Route{Name: name, Listener: "http", Match: model.RouteMatch{Hosts: []string{"*"}, Paths: paths}, RouteActions: model.RouteActions{Redirect: &rd}}
	}
	cfg := seed004Config(t, echo.URL)
	cfg.Providers[0].ForwardToken = true
	cfg.Routes = append([]model.Route{
		redirectRoute("plain", []model.PathMatch{{Kind: model.PathExact, Value: "/plain"}}, model.Redirect{Path: &model.PathRewrite{Full: "/elsewhere"}}),
		redirectRoute("https", segPaths("/secure"), model.Redirect{Scheme: "https", Status: 301}),
		redirectRoute("host", segPaths("/moved"), model.Redirect{Host: "new.example", Status: 308}),
		redirectRoute("port", segPaths("/port"), model.Redirect{Scheme: "https", Port: 8443, Status: 307}),
		redirectRoute("to-http", segPaths("/down"), model.Redirect{Scheme: "http", Status: 303}),
		redirectRoute("prefix", segPaths("/foo"), model.Redirect{Path: &model.PathRewrite{Prefix: "/bar"}}),
		redirectRoute("prefix-root", segPaths("/strip"), model.Redirect{Path: &model.PathRewrite{Prefix: "/"}}),
		redirectRoute("plain-prefix", []model.PathMatch{{Kind: model.PathPrefix, Value: "/pp"}}, model.Redirect{Path: &model.PathRewrite{Prefix: "/qq"}}),
		redirectRoute("ipv6", segPaths("/v6"), model.Redirect{Host: "::1"}),
		{Name: "protected", Listener: "http", Match: model.RouteMatch{Paths: segPaths("/tok")},
			RouteActions: model.RouteActions{Redirect: &model.Redirect{Path: &model.PathRewrite{Full: "/next"}}, ResponseHeaders: model.HeaderOps{Set: map[string]string{"Cache-Control": "no-store"}}},
			JWT:          &model.JWTRequirement{Providers: []string{"selfminted"}, Mode: model.AuthRequired}},
	}, cfg.Routes...)
	var logs logBuffer
	s := startServer(t, build(t, cfg, Options{Logger: logs.logger()}), nil)
	base := "http://" + s.Addr("http").String()
	h := build(t, cfg, Options{}).Handler("http")
	token := readTestdata(t, "seed004.jwt")

	tests := []struct {
		name     string
		target   string
		host     string
		tls      bool
		status   int
		location string
	}{
		{"full path, status 302, query kept", "/plain?a=1&b=%20", "www.example.com", false, 302, "http://www.example.com/elsewhere?a=1&b=%20"},
		{"scheme: a non-default port is kept", "/secure/x", "www.example.com:8080", false, 301, "https://www.example.com:8080/secure/x"},
		{"scheme: the old scheme's default port is dropped", "/secure/x", "www.example.com:80", false, 301, "https://www.example.com/secure/x"},
		{"scheme: no port", "/secure", "www.example.com", false, 301, "https://www.example.com/secure"},
		{"over TLS the scheme is https; the default port is left out", "/plain", "h.example:443", true, 302, "https://h.example/elsewhere"},
		{"https to http", "/down/x", "h.example:443", true, 303, "http://h.example/down/x"},
		{"host replaced, port kept", "/moved/a?q=1", "old.example:8080", false, 308, "http://new.example:8080/moved/a?q=1"},
		{"port", "/port", "h.example", false, 307, "https://h.example:8443/port"},
		{"segment prefix replaced", "/foo/x", "h", false, 302, "http://h/bar/x"},
		{"segment prefix: the prefix itself", "/foo", "h", false, 302, "http://h/bar"},
		{"segment prefix: trailing slash", "/foo/", "h", false, 302, "http://h/bar/"},
		{"segment prefix replaced by /", "/strip/x/y", "h", false, 302, "http://h/x/y"},
		{"segment prefix replaced by /: the prefix itself", "/strip", "h", false, 302, "http://h/"},
		{"plain prefix replaced as characters", "/ppx/y", "h", false, 302, "http://h/qqx/y"},
		{"normalized path", "/a/../foo/./x", "h", false, 302, "http://h/bar/x"},
		{"IPv6 host in brackets", "/v6", "h:8080", false, 302, "http://[::1]:8080/v6"},
		{"no Host: a relative Location", "/foo/x?a=1", "", false, 302, "/bar/x?a=1"},
		{"no Host, a host configured", "/moved", "", false, 308, "http://new.example/moved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := serve(t, h, "GET", tt.target, http.Header{"Host": {tt.host}}, tt.tls)
			if res.status != tt.status || res.header.Get("Location") != tt.location {
				t.Fatalf("got %d Location %q, want %d %q", res.status, res.header.Get("Location"), tt.status, tt.location)
			}
			if res.body != "" || res.header.Get("Content-Length") != "0" {
				t.Errorf("body %q, Content-Length %q", res.body, res.header.Get("Content-Length"))
			}
		})
	}

	// Over the wire, on a route with a JWT requirement.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Run("authentication comes first", func(t *testing.T) {
		res := get(t, client, base+"/tok", nil)
		assertResponse(t, res, 401, "Jwt is missing")
		if res.header.Get("Location") != "" || res.header.Get("Cache-Control") != "" {
			t.Errorf("a rejected request got the route's redirect headers: %v", res.header)
		}
	})
	t.Run("a token in the query never reaches the Location", func(t *testing.T) {
		res := get(t, client, base+"/tok?a=1&access_token="+token+"&b=2", map[string]string{"Host": "h.example"})
		if res.status != 302 || res.header.Get("Location") != "http://h.example/next?a=1&b=2" {
			t.Fatalf("got %d Location %q", res.status, res.header.Get("Location"))
		}
		if res.header.Get("Cache-Control") != "no-store" {
			t.Errorf("response headers not applied to the redirect: %v", res.header)
		}
	})
	checkLogs(t, &logs, token, []map[string]any{
		{"route": "protected", "status": 401.0, "authn": "missing"},
		{"route": "protected", "status": 302.0, "authn": "verified", "reason": "redirect", "upstream": ""},
	})
}

// TestDirectResponse: a fixed text/plain answer, after authorization, with
// the route's response headers (which may replace Content-Type).
func TestDirectResponse(t *testing.T) {
	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "web", Address: "127.0.0.1:0"}},
		Routes: []model.Route{
			{Name: "down", Listener: "web", Match: model.RouteMatch{Paths: segPaths("/down")}, RouteActions: model.RouteActions{
				DirectResponse:  &model.DirectResponse{Status: 503, Body: "down for maintenance"},
				ResponseHeaders: model.HeaderOps{Set: map[string]string{"Retry-After": "120"}, Add: map[string]string{"Vary": "X-A"}},
			}},
			{Name: "html", Listener: "web", Match: model.RouteMatch{Paths: segPaths("/html")}, RouteActions: model.RouteActions{
				DirectResponse:  &model.DirectResponse{Status: 200, Body: "<p>hi</p>"},
				ResponseHeaders: model.HeaderOps{Set: map[string]string{"Content-Type": "text/html"}, Remove: []string{"X-Content-Type-Options"}},
			}},
			{Name: "empty", Listener: "web", Match: model.RouteMatch{Paths: segPaths("/empty")}, RouteActions: model.RouteActions{DirectResponse: &model.DirectResponse{Status: 204}}},
			{Name: "denied", Listener: "web", Match: model.RouteMatch{Paths: segPaths("/denied")}, RouteActions: model.RouteActions{DirectResponse: &model.DirectResponse{Status: 200, Body: "ok"}}},
		},
		Policies: []model.Policy{{Name: "deny", Action: model.ActionDeny, Routes: []string{"denied"}, Rules: []model.Rule{{To: []model.To{{Methods: []string{"POST"}}}}}}},
	}
	var logs logBuffer
	s := startServer(t, build(t, cfg, Options{Logger: logs.logger()}), nil)
	base := "http://" + s.Addr("web").String()

	res := get(t, nil, base+"/down/x", nil)
	assertResponse(t, res, 503, "down for maintenance")
	for k, v := range map[string]string{"Content-Length": "20", "X-Content-Type-Options": "nosniff", "Retry-After": "120", "Vary": "X-A"} {
		if got := res.header.Get(k); got != v {
			t.Errorf("%s %q, want %q", k, got, v)
		}
	}
	res = get(t, nil, base+"/html", nil)
	if res.status != 200 || res.body != "<p>hi</p>" || res.header.Get("Content-Type") != "text/html" || res.header.Get("X-Content-Type-Options") != "" {
		t.Errorf("html: %d %q %v", res.status, res.body, res.header)
	}
	res = get(t, nil, base+"/empty", nil)
	if res.status != 204 || res.body != "" || res.header.Get("Content-Type") != "" {
		t.Errorf("empty: %d %q %v", res.status, res.body, res.header)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/denied", nil)
	pres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pres.Body.Close()
	if pres.StatusCode != 403 {
		t.Errorf("a policy DENY: %d, want 403", pres.StatusCode)
	}
	checkLogs(t, &logs, "no token", []map[string]any{
		{"route": "down", "status": 503.0, "reason": "direct response", "upstream": ""},
		{"route": "html", "status": 200.0},
		{"route": "empty", "status": 204.0},
		{"route": "denied", "status": 403.0, "policy": "deny"},
	})
}

// TestSplit: requests are spread by weight, a zero weight gets none, the
// access log names the backend chosen, and a split that cannot choose
// answers 503.
func TestSplit(t *testing.T) {
	echo := newEcho(t)
	weighted := func(path string, w int) model.WeightedBackend {
		return model.WeightedBackend{Backend: model.Backend{URL: echo.URL + path}, Weight: w}
	}
	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "web", Address: "127.0.0.1:0"}},
		Routes: []model.Route{
			{Name: "split", Listener: "web", Match: model.RouteMatch{Paths: segPaths("/s")}, Backends: []model.WeightedBackend{weighted("/a", 3), weighted("/b", 1), weighted("/c", 0)}},
			// Not valid (validation refuses a zero total), but built.
			{Name: "none", Listener: "web", Match: model.RouteMatch{Paths: segPaths("/none")}, Backends: []model.WeightedBackend{weighted("/a", 0)}},
			{Name: "unavailable", Listener: "web", Match: model.RouteMatch{Paths: segPaths("/u")}, Backends: []model.WeightedBackend{
				{Backend: model.Backend{URL: "http://svc.example", Unavailable: "no ready endpoint"}, Weight: 1}, weighted("/a", 0)}},
		},
	}
	var logs logBuffer
	h := build(t, cfg, Options{Logger: logs.logger()}).Handler("web")
	const n = 2000
	counts := map[string]int{}
	for range n {
		res := do(t, h, "GET", "/s/x", nil)
		if res.status != 200 {
			t.Fatalf("status %d %q", res.status, res.body)
		}
		counts[strings.SplitN(res.echo(t).RequestURI, "/", 3)[1]]++
	}
	// 3:1 out of 2000: 1500 expected for a, standard deviation about 19.
	if counts["a"] < 1400 || counts["a"] > 1600 || counts["a"]+counts["b"] != n || counts["c"] != 0 {
		t.Errorf("counts %v, want about 1500 a, 500 b and no c", counts)
	}
	ups := map[string]int{}
	for _, line := range logs.access(t) {
		ups[line["upstream"].(string)]++
	}
	if ups[echo.URL+"/a"] != counts["a"] || ups[echo.URL+"/b"] != counts["b"] {
		t.Errorf("access log upstreams %v, counts %v", ups, counts)
	}

	assertResponse(t, do(t, h, "GET", "/none", nil), 503, "no healthy upstream")
	assertResponse(t, do(t, h, "GET", "/u", nil), 503, "no healthy upstream")
}

// TestRewrite: the upstream receives the rewritten Host (X-Forwarded-Host
// stays the client's) and path, with the query kept, after the backend's
// own base path.
func TestRewrite(t *testing.T) {
	echo := newEcho(t)
	rw := func(name string, paths []model.PathMatch, base string, r model.Rewrite) model.Route {
		return model.Route{Name: name, Listener: "web", Match: model.RouteMatch{Paths: paths}, Backend: model.Backend{URL: echo.URL + base}, RouteActions: model.RouteActions{Rewrite: &r}}
	}
	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "web", Address: "127.0.0.1:0"}},
		Routes: []model.Route{
			rw("host", segPaths("/host"), "", model.Rewrite{Host: "api.internal:8443"}),
			rw("full", segPaths("/full"), "", model.Rewrite{Path: &model.PathRewrite{Full: "/new/place"}}),
			rw("prefix", []model.PathMatch{{Kind: model.PathExact, Value: "/exact"}, {Kind: model.PathSegmentPrefix, Value: "/api/"}}, "", model.Rewrite{Path: &model.PathRewrite{Prefix: "/v2"}}),
			rw("root", segPaths("/root"), "", model.Rewrite{Path: &model.PathRewrite{Prefix: "/"}}),
			rw("base", segPaths("/based"), "/base", model.Rewrite{Path: &model.PathRewrite{Prefix: "/v3/"}}),
			rw("plain", []model.PathMatch{{Kind: model.PathPrefix, Value: "/pp"}}, "", model.Rewrite{Path: &model.PathRewrite{Prefix: "/qq/"}}),
			rw("both", segPaths("/both"), "", model.Rewrite{Host: "b.internal", Path: &model.PathRewrite{Full: "/"}}),
		},
	}
	s := startServer(t, build(t, cfg, Options{}), nil)
	base := "http://" + s.Addr("web").String()
	tests := []struct {
		name, target, host, xfh, uri string
	}{
		{"host", "/host/x?q=1", "api.internal:8443", "www.example.com", "/host/x?q=1"},
		{"full path, query kept", "/full/a/b?q=1&r=2", "www.example.com", "www.example.com", "/new/place?q=1&r=2"},
		{"segment prefix", "/api/users?x=1", "www.example.com", "www.example.com", "/v2/users?x=1"},
		{"segment prefix: itself", "/api", "www.example.com", "www.example.com", "/v2"},
		{"the route's exact path is kept", "/exact", "www.example.com", "www.example.com", "/exact"},
		{"prefix replaced by /", "/root/a", "www.example.com", "www.example.com", "/a"},
		{"after the backend's path", "/based/x", "www.example.com", "www.example.com", "/base/v3/x"},
		{"plain prefix, no doubled slash", "/pp/x", "www.example.com", "www.example.com", "/qq/x"},
		{"plain prefix, characters", "/ppx", "www.example.com", "www.example.com", "/qq/x"},
		{"plain prefix, the result normalized", "/pp..", "www.example.com", "www.example.com", "/"},
		{"host and path", "/both/x", "b.internal", "www.example.com", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, nil, base+tt.target, map[string]string{"Host": "www.example.com"})
			if res.status != 200 {
				t.Fatalf("status %d %q", res.status, res.body)
			}
			e := res.echo(t)
			if e.Host != tt.host || e.RequestURI != tt.uri || e.Header.Get("X-Forwarded-Host") != tt.xfh {
				t.Errorf("upstream saw Host %q URI %q X-Forwarded-Host %q, want %q %q %q", e.Host, e.RequestURI, e.Header.Get("X-Forwarded-Host"), tt.host, tt.uri, tt.xfh)
			}
		})
	}
}

// TestHeaderChanges: request headers change after the outputs are added
// (so a token's claim headers stay as the token says); response headers
// change the upstream's response, not the gateway's own answers.
func TestHeaderChanges(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "secret-version")
		w.Header().Set("X-Keep", "a")
		echoHandler(w, r)
	}))
	t.Cleanup(up.Close)
	cfg := seed004Config(t, up.URL)
	for i := range cfg.Routes {
		cfg.Routes[i].RequestHeaders = model.HeaderOps{
			Set:    map[string]string{"X-Route": "r1", "Authorization": "Basic dXA6c2VjcmV0"},
			Add:    map[string]string{"X-Multi": "b"},
			Remove: []string{"X-Debug"},
		}
		cfg.Routes[i].ResponseHeaders = model.HeaderOps{
			Set:    map[string]string{"X-Frame-Options": "DENY"},
			Add:    map[string]string{"X-Keep": "b"},
			Remove: []string{"X-Upstream"},
		}
	}
	s := startServer(t, build(t, cfg, Options{}), nil)
	base := "http://" + s.Addr("http").String()
	token := readTestdata(t, "seed004.jwt")

	res := get(t, nil, base+"/headers", map[string]string{
		"Host": "www.example.com", "Authorization": "Bearer " + token,
		"X-Team": "spoofed", "X-Multi": "a", "X-Debug": "1",
	})
	if res.status != 200 {
		t.Fatalf("status %d %q", res.status, res.body)
	}
	e := res.echo(t)
	if got := e.Header.Values("X-Team"); len(got) != 1 || got[0] != "dev" {
		t.Errorf("X-Team %q, want the token's [dev]", got)
	}
	for k, want := range map[string][]string{
		"X-Route": {"r1"}, "X-Multi": {"a", "b"}, "X-Debug": nil,
		// Set after the token was removed: the upstream's own credential.
		"Authorization": {"Basic dXA6c2VjcmV0"},
	} {
		if got := e.Header.Values(k); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("upstream saw %s %q, want %q", k, got, want)
		}
	}
	if got := res.header.Values("X-Keep"); strings.Join(got, "|") != "a|b" {
		t.Errorf("response X-Keep %q", got)
	}
	if res.header.Get("X-Upstream") != "" || res.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("response headers %v", res.header)
	}

	res = get(t, nil, base+"/headers", map[string]string{"Host": "www.example.com"})
	assertResponse(t, res, 401, "Jwt is missing")
	if res.header.Get("X-Frame-Options") != "" {
		t.Errorf("the gateway's own 401 got the route's response headers")
	}
}
