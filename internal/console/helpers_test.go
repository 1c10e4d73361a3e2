package console_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// issuer signs tokens with an Ed25519 key made for the test.
type issuer struct {
	priv ed25519.PrivateKey
	jwks string
}

func newIssuer(t testing.TB) *issuer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x := base64.RawURLEncoding.EncodeToString(pub)
	return &issuer{priv: priv, jwks: `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"console-k1","alg":"EdDSA","x":"` + x + `"}]}`}
}

// token signs claims (iss and exp filled in unless given).
func (is *issuer) token(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	if _, ok := claims["iss"]; !ok {
		claims["iss"] = "https://issuer.test"
	}
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = "console-k1"
	s, err := tok.SignedString(is.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tokens are one of each kind the console must never show: valid (and
// then denied by policy), expired, forged, and wrongly issued.
type tokens struct{ valid, expired, forged, stranger string }

func (is *issuer) tokens(t testing.TB) tokens {
	valid := is.token(t, jwt.MapClaims{"sub": "alice-subject"})
	parts := strings.Split(valid, ".")
	return tokens{
		valid:    valid,
		expired:  is.token(t, jwt.MapClaims{"sub": "bob-subject", "exp": time.Now().Add(-time.Hour).Unix()}),
		forged:   parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		stranger: is.token(t, jwt.MapClaims{"sub": "carol-subject", "iss": "https://stranger.test"}),
	}
}

// secrets are the strings of t that must appear on no console page: each
// token's payload and signature, and the subjects.
func (t tokens) secrets() []string {
	var out []string
	for _, tok := range []string{t.valid, t.expired, t.forged, t.stranger} {
		p := strings.Split(tok, ".")
		out = append(out, p[1], p[2])
	}
	return append(out, "alice-subject", "bob-subject", "carol-subject")
}

// failingJWKS is a key set server that answers 500, counting requests.
func failingJWKS(t testing.TB) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// upstream answers 200 "ok".
func upstream(t testing.TB) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(s.Close)
	return s
}

// gatewayConfig: route api requires a token of provider idp and has a
// DENY policy on /admin; route flaky uses a provider whose key set
// server fails.
func gatewayConfig(up, jwks, keys string) string {
	return fmt.Sprintf(`apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:0
providers:
  - name: idp
    issuer: https://issuer.test
    jwks:
      inline: '%s'
  - name: flaky
    issuer: https://flaky.test
    jwks:
      uri: %s/jwks.json
routes:
  - name: flaky
    match: {pathPrefix: [/flaky]}
    backend: {url: %s}
    jwt: {providers: [flaky]}
  - name: api
    backend: {url: %s}
    jwt: {providers: [idp]}
policies:
  - name: no-admin
    action: DENY
    routes: [api]
    rules:
      - to: [{paths: ["/admin"]}]
`, keys, jwks, up, up)
}

// startGateway starts a gateway with the admin listener and the console.
func startGateway(t testing.TB) (*gatewaytest.Harness, *issuer) {
	is := newIssuer(t)
	jwks, _ := failingJWKS(t)
	up := upstream(t)
	h := gatewaytest.Start(t, gatewayConfig(up.URL, jwks.URL, is.jwks), gatewaytest.Admin())
	return h, is
}

// sendDenied sends one request of each denied kind, every token both in
// the Authorization header and in the query, and one that is let
// through. It returns how many were denied.
func sendDenied(t testing.TB, base string, tk tokens) int {
	t.Helper()
	n := 0
	for _, tc := range []struct {
		path, token string
		status      int
	}{
		{"/admin", tk.valid, 403},
		{"/data", tk.expired, 401},
		{"/data", tk.forged, 401},
		{"/data", tk.stranger, 401},
		{"/data", "", 401},
		{"/data", tk.valid, 200},
	} {
		for _, inQuery := range []bool{false, true} {
			req, err := http.NewRequest(http.MethodGet, base+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.token != "" {
				if inQuery {
					req.URL.RawQuery = "access_token=" + tc.token
				} else {
					req.Header.Set("Authorization", "Bearer "+tc.token)
				}
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("%s (token in query %v): status %d, want %d", tc.path, inQuery, res.StatusCode, tc.status)
			}
			if tc.status != 200 {
				n++
			}
		}
	}
	return n
}

// getPage fetches a console page over the admin listener.
func getPage(t testing.TB, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}
