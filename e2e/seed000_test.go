package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// issuer signs tokens with a fresh P-256 key and publishes it as a JWKS.
type issuer struct {
	key  *ecdsa.PrivateKey
	jwks string
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{key: key, jwks: string(b)}
}

func (is *issuer) token(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(is.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSeed000PaymentsServiceOnly is TSB's server-level authorization rule
// "payments-service-only" (issuer and subject of the token, GET or POST,
// /v1/payments/*), here on an ingress route; the payload header output is
// checked too.
func TestSeed000PaymentsServiceOnly(t *testing.T) {
	is := newIssuer(t)
	g := startGateway(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:0
providers:
  - name: auth-example
    issuer: https://auth.example.com
    jwks:
      inline: '`+is.jwks+`'
    payloadHeader: x-jwt-payload
routes:
  - name: payment-api
    match:
      hosts: [api.payment-provider.com]
    backend:
      url: UPSTREAM
    jwt:
      providers: [auth-example]
policies:
  - name: payment-api
    action: ALLOW
    routes: [payment-api]
    rules:
      - name: payments-service-only
        from:
          - jwt:
              iss: https://auth.example.com
              sub: payments-service@example.com
        to:
          - methods: [GET, POST]
            paths: ["/v1/payments/*"]
`)
	const host = "api.payment-provider.com"
	payments := is.token(t, jwt.MapClaims{"iss": "https://auth.example.com", "sub": "payments-service@example.com"})
	other := is.token(t, jwt.MapClaims{"iss": "https://auth.example.com", "sub": "orders-service@example.com"})
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	for _, tc := range []struct {
		name, method, path string
		headers            map[string]string
		status             int
		body               string
	}{
		{"payments GET", "GET", "/v1/payments/123", bearer(payments), 200, "*"},
		{"payments POST", "POST", "/v1/payments/new", bearer(payments), 200, "*"},
		{"payments DELETE", "DELETE", "/v1/payments/123", bearer(payments), 403, "RBAC: access denied"},
		{"payments other path", "GET", "/v1/refunds/1", bearer(payments), 403, "RBAC: access denied"},
		{"payments prefix itself", "GET", "/v1/payments", bearer(payments), 403, "RBAC: access denied"},
		{"other subject", "GET", "/v1/payments/123", bearer(other), 403, "RBAC: access denied"},
		{"no token", "GET", "/v1/payments/123", nil, 401, "Jwt is missing"},
		{"dot segments cannot escape the rule", "GET", "/v1/payments/../refunds/1", bearer(payments), 403, "RBAC: access denied"},
		{"doubled slashes are merged before matching", "GET", "//v1//payments/123", bearer(payments), 200, "*"},
		{"doubled slashes cannot escape the rule", "GET", "/v1/payments//../refunds/1", bearer(payments), 403, "RBAC: access denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do(tc.method, host, tc.path, tc.headers)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d (body %q)", r.status, tc.status, r.body)
			}
			if tc.body != "*" && r.body != tc.body {
				t.Errorf("body = %q, want %q", r.body, tc.body)
			}
			if r.status != 200 {
				return
			}
			// The payload header carries the token's payload segment.
			got := r.upstreamHeader("X-Jwt-Payload")
			if want := strings.Split(payments, ".")[1]; got != want {
				t.Errorf("x-jwt-payload = %q, want %q", got, want)
			}
			raw, err := base64.RawURLEncoding.DecodeString(got)
			if err != nil || !strings.Contains(string(raw), `"payments-service@example.com"`) {
				t.Errorf("x-jwt-payload does not decode to the claims: %s %v", raw, err)
			}
		})
	}
}
