// Package e2e drives the vendor walkthroughs in the specification (the
// seeds) through the whole product: native YAML written to a file, read,
// compiled and served by a gateway.Gateway (internal/gatewaytest) on
// loopback in front of a real echo upstream, and exercised with net/http;
// and the real binary, built once, under real signals.
package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/model"
)

// seedGateway is a running jwtgate built from native YAML, with an echo
// upstream behind it.
type seedGateway struct {
	t        *testing.T
	base     string // http://127.0.0.1:PORT
	warnings model.Issues
	h        *gatewaytest.Harness
}

// testdata reads a file from testdata, trimmed of surrounding space.
func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// startGateway starts an echo upstream and a gateway whose config is yaml
// with UPSTREAM replaced by the upstream's URL. The listener must be named
// "web" and bound to 127.0.0.1:0. A configuration with errors fails the
// test.
func startGateway(t *testing.T, yaml string) *seedGateway {
	t.Helper()
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	h := gatewaytest.Start(t, strings.ReplaceAll(yaml, "UPSTREAM", up.URL))
	return &seedGateway{t: t, base: h.URL("web"), warnings: h.Warnings(), h: h}
}

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   string
	echo   demo.Echoed // what the upstream received, on 200
}

// do sends a request with the given Host header and extra headers.
func (g *seedGateway) do(method, host, pathAndQuery string, headers map[string]string) response {
	g.t.Helper()
	req, err := http.NewRequest(method, g.base+pathAndQuery, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	req.Host = host
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return send(g.t, http.DefaultClient, req)
}

// send sends req with client and reads what came back; a 200 answer to
// anything but HEAD must be the echo upstream's JSON.
func send(t *testing.T, client *http.Client, req *http.Request) response {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, body: string(b)}
	if res.StatusCode == http.StatusOK && req.Method != http.MethodHead {
		if err := json.Unmarshal(b, &out.echo); err != nil {
			t.Fatalf("upstream answer is not the echo JSON: %v\n%s", err, b)
		}
	}
	return out
}

// expect checks status, body and WWW-Authenticate ("" = must be absent).
func (r response) expect(t *testing.T, status int, body, wwwAuth string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %q)", r.status, status, r.body)
	}
	if body != "*" && r.body != body {
		t.Errorf("body = %q, want %q", r.body, body)
	}
	if got := r.header.Get("WWW-Authenticate"); got != wwwAuth {
		t.Errorf("WWW-Authenticate = %q, want %q", got, wwwAuth)
	}
}

// upstreamHeader is the single value the upstream received for name.
func (r response) upstreamHeader(name string) string {
	return strings.Join(r.echo.Headers[http.CanonicalHeaderKey(name)], ",")
}

