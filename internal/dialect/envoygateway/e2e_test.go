package envoygateway_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// e2eConfig is a Gateway on loopback, an HTTPRoute with the rules
// public and api, the Service and EndpointSlice of an upstream on
// 127.0.0.1, the key set in a ConfigMap, and two SecurityPolicies: one
// on the HTTPRoute (JWT and ordered rules), one on its rule public
// (allow everything), which replaces it there.
const e2eConfig = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: eg, namespace: infra}
spec:
  gatewayClassName: eg
  listeners: [{name: http, protocol: HTTP, port: %[1]d, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backend, namespace: shop}
spec:
  parentRefs: [{name: eg, namespace: infra}]
  hostnames: [www.example.com]
  rules:
    - {name: public, matches: [{path: {value: /public}}], backendRefs: [{name: backend, port: 3000}]}
    - {name: api, matches: [{path: {value: /api}}], backendRefs: [{name: backend, port: 3000}]}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: shop}
spec:
  ports: [{name: http, port: 3000, targetPort: %[2]d}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: backend-1, namespace: shop, labels: {kubernetes.io/service-name: backend}}
addressType: IPv4
ports: [{name: http, port: %[2]d}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: keys, namespace: shop}
data:
  jwks: '%[3]s'
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: api, namespace: shop}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: backend}]
  jwt:
    providers:
      - name: example
        issuer: https://auth.example.com
        audiences: [backend]
        localJWKS: {type: ValueRef, valueRef: {kind: ConfigMap, name: keys}}
        claimToHeaders: [{header: x-team, claim: team}]
  authorization:
    defaultAction: Deny
    rules:
      - name: no-deletes
        action: Deny
        operation: {methods: [DELETE]}
        principal: {clientCIDRs: [0.0.0.0/0, "::/0"]}
      - name: admins-from-this-host
        action: Allow
        operation: {path: {value: /api/admin}}
        principal:
          clientCIDRs: [127.0.0.0/8]
          jwt: {provider: example, claims: [{name: roles, valueType: StringArray, values: [admin]}]}
      - name: admin-closed
        action: Deny
        operation: {path: {value: /api/admin}}
        principal: {clientCIDRs: [0.0.0.0/0, "::/0"]}
      - name: office-reports
        action: Allow
        operation: {path: {value: /api/reports}}
        principal: {clientCIDRs: [10.0.0.0/8]}
      - name: reports-closed
        action: Deny
        operation: {path: {value: /api/reports}}
        principal: {clientCIDRs: [0.0.0.0/0, "::/0"]}
      - name: canary
        action: Allow
        operation: {methods: [GET], path: {type: Exact, value: /api/canary}}
        principal: {headers: [{name: x-canary, values: ["on"]}]}
      - name: readers
        action: Allow
        operation: {methods: [GET, HEAD]}
        principal: {jwt: {provider: example, scopes: [read]}}
      - name: dev-team-writes
        action: Allow
        operation: {methods: [POST, PUT]}
        principal: {jwt: {provider: example, claims: [{name: team, values: [dev]}], scopes: [write]}}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: public, namespace: shop}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: backend, sectionName: public}]
  authorization: {defaultAction: Allow}
`

// issuer holds the test's signing key.
type issuer struct{ key *rsa.PrivateKey }

func newIssuer(t *testing.T) *issuer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{key: k}
}

// jwks is the issuer's public key set.
func (is *issuer) jwks() string {
	b64 := base64.RawURLEncoding.EncodeToString
	e := big.NewInt(int64(is.key.E)).Bytes()
	return fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"%s","e":"%s"}]}`, b64(is.key.N.Bytes()), b64(e))
}

