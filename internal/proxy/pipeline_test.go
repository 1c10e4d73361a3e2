package proxy

import (
	"net/http"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestCORSPreflight: a preflight passes authentication by default (no
// token, no identity) but still meets authorization; with
// authenticatePreflight it is authenticated like any request; an OPTIONS
// request that lacks either preflight header is not a preflight.
func TestCORSPreflight(t *testing.T) {
	echo := newEcho(t)
	cfg := seed004Config(t, echo.URL)
	cfg.Policies = []model.Policy{{
		Name: "no-admin", Action: model.ActionDeny, Routes: []string{"httpbin"},
		Rules: []model.Rule{{To: []model.To{{Paths: []string{"/admin/*"}}}}},
	}}
	strict := *cfg
	strict.JWTPolicies = []model.JWTPolicy{cfg.JWTPolicies[0]}
	strict.JWTPolicies[0].Requirement.AuthenticatePreflight = true

	preflight := map[string]string{"Host": "www.example.com", "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
	tests := []struct {
		name   string
		cfg    *model.Config
		method string
		path   string
		hdr    map[string]string
		status int
	}{
		{"preflight passes authentication", cfg, http.MethodOptions, "/headers", preflight, 200},
		{"preflight meets authorization", cfg, http.MethodOptions, "/admin/x", preflight, 403},
		{"OPTIONS without Access-Control-Request-Method", cfg, http.MethodOptions, "/headers", map[string]string{"Host": "www.example.com", "Origin": "https://app.example.com"}, 401},
		{"OPTIONS without Origin", cfg, http.MethodOptions, "/headers", map[string]string{"Host": "www.example.com", "Access-Control-Request-Method": "POST"}, 401},
		{"GET with preflight headers", cfg, http.MethodGet, "/headers", preflight, 401},
		{"authenticatePreflight", &strict, http.MethodOptions, "/headers", preflight, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := build(t, tt.cfg, Options{})
			res := do(t, rt.Handler("http"), tt.method, "http://www.example.com"+tt.path, tt.hdr)
			if res.status != tt.status {
				t.Fatalf("status %d (%q), want %d", res.status, res.body, tt.status)
			}
			if tt.status == 200 {
				if got := res.echo(t).Header.Get("X-Team"); got != "" {
					t.Errorf("a preflight got claim headers: X-Team %q", got)
				}
			}
		})
	}
}

// TestAmbiguousPaths: paths that backends read differently from the
// gateway are 400 by default; a listener option lets each class through.
func TestAmbiguousPaths(t *testing.T) {
	echo := newEcho(t)
	paths := []struct {
		name, path string
		allow      model.PathOptions
	}{
		{"matrix parameter", "/admin;x=1", model.PathOptions{AllowSemicolons: true}},
		{"encoded hash", "/public%23/../admin", model.PathOptions{AllowEncodedHash: true}},
		{"double encoding", "/public/%252e%252e/admin", model.PathOptions{AllowDoubleEncoding: true}},
		{"trailing encoded space", "/admin%20", model.PathOptions{AllowTrailingEncodedWhitespace: true}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			cfg := oneRoute(echo.URL, model.Route{})
			rt := build(t, cfg, Options{})
			if res := do(t, rt.Handler("web"), "GET", "http://h"+p.path, nil); res.status != 400 || res.body != "" {
				t.Errorf("default: %d %q, want 400 with no body", res.status, res.body)
			}
			cfg = oneRoute(echo.URL, model.Route{})
			cfg.Listeners[0].Paths = p.allow
			rt = build(t, cfg, Options{})
			if res := do(t, rt.Handler("web"), "GET", "http://h"+p.path, nil); res.status != 200 {
				t.Errorf("allowed: %d %q, want 200", res.status, res.body)
			}
		})
	}
}