// TestSeed004KgatewayWalkthrough is kgateway's "Basic JWT policy": a
// provider with issuer solo.io and an inline JWKS whose modulus starts with
// a zero byte, claims team and org copied to x-team and x-org.
func TestSeed004KgatewayWalkthrough(t *testing.T) {
	g := startGateway(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:0
providers:
  - name: selfminted
    issuer: solo.io
    jwks:
      inline: '`+testdata(t, "seed004-jwks.json")+`'
    claimsToHeaders:
      - claim: team
        header: x-team
      - claim: org
        header: x-org
routes:
  - name: httpbin
    match:
      hosts: [www.example.com]
    backend:
      url: UPSTREAM
    jwt:
      providers: [selfminted]
`)
	token := testdata(t, "seed004-alice.jwt")

	// Step 3: no JWT, 401 "Jwt is missing".
	g.do("GET", "www.example.com:8080", "/headers", nil).
		expect(t, 401, "Jwt is missing", `Bearer realm="http://www.example.com:8080/headers"`)

	// Step 4 and the claims step: the sample token gets 200 and the claim
	// headers reach the upstream; the token itself does not.
	r := g.do("GET", "www.example.com:8080", "/headers", map[string]string{"Authorization": "Bearer " + token})
	r.expect(t, 200, "*", "")
	if got := r.upstreamHeader("X-Team"); got != "dev" {
		t.Errorf("upstream X-Team = %q, want dev", got)
	}
	if got := r.upstreamHeader("X-Org"); got != "solo.io" {
		t.Errorf("upstream X-Org = %q, want solo.io", got)
	}
	if got := r.upstreamHeader("Authorization"); got != "" {
		t.Errorf("upstream received Authorization %q; the token must be removed", got)
	}

	// A client cannot plant the claim headers itself, with or without a token.
	r = g.do("GET", "www.example.com", "/headers", map[string]string{
		"Authorization": "Bearer " + token, "X-Team": "admins", "X-Org": "evil"})
	r.expect(t, 200, "*", "")
	if got := r.upstreamHeader("X-Team"); got != "dev" {
		t.Errorf("spoofed X-Team reached upstream as %q", got)
	}

	// Another host has no route.
	g.do("GET", "other.example.com", "/headers", nil).expect(t, 404, "", "")

	// A token signed by another key under the same kid is rejected.
	forged := testdata(t, "seed004-alice.jwt")
	forged = forged[:len(forged)-6] + "AAAAAA"
	g.do("GET", "www.example.com", "/headers", map[string]string{"Authorization": "Bearer " + forged}).
		expect(t, 401, "Jwt verification fails", `Bearer realm="http://www.example.com/headers", error="invalid_token"`)
}

// TestSeed003ASMFourRequests is Alibaba ASM's "Auth If Matched" on
// /productpage: the four requests of its test table.
func TestSeed003ASMFourRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode string
	}{
		{"authIfMatched", `authIfMatched: {paths: ["/productpage"]}`},
		// The same table expressed the other way round: everything but
		// /api/v1/products/* needs a token.
		{"bypassIfMatched", `bypassIfMatched: {paths: ["/api/v1/products/*"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:0
providers:
  - name: asm
    issuer: testing@secure.istio.io
    jwks:
      inline: '`+testdata(t, "seed003-jwks.json")+`'
routes:
  - name: bookinfo
    backend:
      url: UPSTREAM
    jwt:
      providers: [asm]
      `+tc.mode+`
`)
			token := testdata(t, "seed003-demo.jwt")
			const host = "114.55.0.1"

			// Test 1: a valid JWT on /productpage.
			g.do("GET", host, "/productpage", map[string]string{"Authorization": "Bearer " + token}).expect(t, 200, "*", "")
			// Test 2: no JWT on /productpage: 403 from the policy, 19 bytes.
			r := g.do("GET", host, "/productpage", nil)
			r.expect(t, 403, "RBAC: access denied", "")
			if cl := r.header.Get("Content-Length"); cl != "19" {
				t.Errorf("Content-Length = %q, want 19", cl)
			}
			// Test 3: an invalid JWT on /productpage: 401, 79 bytes.
			r = g.do("GET", host, "/productpage", map[string]string{"Authorization": "Bearer invalid token"})
			r.expect(t, 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
				`Bearer realm="http://114.55.0.1/productpage", error="invalid_token"`)
			if cl := r.header.Get("Content-Length"); cl != "79" {
				t.Errorf("Content-Length = %q, want 79", cl)
			}
			// The same with curl -I (HEAD), as the seed sends them.
			if r := g.do("HEAD", host, "/productpage", nil); r.status != 403 {
				t.Errorf("HEAD without token: %d, want 403", r.status)
			}
			// Test 4: no JWT on another path.
			g.do("GET", host, "/api/v1/products/1", nil).expect(t, 200, "*", "")
			// "denied if they carry invalid JWTs" on other paths too.
			g.do("GET", host, "/api/v1/products/1", map[string]string{"Authorization": "Bearer invalid token"}).
				expect(t, 401, "*", `Bearer realm="http://114.55.0.1/api/v1/products/1", error="invalid_token"`)
			// A path that normalizes to /productpage is still protected.
			g.do("GET", host, "/api/../productpage", nil).expect(t, 403, "RBAC: access denied", "")
		})
	}
}

// TestSeed001GlooJWTPolicy is Gloo Mesh's "JWT for mesh routes": a JWT
// policy selecting routes by label, an inline PEM key, tokens from the
// X-Auth header or the auth_token query parameter (both must be valid when
// both are sent), claims org and email copied to headers.
func TestSeed001GlooJWTPolicy(t *testing.T) {
	pem := testdata(t, "gloo-public.pem")
	g := startGateway(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:0
providers:
  - name: dev-example
    issuer: https://dev.example.com
    jwks:
      pem: |
        `+strings.ReplaceAll(pem, "\n", "\n        ")+`
    from:
      - header: X-Auth
        prefix: "Bearer "
      - query: auth_token
    claimsToHeaders:
      - claim: org
        header: X-Org
      - claim: email
        header: X-Email
  - name: login-example
    issuer: https://login.example.com
    jwks:
      pem: |
        `+strings.ReplaceAll(pem, "\n", "\n        ")+`
routes:
  - name: httpbin-mesh
    labels: {route: httpbin}
    match:
      hosts: [www.example.com]
      headers: {X-httpbin-mesh: "*"}
    backend:
      url: UPSTREAM
jwtPolicies:
  - name: jwt-policy
    selector: {route: httpbin}
    providers: [dev-example]
    phase: preAuthz
  - name: created-later
    selector: {route: httpbin}
    providers: [login-example]
`)
	token := testdata(t, "gloo-dev-example.jwt")
	mesh := map[string]string{"X-httpbin-mesh": "true"}

	// Only the first JWT policy on the route applies; the second is reported.
	var reported bool
	for _, w := range g.warnings {
		if strings.Contains(w.Error(), `"created-later"`) && strings.Contains(w.Error(), "not applied") {
			reported = true
		}
	}
	if !reported {
		t.Errorf("no warning says jwtPolicy created-later is not applied; warnings: %v", g.warnings)
	}

	g.do("GET", "www.example.com", "/get", mesh).
		expect(t, 401, "Jwt is missing", `Bearer realm="http://www.example.com/get"`)

	r := g.do("GET", "www.example.com", "/get?auth_token="+token, mesh)
	r.expect(t, 200, "*", "")
	if got := r.upstreamHeader("X-Email"); got != "dev1@solo.io" {
		t.Errorf("upstream X-Email = %q", got)
	}
	if got := r.upstreamHeader("X-Org"); got != "internal" {
		t.Errorf("upstream X-Org = %q", got)
	}
	if _, ok := r.echo.Query["auth_token"]; ok {
		t.Errorf("the token was forwarded in the query: %v", r.echo.Query)
	}

	// The X-Auth header works too.
	g.do("GET", "www.example.com", "/get", map[string]string{"X-httpbin-mesh": "1", "X-Auth": "Bearer " + token}).
		expect(t, 200, "*", "")

	// Both sources present: both must be valid.
	g.do("GET", "www.example.com", "/get?auth_token="+token, map[string]string{"X-httpbin-mesh": "1", "X-Auth": "Bearer " + token}).
		expect(t, 200, "*", "")
	g.do("GET", "www.example.com", "/get?auth_token=garbage", map[string]string{"X-httpbin-mesh": "1", "X-Auth": "Bearer " + token}).
		expect(t, 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
			`Bearer realm="http://www.example.com/get", error="invalid_token"`)

	// The login-example token is for the provider whose policy did not apply.
	g.do("GET", "www.example.com", "/get?auth_token="+testdata(t, "gloo-login-example.jwt"), mesh).
		expect(t, 401, "Jwt issuer is not configured", `Bearer realm="http://www.example.com/get", error="invalid_token"`)

	// Without the mesh header the route does not match.
	g.do("GET", "www.example.com", "/get", nil).expect(t, 404, "", "")
}