// token mints a token of https://auth.example.com for the audience
// backend, with claims added.
func (is *issuer) token(t *testing.T, claims jwt.MapClaims) string {
	c := jwt.MapClaims{"iss": "https://auth.example.com", "aud": "backend", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(is.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// echoed is what the upstream answers: the request it received.
type echoed struct {
	Path   string      `json:"path"`
	Header http.Header `json:"header"`
}

// freePort is a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	_, p, err := net.SplitHostPort(gatewaytest.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(p, &n)
	return n
}

// TestServe serves the configuration the way `jwtgate serve
// --bind-address 127.0.0.1` does and checks authentication and every
// kind of authorization rule end to end.
func TestServe(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(echoed{Path: r.URL.Path, Header: r.Header})
	}))
	t.Cleanup(up.Close)
	upPort := up.Listener.Addr().(*net.TCPAddr).Port
	is := newIssuer(t)
	port := freePort(t)
	yaml := fmt.Sprintf(e2eConfig, port, upPort, is.jwks())
	gw, snap, err := gateway.Start(context.Background(), gateway.Options{Data: []byte(yaml), DataName: "envoygateway.yaml",
		Select: dialect.Selection{BindAddress: "127.0.0.1"}})
	if errors.Is(err, gateway.ErrInvalid) {
		t.Fatalf("the configuration has errors:\n%v", snap.Issues.Err())
	}
	if err != nil {
		t.Fatalf("starting the gateway: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	for _, st := range snap.Statuses {
		if !st.Accepted() {
			t.Errorf("%s", st)
		}
	}

	reader := is.token(t, jwt.MapClaims{"team": "dev", "scope": "read"})
	devWriter := is.token(t, jwt.MapClaims{"team": "dev", "scope": "read write"})
	opsWriter := is.token(t, jwt.MapClaims{"team": "ops", "scope": "write"})
	admin := is.token(t, jwt.MapClaims{"team": "ops", "roles": []string{"admin"}, "scope": "read"})
	noScope := is.token(t, jwt.MapClaims{"team": "dev"})
	otherAud := is.token(t, jwt.MapClaims{"aud": "other", "scope": "read"})
	expired := is.token(t, jwt.MapClaims{"scope": "read", "exp": time.Now().Add(-time.Hour).Unix()})

	for _, tc := range []struct {
		name, method, path, token string
		header                    map[string]string
		status                    int
		body                      string // the start of the body, for answers of the gateway
	}{
		{name: "public rule, no token", method: "GET", path: "/public/page", status: 200},
		{name: "public rule, DELETE allowed there", method: "DELETE", path: "/public/page", status: 200},
		{name: "no token", method: "GET", path: "/api/items", status: 401, body: "Jwt is missing"},
		{name: "CORS preflight needs a token too", method: "OPTIONS", path: "/api/items", status: 401, body: "Jwt is missing",
			header: map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}},
		{name: "expired token", method: "GET", path: "/api/items", token: expired, status: 401, body: "Jwt is expired"},
		{name: "other audience", method: "GET", path: "/api/items", token: otherAud, status: 403, body: "Audiences in Jwt are not allowed"},
		{name: "scope read", method: "GET", path: "/api/items", token: reader, status: 200},
		{name: "no scope: defaultAction Deny", method: "GET", path: "/api/items", token: noScope, status: 403, body: "RBAC: access denied"},
		{name: "write scope and team dev", method: "POST", path: "/api/items", token: devWriter, status: 200},
		{name: "write scope, team ops", method: "POST", path: "/api/items", token: opsWriter, status: 403, body: "RBAC: access denied"},
		{name: "DELETE denied first", method: "DELETE", path: "/api/items", token: devWriter, status: 403},
		{name: "admin role from loopback", method: "GET", path: "/api/admin/users", token: admin, status: 200},
		{name: "no admin role", method: "GET", path: "/api/admin/users", token: reader, status: 403},
		{name: "admin path prefix is segment-wise", method: "GET", path: "/api/administrators", token: reader, status: 200},
		{name: "reports from outside 10/8", method: "GET", path: "/api/reports", token: reader, status: 403},
		{name: "canary header", method: "GET", path: "/api/canary", token: noScope, header: map[string]string{"X-Canary": "on"}, status: 200},
		{name: "canary header off", method: "GET", path: "/api/canary", token: noScope, header: map[string]string{"X-Canary": "off"}, status: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, fmt.Sprintf("http://127.0.0.1:%d%s", port, tc.path), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "www.example.com"
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			if tc.body != "" && !strings.HasPrefix(string(body), tc.body) {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if res.StatusCode == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer realm=") {
				t.Errorf("WWW-Authenticate %q", res.Header.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("claim header and token at the upstream", func(t *testing.T) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/items", port), nil)
		req.Host = "www.example.com"
		req.Header.Set("Authorization", "Bearer "+reader)
		req.Header.Set("X-Team", "spoofed")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var e echoed
		if err := json.NewDecoder(res.Body).Decode(&e); err != nil || res.StatusCode != 200 {
			t.Fatalf("status %d, %v", res.StatusCode, err)
		}
		if got := e.Header.Values("X-Team"); len(got) != 1 || got[0] != "dev" {
			t.Errorf("X-Team %q at the upstream, want [dev]", got)
		}
		if got := e.Header.Get("Authorization"); got != "Bearer "+reader {
			t.Errorf("Authorization %q at the upstream: Envoy Gateway forwards the token", got)
		}
	})
}
