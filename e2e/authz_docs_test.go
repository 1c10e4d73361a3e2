package e2e

// Every YAML example of docs/authorization.md, run end to end: the block is
// read from the page, loaded, built, served, and probed with the requests
// the page describes and with attacks on each rule part.

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/certtest"
)

const corpIss = "https://auth.example.com"

func TestAuthzDocRequestPrincipals(t *testing.T) {
	g := startDocGateway(t, docBlock(t, "from: requestPrincipals"))
	const host = "api.example.com"
	alice := g.tok(jwt.MapClaims{"iss": corpIss, "sub": "alice@example.com"})
	banned := g.tok(jwt.MapClaims{"iss": corpIss, "sub": "banned@example.com"})

	g.do("web", "GET", host, "/x", bearer(alice)).allowed(t)
	g.do("web", "GET", "API.Example.COM:8080", "/x", bearer(alice)).allowed(t)
	g.do("web", "GET", host, "/x", bearer(banned)).denied(t)
	// allowMissing: no token reaches the policy unauthenticated and fails
	// requestPrincipals.
	g.do("web", "GET", host, "/x", nil).denied(t)
	// An invalid token never reaches authorization: 401.
	g.do("web", "GET", host, "/x", bearer(alice[:len(alice)-4]+"AAAA")).
		expect(t, 401, "Jwt verification fails", `Bearer realm="http://api.example.com/x", error="invalid_token"`)
	// A token of another issuer is rejected by authentication.
	other := g.tok(jwt.MapClaims{"iss": "https://evil.example.com", "sub": "alice@example.com"})
	if r := g.do("web", "GET", host, "/x", bearer(other)); r.status != 401 {
		t.Errorf("foreign issuer: %d, want 401", r.status)
	}
	// A token without sub has the principal "https://auth.example.com/",
	// which the prefix pattern matches (as in Envoy).
	g.do("web", "GET", host, "/x", bearer(g.tok(jwt.MapClaims{"iss": corpIss}))).allowed(t)
	// The access log names the policy and rule that decided.
	g.do("web", "GET", host, "/x", bearer(banned)).denied(t)
	if a := g.access(8); a["policy"] != "no ALLOW policy matched" || a["rule"] != "" || a["status"] != float64(403) {
		t.Errorf("access log of a denial without a deciding rule: %v", a)
	}
	g.do("web", "GET", host, "/x", bearer(alice)).allowed(t)
	if a := g.access(9); a["policy"] != "corp-users-only" || a["rule"] != "rules[0]" {
		t.Errorf("access log of an allowed request: %v", a)
	}
}

func TestAuthzDocJWT(t *testing.T) {
	g := startDocGateway(t, docBlock(t, "from: jwt, notJwt"))
	const host = "api.payment-provider.com"
	good := jwt.MapClaims{
		"iss":          corpIss,
		"sub":          "payments-service@example.com",
		"realm_access": map[string]any{"roles": []any{"viewer", "payments"}},
		"scope":        "payments:read payments:write",
	}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	tok := g.tok(good)

	// The page's own cases.
	g.do("egress", "GET", host, "/v1/payments/123", bearer(tok)).allowed(t)
	g.do("egress", "POST", host, "/v1/payments/123", bearer(tok)).allowed(t)
	g.do("egress", "GET", host, "/v1/payments/123", bearer(g.tok(with("sub", "orders@example.com")))).denied(t)
	g.do("egress", "DELETE", host, "/v1/payments/123", bearer(tok)).denied(t)
	g.do("egress", "GET", host, "/v1/refunds/1", bearer(tok)).denied(t)
	g.do("egress", "GET", host, "/v1/payments/123", nil).
		expect(t, 401, "Jwt is missing", `Bearer realm="http://api.payment-provider.com/v1/payments/123"`)

	// Claim shapes.
	for _, tc := range []struct {
		name  string
		k     string
		v     any
		allow bool
	}{
		{"scope as an array", "scope", []any{"payments:write"}, true},
		{"scope with extra spaces", "scope", "  payments:write  other", true},
		{"scope that only starts like the value", "scope", "payments:writer", false},
		{"scope missing", "scope", nil, false},
		{"roles as a plain string", "realm_access", map[string]any{"roles": "payments"}, true},
		{"roles nested one level deeper", "realm_access", map[string]any{"roles": []any{[]any{"payments"}}}, false},
		{"roles as an object", "realm_access", map[string]any{"roles": map[string]any{"payments": true}}, false},
		{"realm_access not an object", "realm_access", "payments", false},
		{"a dotted top-level claim is not the nested path", "realm_access", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do("egress", "GET", host, "/v1/payments/1", bearer(g.tok(with(tc.k, tc.v))))
			if tc.allow {
				r.allowed(t)
			} else {
				r.denied(t)
			}
		})
	}
	// A top-level claim literally named "realm_access.roles" is found first
	// (the page: "a top-level claim whose name contains dots is found
	// before the name is split").
	c := with("realm_access", nil)
	c["realm_access.roles"] = []any{"payments"}
	g.do("egress", "GET", host, "/v1/payments/1", bearer(g.tok(c))).allowed(t)
}

