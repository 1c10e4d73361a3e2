package kgateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/model"
)

// P is where kgateway's expressions read the verified token's claims.
const P = "metadata.filter_metadata['envoy.filters.http.jwt_authn']['payload']"

// rbacConfig is a Gateway on port with one HTTPRoute (every path) to the
// upstream, a GatewayExtension trusting iss, and a TrafficPolicy on the
// Gateway that requires a token and holds rbac (YAML under "rbac:").
func rbacConfig(port, up int, iss *demo.Issuer, rbac string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: kgateway
  listeners: [{name: web, protocol: HTTP, port: %d}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{group: gateway.kgateway.dev, kind: Backend, name: app}]}]
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata: {name: app, namespace: infra}
spec:
  static: {hosts: [{host: 127.0.0.1, port: %d}]}
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: GatewayExtension
metadata: {name: users, namespace: infra}
spec:
  jwt:
    providers: [{name: users, issuer: %q, jwks: {local: {inline: '%s'}}}]
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: gw, namespace: infra}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  jwtAuth: {extensionRef: {name: users}}
  rbac:
%s`, port, up, iss.URL, iss.JWKS(), rbac)
}

// claimSets are the tokens' claims besides iss and exp.
var claimSets = []map[string]any{
	{"sub": "alice", "team": "dev", "org": "solo.io", "scope": "read admin", "groups": []any{"eng", "ops"},
		"llms": map[string]any{"openai": []any{"gpt-4"}}, "kubernetes.io": map[string]any{"namespace": "shop"}},
	{"sub": "bob", "team": "ops", "org": "example.com", "scope": "superadmin", "groups": []any{"dev"}},
	{"sub": "carol"},
	{"sub": "dan", "team": "qa", "scope": "admin"},
}

// rbacRequest is a request sent with each token.
type rbacRequest struct {
	method, path string
	header       map[string]string
}

var rbacRequests = []rbacRequest{
	{http.MethodGet, "/api/orders", map[string]string{"x-tenant": "a"}},
	{http.MethodPost, "/other", nil},
}

// celMatches evaluates expr with cel-go on its own, with plain maps for
// Envoy's attributes, as Envoy would for a request with a verified
// token: an error (a claim that is not there) is no match.
func celMatches(t *testing.T, expr string, claims map[string]any, r rbacRequest) bool {
	t.Helper()
	env, err := model.CELEnv()
	if err != nil {
		t.Fatal(err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatal(iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		t.Fatal(err)
	}
	// The payload as Envoy holds it: JSON decoded.
	var payload map[string]any
	b, _ := json.Marshal(claims)
	_ = json.Unmarshal(b, &payload)
	headers := map[string]any{}
	for k, v := range r.header {
		headers[k] = v
	}
	out, _, err := prg.Eval(map[string]any{
		"metadata": map[string]any{"filter_metadata": map[string]any{"envoy.filters.http.jwt_authn": map[string]any{"payload": payload}}},
		"request":  map[string]any{"method": r.method, "url_path": r.path, "headers": headers},
	})
	return err == nil && out == types.True
}

// send sends r with token to the gateway on port.
func send(t *testing.T, port int, r rbacRequest, token string) int {
	t.Helper()
	req, _ := http.NewRequest(r.method, "http://127.0.0.1:"+strconv.Itoa(port)+r.path, nil)
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// newIssuer is a token issuer with a fresh key.
func newIssuer(t *testing.T) (*demo.Issuer, []string) {
	t.Helper()
	iss, err := demo.NewIssuer("https://issuer.example.com")
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for _, c := range claimSets {
		c = clone(c)
		c["exp"] = time.Now().Add(time.Hour).Unix()
		tok, err := iss.Mint(c)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
	}
	return iss, tokens
}

func clone(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestRBACAgreesWithCEL serves each expression, in an Allow and in a
// Deny policy, and checks every decision through the gateway against
// cel-go's evaluation of the expression with plain maps: jwtgate's
// attributes are what Envoy's are.
func TestRBACAgreesWithCEL(t *testing.T) {
	exprs := []string{
		P + "['team'] == 'dev'",
		"'ops' == " + P + "['team']",
		P + "['team'] in ['dev', 'qa']",
		"'eng' in " + P + "['groups']",
		"'admin' in " + P + "['scope'].split(' ')",
		P + "['scope'] == 'admin'",
		"'gpt-4' in " + P + "['llms']['openai']",
		P + "['kubernetes.io']['namespace'] == 'shop'",
		P + "['team'] == 'dev' && " + P + "['sub'] == 'alice'",
		P + "['team'] == 'ops' || " + P + "['sub'] == 'carol'",
		"(" + P + "['team'] == 'dev' || " + P + "['team'] == 'ops') && request.method == 'GET'",
		"request.url_path.startsWith('/api') && " + P + "['org'] == 'solo.io'",
		"request.headers['x-tenant'] == 'a' && " + P + "['team'] in ['dev', 'qa']",
		"metadata.filter_metadata['envoy.filters.http.jwt_authn'].payload.sub == 'bob'",
		"request.method in ['POST'] && request.url_path == '/other'",
		"true",
		"false",
		P + "['team'] != 'ops'",
		"!(" + P + "['sub'] == 'alice')",
		"size(" + P + "['groups']) > 1",
		P + "['team'].startsWith('d')",
		P + "['team'] == 'dev*'",
		P + "['groups'].exists(g, g.endsWith('s'))",
		"has(" + P + ".team) ? " + P + ".team == 'dev' : request.method == 'POST'",
		"'x-tenant' in request.headers || " + P + "['scope'].split(' ').size() == 1",
	}
	iss, tokens := newIssuer(t)
	up := upstream(t)
	for _, action := range []string{"Allow", "Deny"} {
		for i, expr := range exprs {
			t.Run(action+"/"+strconv.Itoa(i), func(t *testing.T) {
				port := freePort(t)
				start(t, rbacConfig(port, up, iss, fmt.Sprintf("    action: %s\n    policy:\n      matchExpressions: [%q]\n", action, expr)))
				for k, tok := range tokens {
					for _, r := range rbacRequests {
						match := celMatches(t, expr, claimSets[k], r)
						want := http.StatusForbidden
						if match == (action == "Allow") {
							want = http.StatusOK
						}
						if got := send(t, port, r, tok); got != want {
							t.Errorf("%s %s, %s, claims %v: %d, want %d (CEL: %v)", r.method, r.path, expr, claimSets[k], got, want, match)
						}
					}
				}
				if got := send(t, port, rbacRequests[0], ""); got != http.StatusUnauthorized {
					t.Errorf("no token: %d, want 401", got)
				}
			})
		}
	}
}

// TestRBACFailsClosed serves expressions that read Envoy attributes
// jwtgate does not provide: in an Allow policy they allow nobody, in a
// Deny policy they deny everybody, with a warning.
func TestRBACFailsClosed(t *testing.T) {
	exprs := []string{
		"xds.route_name == 'r'",
		"request.size > 0 || " + P + "['team'] == 'dev'",
		"!('x' in filter_state)",
		"metadata.filter_metadata['envoy.filters.http.ext_authz']['ok'] == true",
	}
	iss, tokens := newIssuer(t)
	up := upstream(t)
	for _, action := range []string{"Allow", "Deny"} {
		for i, expr := range exprs {
			t.Run(action+"/"+strconv.Itoa(i), func(t *testing.T) {
				port := freePort(t)
				snap := start(t, rbacConfig(port, up, iss, fmt.Sprintf("    action: %s\n    policy:\n      matchExpressions: [%q]\n", action, expr)))
				warned := false
				for _, is := range snap.Issues {
					warned = warned || strings.Contains(is.Msg, "Envoy attribute jwtgate does not provide")
				}
				if !warned {
					t.Errorf("no warning for %s: %v", expr, snap.Issues)
				}
				for _, tok := range tokens {
					for _, r := range rbacRequests {
						if got := send(t, port, r, tok); got != http.StatusForbidden {
							t.Errorf("%s %s: %d, want 403", r.method, r.path, got)
						}
					}
				}
			})
		}
	}
}

// TestRBACCIDRs checks allowedCIDRs and blockedCIDRs with the client's
// address, 127.0.0.1, for alice (team dev) and bob (team ops).
func TestRBACCIDRs(t *testing.T) {
	team := func(v string) string { return fmt.Sprintf("      matchExpressions: [%q]\n", P+"['team'] == '"+v+"'") }
	cases := []struct {
		name, policy string
		alice, bob   int
	}{
		{"allow from loopback, team dev", "    policy:\n" + team("dev") + "      allowedCIDRs: [127.0.0.0/8]\n", 200, 403},
		{"allow from elsewhere", "    policy:\n      allowedCIDRs: [10.0.0.0/8]\n", 403, 403},
		{"allow, blocked wins", "    policy:\n      allowedCIDRs: [127.0.0.0/8]\n      blockedCIDRs: [127.0.0.1/32]\n", 403, 403},
		{"deny blocked", "    action: Deny\n    policy:\n      blockedCIDRs: [127.0.0.1/32]\n", 403, 403},
		{"deny blocked elsewhere", "    action: Deny\n    policy:\n      blockedCIDRs: [10.0.0.0/8]\n", 200, 200},
		{"deny team ops from loopback", "    action: Deny\n    policy:\n" + team("ops") + "      allowedCIDRs: [127.0.0.0/8]\n", 200, 403},
		{"deny team ops from elsewhere", "    action: Deny\n    policy:\n" + team("ops") + "      allowedCIDRs: [10.0.0.0/8]\n", 200, 200},
	}
	iss, tokens := newIssuer(t)
	up := upstream(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			port := freePort(t)
			start(t, rbacConfig(port, up, iss, c.policy))
			for k, want := range []int{c.alice, c.bob} {
				if got := send(t, port, rbacRequests[0], tokens[k]); got != want {
					t.Errorf("%s: %d, want %d", claimSets[k]["sub"], got, want)
				}
			}
		})
	}
}
