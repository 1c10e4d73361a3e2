package e2e

// The configuration side of docs/authorization.md: what it calls an
// error is one, and how policies attach to routes; and the pattern forms
// and gateway headers, end to end.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// loadErrors compiles yaml (named gw.yaml) and returns every error
// message, one per line; "" when it compiles.
func loadErrors(t *testing.T, yaml string) string {
	t.Helper()
	if err := gatewaytest.Compile(t, yaml, gatewaytest.Name("gw.yaml")).Issues.Err(); err != nil {
		return err.Error()
	}
	return ""
}

// TestAuthzRejected: what the page calls a configuration error is one,
// with the message it shows, and the whole configuration is refused.
func TestAuthzRejected(t *testing.T) {
	const head = `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: api
    backend: {url: http://127.0.0.1:1}
policies:
  - name: x
    action: ALLOW
    rules:
`
	for _, tc := range []struct{ rules, want string }{
		{`      - to: [{methods: [GET]}]
      - from: [{ipBlocks: [10.0.0/8]}]`, `gw.yaml:13: policies[0].rules[1].from[0].ipBlocks[0]: invalid IP address or CIDR block "10.0.0/8" (policy "x")`},
		{`      - to: [{paths: ["/api/*/users"]}]`, `"*" is only allowed as the whole value`},
		{`      - to: [{hosts: ["*.example.*"]}]`, `"*" is only allowed as the whole value`},
		{`      - to: [{paths: ["/api/{*}.json"]}]`, `paths[0]: invalid path template`},
		{`      - to: [{paths: ["/{**}/{*}"]}]`, `{**} must be the last operator`},
		{`      - to: [{paths: [""]}]`, `empty value`},
		{`      - from: [{}]`, `empty from entry`},
		{`      - to: [{}]`, `empty to entry`},
		{`      - from: []`, `rules[0].from: empty list`},
		{`      - to: []`, `rules[0].to: empty list`},
		{`      - when: [{header: host, values: [admin.example.com]}]`, `use to[].hosts`},
		{`      - when: [{key: "request.headers[Host]", notValues: [api.example.com]}]`, `use to[].hosts`},
		{`      - when: [{key: connection.sni, values: [a.example.com]}]`, `condition key "connection.sni" is not evaluated by jwtgate`},
		{`      - when: [{key: source.ip, values: [10.0.0/8]}]`, `when[0].values[0]: invalid IP address or CIDR block "10.0.0/8"`},
		{`      - when: [{claim: groups}]`, `values or notValues is required`},
		{`      - from: [{remoteIpBlocks: [10.0.0/8]}]`, `remoteIpBlocks[0]: invalid IP address or CIDR block "10.0.0/8"`},
		{`      - to: [{ports: [0]}]`, `invalid port 0`},
	} {
		t.Run(tc.rules, func(t *testing.T) {
			got := loadErrors(t, head+tc.rules+"\n")
			if got == "" || !strings.Contains(got, tc.want) {
				t.Errorf("errors\n%s\nwant one containing %q", got, tc.want)
			}
		})
	}
	// CUSTOM and AUDIT are not actions here.
	for _, a := range []string{"CUSTOM", "AUDIT", "allow", ""} {
		yaml := strings.Replace(head, "action: ALLOW", "action: "+a, 1) + "      - {}\n"
		if got := loadErrors(t, yaml); !strings.Contains(got, "policies[0].action") {
			t.Errorf("action %q: errors %q", a, got)
		}
	}
}

// TestAuthzAttachment: routes, selector, listeners, or every route; an
// ALLOW policy without rules closes its routes, a DENY one denies nothing.
func TestAuthzAttachment(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	g := startDocGateway(t, strings.NewReplacer("127.0.0.1:8080", "127.0.0.1:"+p1, "127.0.0.1:9090", "127.0.0.1:"+p2).Replace(`
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - {name: web, address: 127.0.0.1:8080}
  - {name: other, address: 127.0.0.1:9090}
routes:
  - name: closed
    listener: web
    match: {hosts: [closed.example.com]}
    backend: {url: http://127.0.0.1:8000}
  - name: labelled
    listener: web
    labels: {tier: internal}
    match: {hosts: [labelled.example.com]}
    backend: {url: http://127.0.0.1:8000}
  - name: open
    listener: web
    backend: {url: http://127.0.0.1:8000}
  - name: side
    listener: other
    backend: {url: http://127.0.0.1:8000}
policies:
  - name: everywhere
    action: DENY
    rules:
      - to: [{paths: ["/everywhere-denied"]}]
  - name: nothing
    action: DENY
    routes: [open]
  - name: close-it
    action: ALLOW
    routes: [closed]
  - name: by-label
    action: DENY
    selector: {tier: internal}
    rules:
      - to: [{methods: [POST]}]
  - name: by-listener
    action: DENY
    listeners: [other]
    rules:
      - to: [{paths: ["/side-denied"]}]
`))
	g.do("web", "GET", "closed.example.com", "/", nil).denied(t)
	g.do("web", "GET", "open.example.com", "/", nil).allowed(t)
	g.do("web", "POST", "labelled.example.com", "/", nil).denied(t)
	g.do("web", "POST", "open.example.com", "/", nil).allowed(t)
	g.do("web", "GET", "labelled.example.com", "/", nil).allowed(t)
	for _, l := range []string{"web", "other"} {
		g.do(l, "GET", "open.example.com", "/everywhere-denied", nil).denied(t)
	}
	g.do("other", "GET", "h", "/side-denied", nil).denied(t)
	g.do("web", "GET", "h", "/side-denied", nil).allowed(t)
}