// TestAuthzDocJWTAllowMissing: "On a route with allowMissing: true it would
// reach the policy unauthenticated, fail jwt and be denied with 403".
// notJwt matches there.
func TestAuthzDocJWTAllowMissing(t *testing.T) {
	yaml := strings.Replace(docBlock(t, "from: jwt, notJwt"), "jwt: {providers: [corp]}", "jwt: {providers: [corp], allowMissing: true}", 1)
	g := startDocGateway(t, yaml)
	g.do("egress", "GET", "api.payment-provider.com", "/v1/payments/1", nil).denied(t)

	neg := strings.Replace(yaml, "          - jwt:\n", "          - notJwt:\n", 1)
	if neg == yaml {
		t.Fatal("no jwt entry to turn into notJwt")
	}
	g = startDocGateway(t, neg)
	g.do("egress", "GET", "api.payment-provider.com", "/v1/payments/1", nil).allowed(t)
	g.do("egress", "GET", "api.payment-provider.com", "/v1/payments/1", bearer(g.tok(jwt.MapClaims{
		"iss": corpIss, "sub": "payments-service@example.com",
		"realm_access": map[string]any{"roles": []any{"payments"}}, "scope": "payments:write",
	}))).denied(t)
	g.do("egress", "GET", "api.payment-provider.com", "/v1/payments/1", bearer(g.tok(jwt.MapClaims{
		"iss": corpIss, "sub": "someone-else",
	}))).allowed(t)
}

func TestAuthzDocMTLS(t *testing.T) {
	p := certtest.NewCA(t)
	gwCert, gwKey, _ := p.Leaf(t, "gw", []string{"api.example.com"})
	yaml := docBlock(t, "from: principals, namespaces, serviceAccounts")
	g := startDocGateway(t, yaml,
		"certs/gw.pem", gwCert, "certs/gw-key.pem", gwKey, "certs/ca.pem", p.File)
	g.scheme = "https"
	client := func(uri ...string) *http.Client {
		tc := &tls.Config{RootCAs: p.Pool, ServerName: "api.example.com"}
		if len(uri) > 0 {
			_, _, c := p.Leaf(t, strings.NewReplacer("/", "_", ":", "_").Replace(uri[0]), nil, uri...)
			tc.Certificates = []tls.Certificate{c}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	for _, tc := range []struct {
		uri   string
		allow bool
	}{
		{"spiffe://cluster.local/ns/shop/sa/web", true},
		{"spiffe://cluster.local/ns/shop/sa/legacy", false},     // notServiceAccounts
		{"spiffe://other.domain/ns/shop/sa/web", false},         // principal is TD/...
		{"spiffe://cluster.local/ns/shopping/sa/web", false},    // prefix stops at the slash written
		{"spiffe://other.domain/ns/payments/sa/anything", true}, // namespaces
		{"spiffe://cluster.local/ns/billing/sa/x", true},        // namespaces
		{"spiffe://cluster.local/ns/ops/sa/deployer", true},     // serviceAccounts
		{"spiffe://cluster.local/ns/ops/sa/deployer2", false},   // exact service account
		{"spiffe://cluster.local/ns/Payments/sa/x", false},      // case matters
		{"spiffe://cluster.local/workload/payments", false},     // not the ns/sa shape: no namespace
		{"", false}, // no client certificate
	} {
		t.Run(tc.uri, func(t *testing.T) {
			if tc.uri == "" {
				g.client = client()
			} else {
				g.client = client(tc.uri)
			}
			r := g.do("mesh", "GET", "api.example.com", "/x", nil)
			if tc.allow {
				r.allowed(t)
			} else {
				r.denied(t)
			}
		})
	}
	// A certificate from another CA is refused at the handshake.
	other := certtest.NewCA(t)
	_, _, c := other.Leaf(t, "intruder", nil, "spiffe://cluster.local/ns/payments/sa/x")
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Pool, ServerName: "api.example.com", Certificates: []tls.Certificate{c}}}}
	if res, err := cl.Get("https://" + g.h.Addr("mesh") + "/x"); err == nil {
		res.Body.Close()
		t.Errorf("a certificate of another CA got %d", res.StatusCode)
	}
}

