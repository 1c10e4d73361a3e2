package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/proxy"
)

// TestRouteActionErrors: every check on header and query conditions,
// segment prefixes, weighted backends, redirects, direct responses,
// rewrites and header changes, reported once at its file, line and
// field, as `jwtgate validate` shows it.
func TestRouteActionErrors(t *testing.T) {
	const head = "apiVersion: jwtgate.dev/v1alpha1\nkind: Config\nlisteners:\n  - name: web\n    address: 127.0.0.1:8080\n" +
		"providers:\n  - name: p\n    jwks: {inline: '{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k\",\"x\":\"GGsZR3N0a7oyZparsLTnWqDooeDkRdtE2ZVz5mP6Fwc\"}]}'}\n    claimsToHeaders: [{claim: team, header: x-team}]\nroutes:\n  - name: r\n"
	tests := []struct {
		name  string
		route string
		want  []string
	}{
		{"conditions", `    match:
      paths: [/exact]
      pathPrefix: ["/ok", "no-slash"]
      headerMatches:
        - {name: x-team, exact: dev}
        - {name: x-a, regex: "a("}
        - {name: x-b, prefix: ""}
        - {name: host, present: true}
      query:
        - {name: "", exact: "1"}
        - {name: q, regex: "[z-a]"}
    backend: {url: http://127.0.0.1:8000}
`, []string{
			`gw.yaml:14: routes[0].match.pathPrefix[1]: invalid path "no-slash": must start with "/" (route "r")`,
			`gw.yaml:16: routes[0].match.headerMatches[0].name: header "x-team" is set by the gateway from tokens (provider "p"): a client's value is removed, so a route cannot match on it (use a policy on the claim) (route "r")`,
			`gw.yaml:17: routes[0].match.headerMatches[1].regex: invalid regex "a(": missing closing ) (route "r")`,
			`gw.yaml:18: routes[0].match.headerMatches[2].prefix: an empty prefix matches every value: use kind present (route "r")`,
			`gw.yaml:19: routes[0].match.headerMatches[3].name: the host is matched by match.hosts, not as a header (route "r")`,
			`gw.yaml:21: routes[0].match.query[0].name: required (route "r")`,
			`gw.yaml:22: routes[0].match.query[1].regex: invalid regex "[z-a]": invalid character class range (route "r")`,
		}},
		{"weighted backends", `    backends:
      - {url: http://127.0.0.1:8001, weight: 0}
      - url: ftp://x
        weight: -2
      - {url: https://127.0.0.1:8443, caFile: no-ca.pem}
      - {url: http://127.0.0.1:8002, weight: 2000000}
`, []string{
			`gw.yaml:14: routes[0].backends[1].url: invalid URL "ftp://x": scheme must be http or https (route "r")`,
			`gw.yaml:15: routes[0].backends[1].weight: must not be negative, got -2 (route "r")`,
			`gw.yaml:16: routes[0].backends[2].caFile: reading CA file: open no-ca.pem: no such file or directory (route "r")`,
			`gw.yaml:17: routes[0].backends[3].weight: at most 1000000, got 2000000 (route "r")`,
		}},
		{"backend and backends; a direct response without status", `    backend: {url: http://127.0.0.1:8000}
    backends: [{url: http://127.0.0.1:8001}]
  - name: d
    directResponse: {body: x}
`, []string{
			`gw.yaml:13: routes[0].backends: give backend or backends, not both (route "r")`,
			`gw.yaml:15: routes[1].directResponse.status: required (route "d")`,
		}},
		{"weights that add up to 0", `    backends:
      - {url: http://127.0.0.1:8001, weight: 0}
`, []string{
			`gw.yaml:12: routes[0].backends: the weights add up to 0: no backend would get a request (route "r")`,
		}},
		{"redirect and direct response", `    redirect: {status: 200, scheme: ftp, host: "a b", port: 70000, path: {prefix: /x}}
    directResponse: {status: 99}
    backend: {url: http://127.0.0.1:8000}
    rewrite: {host: x}
`, []string{
			`gw.yaml:12: routes[0].redirect.status: invalid redirect status 200 (want 301, 302, 303, 307 or 308) (route "r")`,
			`gw.yaml:12: routes[0].redirect.scheme: invalid scheme "ftp" (want http or https) (route "r")`,
			`gw.yaml:12: routes[0].redirect.host: invalid host "a b" (want a host name or an IP address, without a port: see redirect.port) (route "r")`,
			`gw.yaml:12: routes[0].redirect.port: invalid port 70000 (route "r")`,
			`gw.yaml:12: routes[0].redirect.path.prefix: replaces the part of the path a prefix matched: the route needs a prefix or segmentPrefix path (route "r")`,
			`gw.yaml:13: routes[0].directResponse: give redirect or directResponse, not both (route "r")`,
			`gw.yaml:13: routes[0].directResponse.status: invalid status 99 (want 200 to 599) (route "r")`,
			`gw.yaml:14: routes[0].backend: not with redirect: the route answers itself (route "r")`,
			`gw.yaml:15: routes[0].rewrite: only for a route that forwards: this one answers with its redirect or direct response (route "r")`,
		}},
		{"rewrite and headers", `    match: {paths: [/exact]}
    backend: {url: http://127.0.0.1:8000}
    rewrite:
      path: {prefix: /v2}
    requestHeaders:
      set: {X-Team: x, host: y}
      add: {Connection: close}
      remove: [x-forwarded-for]
    responseHeaders:
      set: {content-length: "1"}
`, []string{
			`gw.yaml:15: routes[0].rewrite.path.prefix: replaces the part of the path a prefix matched: the route needs a prefix or segmentPrefix path (route "r")`,
			`gw.yaml:17: routes[0].requestHeaders.set.X-Team: header "X-Team" is set by the gateway from tokens (provider "p"): a route cannot change it (route "r")`,
			`gw.yaml:17: routes[0].requestHeaders.set.host: the Host header is changed by rewrite.host (route "r")`,
			`gw.yaml:18: routes[0].requestHeaders.add.Connection: header "Connection" belongs to the connection or the message framing: it cannot be changed (route "r")`,
			`gw.yaml:19: routes[0].requestHeaders.remove[0]: header "x-forwarded-for" is set by the gateway on every forwarded request (route "r")`,
			`gw.yaml:21: routes[0].responseHeaders.set.content-length: header "content-length" belongs to the connection or the message framing: it cannot be changed (route "r")`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := CompileBytes("gw.yaml", []byte(head+tt.route), proxy.Options{})
			if snap.OK() {
				snap.Runtime.Close()
				t.Fatal("compiled without errors")
			}
			var got []string
			for _, is := range snap.Issues {
				got = append(got, is.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("issues:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestRoutingServed: the routing features compile from native YAML and
// serve, end to end, against a real upstream.
func TestRoutingServed(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream-Saw", r.Host+" "+r.RequestURI+" "+r.Header.Get("X-Route"))
	}))
	t.Cleanup(up.Close)
	yaml := `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:0
routes:
  - name: canary
    match:
      pathPrefix: [/api]
      headerMatches: [{name: x-canary, present: true}]
      query: [{name: v, exact: "2"}]
    backends:
      - {url: UP/a, weight: 1}
      - {url: UP/b, weight: 0}
    rewrite: {host: api.internal, path: {prefix: /v2}}
    requestHeaders: {set: {x-route: canary}}
    responseHeaders: {set: {x-served-by: jwtgate}}
  - name: old
    match: {pathPrefix: [/old]}
    redirect: {scheme: https, path: {prefix: /new}, status: 301}
  - name: down
    match: {paths: [/maintenance]}
    directResponse: {status: 503, body: down for maintenance}
  - name: rest
    backend: {url: UP}
`
	snap := CompileBytes("gw.yaml", []byte(strings.ReplaceAll(yaml, "UP", up.URL)), proxy.Options{})
	if !snap.OK() {
		t.Fatal(snap.Issues.Err())
	}
	defer snap.Runtime.Close()
	h := snap.Runtime.Handler("web")
	tests := []struct {
		target string
		hdr    map[string]string
		status int
		check  func(http.Header, string) string
	}{
		{"/api/users?v=2", map[string]string{"X-Canary": "1"}, 200, func(h http.Header, _ string) string {
			if got := h.Get("X-Upstream-Saw"); got != "api.internal /a/v2/users?v=2 canary" || h.Get("X-Served-By") != "jwtgate" {
				return got
			}
			return ""
		}},
		{"/api/users?v=1", map[string]string{"X-Canary": "1"}, 200, func(h http.Header, _ string) string {
			if got := h.Get("X-Upstream-Saw"); got != "www.example.com /api/users?v=1" {
				return got
			}
			return ""
		}},
		{"/old/x?q=1", nil, 301, func(h http.Header, _ string) string {
			if got := h.Get("Location"); got != "https://www.example.com/new/x?q=1" {
				return got
			}
			return ""
		}},
		{"/maintenance", nil, 503, func(_ http.Header, body string) string {
			if body != "down for maintenance" {
				return body
			}
			return ""
		}},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "http://www.example.com"+tt.target, nil)
		for k, v := range tt.hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Result().Body)
		if rec.Code != tt.status {
			t.Errorf("%s: status %d, want %d", tt.target, rec.Code, tt.status)
		}
		if bad := tt.check(rec.Result().Header, string(body)); bad != "" {
			t.Errorf("%s: got %q", tt.target, bad)
		}
	}
}