// TestAuthzHostPatternForms: a host pattern written with a trailing dot or
// IPv6 brackets matches the host it names (it used to never match, a hole
// in a DENY rule).
func TestAuthzHostPatternForms(t *testing.T) {
	g := startDocGateway(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:8080}]
routes:
  - name: all
    backend: {url: http://127.0.0.1:8000}
policies:
  - name: block
    action: DENY
    rules:
      - to: [{hosts: ["admin.example.com.", "[::1]"]}]
`)
	for _, h := range []string{"admin.example.com", "admin.example.com.", "Admin.Example.com.:80", "[::1]", "[::1]:8080"} {
		g.do("web", "GET", h, "/", nil).denied(t)
	}
	g.do("web", "GET", "www.example.com", "/", nil).allowed(t)
}

// TestAuthzPathPatternForms: a path pattern written with raw non-ASCII
// bytes, lower-case or needless escapes, or doubled slashes is compared in
// the normalized form of the request path, so that such a DENY rule is not
// a hole.
func TestAuthzPathPatternForms(t *testing.T) {
	g := startDocGateway(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:8080}]
routes:
  - name: all
    backend: {url: http://127.0.0.1:8000}
policies:
  - name: block
    action: DENY
    rules:
      - to: [{paths: ["/café/*", "/a%3fb", "/%61dmin/*", "//ops"]}]
`)
	for _, p := range []string{"/caf%C3%A9/menu", "/caf%c3%a9/menu", "/caf\xc3\xa9/menu", "/a%3Fb", "/a%3fb", "/admin/x", "/%61dmin/x", "/ops", "//ops"} {
		g.raw("web", "GET", p, "h", nil).denied(t)
	}
	g.raw("web", "GET", "/a?b", "h", nil).allowed(t) // the query is not the path
	g.raw("web", "GET", "/cafe/menu", "h", nil).allowed(t)

	for _, bad := range []string{"admin/*", "/search?q=x", "/50%"} {
		yaml := `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: all
    backend: {url: http://127.0.0.1:1}
policies:
  - name: block
    action: DENY
    rules:
      - to: [{paths: ["` + bad + `"]}]
`
		if got := loadErrors(t, yaml); !strings.Contains(got, "paths[0]") {
			t.Errorf("paths [%q]: errors %q", bad, got)
		}
	}
}

// TestAuthzGatewayHeaders: headers the gateway sets from the token are
// removed before authorization, so a client cannot plant them to satisfy
// or dodge a condition; a condition on them sees them absent.
func TestAuthzGatewayHeaders(t *testing.T) {
	g := startDocGateway(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:8080}]
providers:
  - name: corp
    jwks: {uri: http://127.0.0.1:9000/jwks.json}
    claimsToHeaders: [{claim: team, header: x-team}]
routes:
  - name: api
    backend: {url: http://127.0.0.1:8000}
    jwt: {providers: [corp], allowMissing: true}
policies:
  - name: team-header
    action: ALLOW
    rules:
      - when: [{header: x-team, values: [admins]}]
      - when: [{claim: team, values: [admins]}]
`)
	g.do("web", "GET", "h", "/", http.Header{"X-Team": {"admins"}}).denied(t)
	dev := bearer(g.tok(jwt.MapClaims{"sub": "u", "team": "dev"}))
	dev.Set("X-Team", "admins")
	g.do("web", "GET", "h", "/", dev).denied(t)
	r := g.do("web", "GET", "h", "/", bearer(g.tok(jwt.MapClaims{"sub": "u", "team": "admins"})))
	r.allowed(t)
	if a := g.access(3); a["rule"] != "rules[1]" {
		t.Errorf("decided by %v, want the claim rule", a["rule"])
	}
}