func TestAuthzDocIPBlocks(t *testing.T) {
	yaml := docBlock(t, "from: ipBlocks, notIpBlocks")
	g := startDocGateway(t, yaml)
	tok := g.tok(jwt.MapClaims{"sub": "admin"})
	const host = "admin.example.com"
	// 127.0.0.1 is outside the office blocks: denied, whatever
	// X-Forwarded-For claims.
	g.do("web", "GET", host, "/", bearer(tok)).denied(t)
	for _, xff := range []string{"203.0.113.7", "192.0.2.1", "203.0.113.7, 192.0.2.1", "2001:db8:100::1"} {
		h := bearer(tok)
		h.Set("X-Forwarded-For", xff)
		h.Set("X-Real-IP", xff)
		h.Set("Forwarded", "for="+xff)
		g.do("web", "GET", host, "/", h).denied(t)
	}
	// Authentication comes first: no token is 401, not 403.
	if r := g.do("web", "GET", host, "/", nil); r.status != 401 {
		t.Errorf("no token: %d, want 401", r.status)
	}

	// With the client's own address in the list, it passes.
	for _, block := range []string{"127.0.0.1", "127.0.0.0/8", "::ffff:127.0.0.1", "::ffff:127.0.0.0/104"} {
		t.Run(block, func(t *testing.T) {
			g := startDocGateway(t, yaml, `"203.0.113.7"`, `"`+block+`"`)
			tok := g.tok(jwt.MapClaims{"sub": "admin"})
			g.do("web", "GET", host, "/", bearer(tok)).allowed(t)
		})
	}
}

func TestAuthzDocHosts(t *testing.T) {
	g := startDocGateway(t, docBlock(t, "to: hosts, notHosts"))
	tok := g.tok(jwt.MapClaims{"sub": "u"})
	for _, tc := range []struct {
		host  string
		allow bool
	}{
		{"a.internal.example.com", false},
		{"A.Internal.Example.COM", false},
		{"a.internal.example.com:8080", false},
		{"a.internal.example.com.", false},
		{"a.internal.example.com.:8080", false},
		{"x.y.internal.example.com", false},
		{"admin.example.com", false},
		{"ADMIN.example.org:443", false},
		{"status.internal.example.com", true},
		{"STATUS.internal.example.com:9", true},
		{"internal.example.com", true}, // *.x is subdomains only
		{"www.example.com", true},
		{"administrator.example.com", true},
		{"127.0.0.1", true},
	} {
		t.Run(tc.host, func(t *testing.T) {
			r := g.do("web", "GET", tc.host, "/", nil)
			if tc.allow {
				r.allowed(t)
			} else {
				r.denied(t)
			}
			// With a token the DENY rule (notRequestPrincipals) never matches.
			g.do("web", "GET", tc.host, "/", bearer(tok)).allowed(t)
		})
	}
}

// TestAuthzHostPort: "A pattern may carry :PORT, which then also requires
// the port the request arrived on, or :*, which is the same as no port."
func TestAuthzHostPort(t *testing.T) {
	port := freePort(t)
	yaml := strings.NewReplacer(
		`"*.internal.example.com", "admin.*"`, `"api.example.com:`+port+`", "www.example.com:*", "other.example.com:1"`,
		"127.0.0.1:8080", "127.0.0.1:"+port,
	).Replace(docBlock(t, "to: hosts, notHosts"))
	g := startDocGateway(t, yaml)
	g.do("web", "GET", "api.example.com", "/", nil).denied(t)
	g.do("web", "GET", "api.example.com:1234", "/", nil).denied(t) // the Host's port is not what counts
	g.do("web", "GET", "www.example.com", "/", nil).denied(t)
	g.do("web", "GET", "www.example.com:8443", "/", nil).denied(t)
	g.do("web", "GET", "other.example.com:1", "/", nil).allowed(t) // arrived on another port
}

