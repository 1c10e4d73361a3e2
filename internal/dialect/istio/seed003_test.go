package istio_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// The ASM seed's sample token and JWKS (RS256, issuer and subject
// testing@secure.istio.io, kid DHFbpo...), and the private key of
// Istio's test issuer they belong to.
const (
	seedToken = "../../authn/testdata/seeds/003_token.jwt"
	seedJWKS  = "../../authn/testdata/seeds/003_jwks.json"
	seedKey   = "../../authn/testdata/vectors/istio/key.pem"
)

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// seedGateway serves the ASM wizard's resources for match mode paths
// (an operation of the DENY rule, such as "paths: [/productpage]" or
// "notPaths: [/productpage]") in front of an echo upstream.
func seedGateway(t *testing.T, operation string) *gatewaytest.Harness {
	t.Helper()
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	jwks := strings.ReplaceAll(readTrim(t, seedJWKS), "\n", "")
	return gatewaytest.Start(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
workload:
  namespace: istio-system
  labels: {istio: ingressgateway, app: istio-ingressgateway}
listeners:
  - name: gateway
    address: 127.0.0.1:0
routes:
  - name: bookinfo
    backend: {url: `+up.URL+`}
---
apiVersion: security.istio.io/v1beta1
kind: RequestAuthentication
metadata:
  name: ingressgateway-jwt
  namespace: istio-system
spec:
  selector:
    matchLabels: {istio: ingressgateway}
  jwtRules:
    - issuer: testing@secure.istio.io
      jwks: '`+jwks+`'
      forwardOriginalToken: true
      outputPayloadToHeader: x-jwt-payload
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: ingressgateway-jwt-match
  namespace: istio-system
spec:
  selector:
    matchLabels: {istio: ingressgateway}
  action: DENY
  rules:
    - from:
        - source:
            notRequestPrincipals: ["*"]
      to:
        - operation:
            `+operation+`
`)
}

type answer struct {
	status int
	body   string
	header http.Header
	echo   demo.Echoed
}

func get(t *testing.T, h *gatewaytest.Harness, path, token string) answer {
	t.Helper()
	req, err := http.NewRequest("GET", h.URL("gateway")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "bookinfo.example.com"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, body: string(b), header: res.Header}
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &a.echo); err != nil {
			t.Fatalf("not the echo: %v\n%s", err, b)
		}
	}
	return a
}

// TestSeed003 is the ASM walkthrough's table, both match modes, with the
// Istio resources the wizard generates.
func TestSeed003(t *testing.T) {
	token := readTrim(t, seedToken)
	for _, mode := range []struct {
		name, operation, protected, open string
	}{
		{"auth if matched", "paths: [/productpage]", "/productpage", "/api/v1/products/1"},
		{"bypass auth if matched", "notPaths: [/productpage]", "/api/v1/products/1", "/productpage"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			h := seedGateway(t, mode.operation)
			// 1. A valid token on the protected path: 200; the token is
			// forwarded and the payload header set.
			a := get(t, h, mode.protected, token)
			if a.status != 200 {
				t.Fatalf("valid token: %d %s", a.status, a.body)
			}
			if got := a.echo.Headers["Authorization"]; len(got) != 1 || got[0] != "Bearer "+token {
				t.Errorf("forwardOriginalToken: upstream Authorization %q", got)
			}
			payload := strings.Split(token, ".")[1]
			if got := a.echo.Headers["X-Jwt-Payload"]; len(got) != 1 || got[0] != payload {
				t.Errorf("outputPayloadToHeader: %q, want %q", got, payload)
			} else if b, err := base64.RawURLEncoding.DecodeString(got[0]); err != nil || !strings.Contains(string(b), `"foo":"bar"`) {
				t.Errorf("payload %q: %v", b, err)
			}
			// 2. No token on the protected path: 403 from authorization.
			if a := get(t, h, mode.protected, ""); a.status != 403 || a.body != "RBAC: access denied" {
				t.Errorf("no token, protected: %d %q", a.status, a.body)
			}
			// 3. An invalid token: 401 with error="invalid_token", on
			// both paths.
			for _, p := range []string{mode.protected, mode.open} {
				a := get(t, h, p, "invalid token")
				want := `Bearer realm="http://bookinfo.example.com` + p + `", error="invalid_token"`
				if a.status != 401 || a.header.Get("WWW-Authenticate") != want {
					t.Errorf("invalid token on %s: %d %q %q", p, a.status, a.body, a.header.Get("WWW-Authenticate"))
				}
			}
			// 4. No token elsewhere: 200.
			if a := get(t, h, mode.open, ""); a.status != 200 {
				t.Errorf("no token, open: %d %s", a.status, a.body)
			}
			// A token of an issuer no jwtRule names: 401.
			other := mint(t, jwt.MapClaims{"iss": "someone@else.example", "sub": "x", "exp": time.Now().Add(time.Hour).Unix()})
			if a := get(t, h, mode.open, other); a.status != 401 || a.body != "Jwt issuer is not configured" {
				t.Errorf("unknown issuer: %d %q", a.status, a.body)
			}
			// An expired token of the right issuer: 401, not 403.
			expired := mint(t, jwt.MapClaims{"iss": "testing@secure.istio.io", "sub": "x", "exp": time.Now().Add(-time.Hour).Unix()})
			if a := get(t, h, mode.protected, expired); a.status != 401 || a.body != "Jwt is expired" {
				t.Errorf("expired: %d %q", a.status, a.body)
			}
		})
	}
}

// mint signs claims with the key of the seed's JWKS.
func mint(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(readTrim(t, seedKey)))
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
