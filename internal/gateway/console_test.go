package gateway_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/gateway"
)

// TestConsoleWiring: the admin listener serves the console (GET /
// redirects to it); denied requests reach its denied page, with the
// token's subject only under ConsoleShowClaims, and stay listed across a
// reload.
func TestConsoleWiring(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": "https://issuer.test", "sub": "alice-subject", "exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = "k1"
	token, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer up.Close()
	cfg := fmt.Sprintf(`apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:0}]
providers:
  - name: idp
    issuer: https://issuer.test
    jwks: {inline: '{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"%s"}]}'}
routes: [{name: api, backend: {url: %s}, jwt: {providers: [idp]}}]
policies: [{name: no-admin, action: DENY, routes: [api], rules: [{to: [{paths: [/admin]}]}]}]
`, base64.RawURLEncoding.EncodeToString(pub), up.URL)

	for _, show := range []bool{false, true} {
		t.Run(fmt.Sprintf("show claims %v", show), func(t *testing.T) {
			g, _, err := gateway.Start(t.Context(), gateway.Options{Data: []byte(cfg), DataName: "gw.yaml", AdminAddress: "127.0.0.1:0", ConsoleShowClaims: show})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = g.Shutdown(t.Context()) })
			base, admin := "http://"+g.Addr("web").String(), "http://"+g.AdminAddr().String()

			req, _ := http.NewRequest(http.MethodGet, base+"/admin", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			if code := consoleStatus(t, req); code != 403 {
				t.Fatalf("/admin: status %d, want 403", code)
			}
			if err := g.Reload(t.Context()); err != nil {
				t.Fatal(err)
			}
			req, _ = http.NewRequest(http.MethodGet, base+"/data", nil)
			if code := consoleStatus(t, req); code != 401 {
				t.Fatalf("/data: status %d, want 401", code)
			}

			res, err := http.Get(admin + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || res.Request.URL.Path != "/console/" || !strings.Contains(string(b), "no-admin") {
				t.Fatalf("GET / ended at %s with %d:\n%s", res.Request.URL, res.StatusCode, b)
			}
			page := consoleGet(t, admin+"/console/denied")
			for _, w := range []string{"2 requests denied", "no-admin", "Jwt is missing", "/admin", "/data"} {
				if !strings.Contains(page, w) {
					t.Errorf("denied page lacks %q", w)
				}
			}
			if got := strings.Contains(page, "alice-subject"); got != show {
				t.Errorf("subject shown: %v, want %v", got, show)
			}
			parts := strings.Split(token, ".")
			if strings.Contains(page, parts[1]) || strings.Contains(page, parts[2]) {
				t.Error("the denied page holds the token")
			}
			if p := consoleGet(t, admin+"/console/providers"); !strings.Contains(p, "k1") || !strings.Contains(p, "local (inline or file)") {
				t.Errorf("providers page:\n%s", p)
			}
		})
	}
}

func consoleStatus(t *testing.T, req *http.Request) int {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func consoleGet(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: status %d", url, res.StatusCode)
	}
	return string(b)
}