func TestAuthzDocMethods(t *testing.T) {
	g := startDocGateway(t, docBlock(t, "to: methods, notMethods"))
	tok := g.tok(jwt.MapClaims{"sub": "u"})
	for _, m := range []string{"GET", "HEAD", "OPTIONS", "get", "Get"} {
		if r := g.do("web", m, "h", "/", bearer(tok)); r.status != 200 {
			t.Errorf("%s: %d, want 200", m, r.status)
		}
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "delete", "Patch", "TRACE", "PROPFIND"} {
		g.do("web", m, "h", "/", bearer(tok)).denied(t)
	}
}

func TestAuthzDocPaths(t *testing.T) {
	g := startDocGateway(t, docBlock(t, "to: paths, notPaths"))
	tok := bearer(g.tok(jwt.MapClaims{"sub": "u"}))
	for _, tc := range []struct {
		target  string
		h       http.Header
		status  int
		upsPath string // what the upstream receives, when 200
	}{
		{"/healthz", nil, 200, "/healthz"},
		{"/healthz?probe=1", nil, 200, "/healthz"},
		{"/%68ealthz", nil, 200, "/healthz"},
		{"/healthz/", nil, 403, ""},
		{"/HEALTHZ", nil, 403, ""},
		{"/public/a", nil, 200, "/public/a"},
		{"/public", nil, 403, ""}, // "/public/*" is the prefix "/public/"
		{"/site.css", nil, 200, "/site.css"},
		{"/site.css?x=/internal/", nil, 200, "/site.css"},
		{"/books", nil, 403, ""},
		{"/books", tok, 200, "/books"},
		{"/internal/x", tok, 403, ""},
		{"/internal", tok, 200, "/internal"},
		{"/public/../internal/x", tok, 403, ""},
		{"/public/%2e%2e/internal/x", tok, 403, ""},
		{"/public/%2E%2E/internal/x", tok, 403, ""},
		{"/%69nternal/x", tok, 403, ""},
		{"//internal/x", tok, 403, ""},
		{"/./internal/x", tok, 403, ""},
		{"/public/../../internal/x", tok, 403, ""},
		{"/public/..%2finternal/x", tok, 400, ""},
		{"/public/..%5cinternal/x", tok, 400, ""},
		{"/public/..\\internal/x", tok, 400, ""},
		// Without a token the public prefix cannot be escaped.
		{"/public/../books", nil, 403, ""},
		{"/public/%2e%2e/books", nil, 403, ""},
		{"/healthz/..", nil, 403, ""},
	} {
		t.Run(tc.target, func(t *testing.T) {
			r := g.raw("web", "GET", tc.target, "h", tc.h)
			switch tc.status {
			case 200:
				r.allowed(t)
				if r.echo.Path != tc.upsPath {
					t.Errorf("upstream path %q, want %q", r.echo.Path, tc.upsPath)
				}
			case 403:
				r.denied(t)
			default:
				if r.status != tc.status {
					t.Errorf("status %d, want %d", r.status, tc.status)
				}
			}
		})
	}
}

func TestAuthzDocPorts(t *testing.T) {
	pub, priv := freePort(t), freePort(t)
	yaml := strings.NewReplacer(
		"127.0.0.1:8080", "127.0.0.1:"+pub,
		"127.0.0.1:9090", "127.0.0.1:"+priv,
		"notPorts: [9090]", "notPorts: ["+priv+"]",
	).Replace(docBlock(t, "to: ports, notPorts"))
	g := startDocGateway(t, yaml)
	tok := bearer(g.tok(jwt.MapClaims{"sub": "u"}))
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		g.do("public", m, "h", "/", tok).denied(t)
		g.do("private", m, "h", "/", tok).allowed(t)
		// The Host header's port does not count; the listener's does.
		g.do("public", m, "h:"+priv, "/", tok).denied(t)
	}
	g.do("public", "GET", "h", "/", tok).allowed(t)
	// Authentication first on both listeners.
	if r := g.do("public", "POST", "h", "/", nil); r.status != 401 {
		t.Errorf("no token: %d, want 401", r.status)
	}
}

func TestAuthzDocConditions(t *testing.T) {
	g := startDocGateway(t, docBlock(t, "when: conditions"))
	ops := jwt.MapClaims{
		"iss": corpIss, "sub": "op", "groups": []any{"dev", "ops"},
		"scope": "read deploy:write", "aud": "api.example.com", "azp": "console",
	}
	admin := jwt.MapClaims{"iss": corpIss, "sub": "root", "realm_access": map[string]any{"roles": []any{"admin"}}}
	with := func(base jwt.MapClaims, kv ...any) string {
		c := jwt.MapClaims{}
		for k, v := range base {
			c[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return g.tok(c)
	}
	h := func(tok string, kv ...string) http.Header {
		hd := bearer(tok)
		for i := 0; i < len(kv); i += 2 {
			hd.Add(kv[i], kv[i+1])
		}
		return hd
	}
	for _, tc := range []struct {
		name  string
		h     http.Header
		allow bool
	}{
		{"ops in prod", h(with(ops), "X-Env", "prod"), true},
		{"sre as a string", h(with(ops, "groups", "sre"), "X-Env", "prod"), true},
		{"groups missing", h(with(ops, "groups", nil), "X-Env", "prod"), false},
		{"groups an object", h(with(ops, "groups", map[string]any{"ops": true}), "X-Env", "prod"), false},
		{"scope missing the value", h(with(ops, "scope", "read deploy:writer"), "X-Env", "prod"), false},
		{"scope as an array", h(with(ops, "scope", []any{"deploy:write"}), "X-Env", "prod"), true},
		{"no x-env", h(with(ops)), false},
		{"x-env in another case", h(with(ops), "X-Env", "Prod"), false},
		{"x-env empty", h(with(ops), "X-Env", ""), false},
		{"x-env list in one line", h(with(ops), "X-Env", "prod, dev"), false},
		{"x-env repeated, one is prod", h(with(ops), "X-Env", "dev", "X-Env", "prod"), true},
		{"aud array", h(with(ops, "aud", []any{"x", "api.example.com"}), "X-Env", "prod"), true},
		{"aud other", h(with(ops, "aud", "web.example.com"), "X-Env", "prod"), false},
		{"azp legacy-cli", h(with(ops, "azp", "legacy-cli"), "X-Env", "prod"), false},
		{"azp missing passes notValues", h(with(ops, "azp", nil), "X-Env", "prod"), true},
		{"admin", h(with(admin)), true},
		{"admin, no user agent", h(with(admin), "User-Agent", ""), true},
		{"admin from a bot", h(with(admin), "User-Agent", "googlebot"), false},
		{"admin of another issuer's principal shape", h(with(admin, "sub", nil)), true},
		{"role as a number", h(with(admin, "realm_access", map[string]any{"roles": []any{1}})), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do("web", "GET", "h", "/", tc.h)
			if tc.allow {
				r.allowed(t)
			} else {
				r.denied(t)
			}
		})
	}
	// Two User-Agent lines, one of them a bot: notValues needs none of
	// them to match.
	g.raw("web", "GET", "/", "h", h(with(admin), "User-Agent", "curl", "User-Agent", "xbot")).denied(t)
	g.raw("web", "GET", "/", "h", h(with(admin), "User-Agent", "curl", "User-Agent", "wget")).allowed(t)
	// No token on this route: 401 before any condition.
	if r := g.do("web", "GET", "h", "/", http.Header{"X-Env": {"prod"}}); r.status != 401 {
		t.Errorf("no token: %d, want 401", r.status)
	}
}

// TestAuthzClaimValues: numbers and booleans compare by their JSON text;
// notValues passes on a missing claim and on a missing token.
func TestAuthzClaimValues(t *testing.T) {
	g := startDocGateway(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:8080}]
providers:
  - name: corp
    jwks: {uri: http://127.0.0.1:9000/jwks.json}
routes:
  - name: api
    backend: {url: http://127.0.0.1:8000}
    jwt: {providers: [corp], allowMissing: true}
policies:
  - name: typed
    action: ALLOW
    rules:
      - to: [{paths: [/num]}]
        when: [{claim: level, values: ["3"]}]
      - to: [{paths: [/bool]}]
        when: [{claim: admin, values: ["true"]}]
      - to: [{paths: [/not-free]}]
        when: [{claim: tier, notValues: [free]}]
      - to: [{paths: [/url-claim]}]
        when: [{claim: "https://example.com/roles", values: [admin]}]
`)
	tok := func(c jwt.MapClaims) http.Header { return bearer(g.tok(c)) }
	g.do("web", "GET", "h", "/num", tok(jwt.MapClaims{"level": 3})).allowed(t)
	g.do("web", "GET", "h", "/num", tok(jwt.MapClaims{"level": "3"})).allowed(t)
	g.do("web", "GET", "h", "/num", tok(jwt.MapClaims{"level": []any{1, 3}})).allowed(t)
	g.do("web", "GET", "h", "/num", tok(jwt.MapClaims{"level": 4})).denied(t)
	g.do("web", "GET", "h", "/bool", tok(jwt.MapClaims{"admin": true})).allowed(t)
	g.do("web", "GET", "h", "/bool", tok(jwt.MapClaims{"admin": "true"})).allowed(t)
	g.do("web", "GET", "h", "/bool", tok(jwt.MapClaims{"admin": false})).denied(t)
	g.do("web", "GET", "h", "/bool", tok(jwt.MapClaims{"admin": nil})).denied(t)
	g.do("web", "GET", "h", "/not-free", tok(jwt.MapClaims{"tier": "gold"})).allowed(t)
	g.do("web", "GET", "h", "/not-free", tok(jwt.MapClaims{"tier": "free"})).denied(t)
	g.do("web", "GET", "h", "/not-free", tok(jwt.MapClaims{"tier": []any{"gold", "free"}})).denied(t)
	g.do("web", "GET", "h", "/not-free", tok(jwt.MapClaims{})).allowed(t)
	g.do("web", "GET", "h", "/not-free", tok(jwt.MapClaims{"tier": ""})).allowed(t) // empty counts as absent
	g.do("web", "GET", "h", "/not-free", nil).allowed(t)                            // no token: absent
	g.do("web", "GET", "h", "/url-claim", tok(jwt.MapClaims{"https://example.com/roles": []any{"admin"}})).allowed(t)
	g.do("web", "GET", "h", "/url-claim", tok(jwt.MapClaims{"https://example": map[string]any{"com/roles": "admin"}})).allowed(t)
}

func TestAuthzDocSeveralPolicies(t *testing.T) {
	g := startDocGateway(t, docBlock(t, "Several policies on one route"))
	writer := bearer(g.tok(jwt.MapClaims{"sub": "w", "groups": []any{"writers"}}))
	reader := bearer(g.tok(jwt.MapClaims{"sub": "r", "groups": []any{"readers"}}))
	n := 0
	check := func(method, path string, h http.Header, allow bool, policy, rule string) {
		t.Helper()
		r := g.do("web", method, "h", path, h)
		n++
		if allow {
			r.allowed(t)
		} else {
			r.denied(t)
		}
		a := g.access(n)
		if a["policy"] != policy || a["rule"] != rule {
			t.Errorf("%s %s: access log policy %q rule %q, want %q %q", method, path, a["policy"], a["rule"], policy, rule)
		}
	}
	check("GET", "/wp-admin/x", nil, false, "block-scanners", "rules[0]")
	check("GET", "/wp-admin/x", writer, false, "block-scanners", "rules[0]")
	check("GET", "/index.php", nil, false, "block-scanners", "rules[0]")
	check("GET", "/books/../wp-admin/x", nil, false, "block-scanners", "rules[0]")
	check("GET", "/books", nil, true, "readers", "rules[0]")
	check("POST", "/books", writer, true, "writers", "rules[0]")
	check("POST", "/books", reader, false, "no ALLOW policy matched", "")
	check("POST", "/books", nil, false, "no ALLOW policy matched", "")
}

// TestAuthzDocMatchModes is the table of "Match modes", both columns.
func TestAuthzDocMatchModes(t *testing.T) {
	for _, mode := range []string{"authIfMatched", "bypassIfMatched"} {
		t.Run(mode, func(t *testing.T) {
			yaml := strings.Replace(docBlock(t, "Match modes"), "authIfMatched:", mode+":", 1)
			g := startDocGateway(t, yaml)
			valid := bearer(g.tok(jwt.MapClaims{"iss": "testing@secure.istio.io", "sub": "testing@secure.istio.io"}))
			invalid := bearer("invalid token")
			g.do("gateway", "GET", "h", "/productpage", valid).allowed(t)
			g.do("gateway", "GET", "h", "/api/v1/products/1", valid).allowed(t)
			g.do("gateway", "GET", "h", "/productpage", invalid).expect(t, 401, "*", `Bearer realm="http://h/productpage", error="invalid_token"`)
			g.do("gateway", "GET", "h", "/api/v1/products/1", invalid).expect(t, 401, "*", `Bearer realm="http://h/api/v1/products/1", error="invalid_token"`)
			protected, open := "/productpage", "/api/v1/products/1"
			if mode == "bypassIfMatched" {
				protected, open = open, protected
			}
			g.do("gateway", "GET", "h", protected, nil).denied(t)
			if a := g.access(5); a["policy"] != "productpage/"+mode || a["rule"] != "rules[0]" {
				t.Errorf("access log: %v", a)
			}
			g.do("gateway", "GET", "h", open, nil).allowed(t)
			// Normalization: the protected path cannot be reached another way.
			if mode == "authIfMatched" {
				g.raw("gateway", "GET", "/api/../productpage", "h", nil).denied(t)
				g.raw("gateway", "GET", "/%70roductpage", "h", nil).denied(t)
				g.raw("gateway", "GET", "//productpage?x", "h", nil).denied(t)
			}
		})
	}
}

// TestAuthzPostAuthz: with phase postAuthz authorization runs first, on an
// unauthenticated request: token-derived values are absent, a denial is
// 403 whatever the token, and what it admits then needs a token (401).
func TestAuthzPostAuthz(t *testing.T) {
	g := startDocGateway(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:8080}]
providers:
  - name: corp
    jwks: {uri: http://127.0.0.1:9000/jwks.json}
routes:
  - name: api
    backend: {url: http://127.0.0.1:8000}
    jwt: {providers: [corp], phase: postAuthz}
policies:
  - name: open-paths
    action: ALLOW
    rules:
      - to: [{paths: ["/open/*"]}]
      - from: [{requestPrincipals: ["*"]}]
        to: [{paths: ["/token/*"]}]
`)
	valid := bearer(g.tok(jwt.MapClaims{"sub": "u"}))
	g.do("web", "GET", "h", "/open/x", valid).allowed(t)
	g.do("web", "GET", "h", "/open/x", nil).expect(t, 401, "Jwt is missing", `Bearer realm="http://h/open/x"`)
	g.do("web", "GET", "h", "/open/x", bearer("bad")).expect(t, 401, "*", `Bearer realm="http://h/open/x", error="invalid_token"`)
	// Denied before authentication: 403 even with an invalid or no token.
	g.do("web", "GET", "h", "/closed", bearer("bad")).denied(t)
	g.do("web", "GET", "h", "/closed", nil).denied(t)
	// A rule on the token never matches before the token is verified.
	g.do("web", "GET", "h", "/token/x", valid).denied(t)
}

// TestAuthzPreAuthzPrecedence: with the default phase, authentication
// answers first; a request it rejects never reaches a DENY rule.
func TestAuthzPreAuthzPrecedence(t *testing.T) {
	g := startDocGateway(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:8080}]
providers:
  - name: corp
    jwks: {uri: http://127.0.0.1:9000/jwks.json}
routes:
  - name: api
    backend: {url: http://127.0.0.1:8000}
    jwt: {providers: [corp]}
policies:
  - name: deny-all
    action: DENY
    rules: [{}]
`)
	g.do("web", "GET", "h", "/", nil).expect(t, 401, "Jwt is missing", `Bearer realm="http://h/"`)
	g.do("web", "GET", "h", "/", bearer("a.b.c")).expect(t, 401, "*", `Bearer realm="http://h/", error="invalid_token"`)
	g.do("web", "GET", "h", "/", bearer(g.tok(jwt.MapClaims{"sub": "u"}))).denied(t)
	if a := g.access(3); a["policy"] != "deny-all" || a["rule"] != "rules[0]" {
		t.Errorf("access log: %v", a)
	}
}
