package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// explainConfig is the configuration of the explain tests: the bookinfo
// productpage with a required token, DENY and ALLOW policies, a header
// route, a redirect and a direct response. Its key is the HS256 secret
// explainSecret, so that tokens come out the same every run.
const explainConfig = "testdata/explain/gateway.yaml"

var explainSecret = []byte("explain-test-secret-0123456789abcdef")

// explainAt is the time the golden explanations check tokens at
// (--at): ten minutes after goldenIat.
const (
	goldenIat = 1767225600 // 2026-01-01T00:00:00Z
	explainAt = "2026-01-01T00:10:00Z"
)

// mintHS signs claims with the test secret, kid k1: iss, sub and aud
// are the issuer's, alice and productpage unless claims say otherwise (a
// nil value removes the claim).
func mintHS(t testing.TB, iat int64, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"iss": "https://issuer.example.com", "sub": "alice", "aud": "productpage", "iat": iat, "exp": iat + 3600}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(explainSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// explainCase is one request of the explain tests.
type explainCase struct {
	name    string
	method  string
	path    string // on host www.example.com
	claims  jwt.MapClaims
	token   bool // send "Authorization: Bearer" with a token minted from claims
	headers []string
}

// explainCases are the requests the goldens and the serve comparison
// run: one for each way a request ends.
var explainCases = []explainCase{
	{name: "no-route", method: "GET", path: "/nothing"},
	{name: "missing-token", method: "GET", path: "/productpage"},
	{name: "expired", method: "GET", path: "/productpage", token: true, claims: jwt.MapClaims{"exp": goldenIat - 3600}},
	{name: "wrong-audience", method: "GET", path: "/productpage", token: true, claims: jwt.MapClaims{"aud": []string{"reviews"}}},
	{name: "unknown-issuer", method: "GET", path: "/productpage", token: true, claims: jwt.MapClaims{"iss": "https://other.example.com"}},
	{name: "deny-rule", method: "GET", path: "/productpage", token: true, claims: jwt.MapClaims{"team": "interns"}},
	{name: "no-allow", method: "POST", path: "/productpage", token: true, claims: jwt.MapClaims{"team": "dev"}},
	{name: "allowed", method: "GET", path: "/productpage?u=normal", token: true, claims: jwt.MapClaims{"team": "dev"}},
	{name: "editor-post", method: "POST", path: "/productpage", token: true, claims: jwt.MapClaims{"sub": "bob", "groups": []string{"editors"}}},
	{name: "open-route-header", method: "GET", path: "/productpage", token: true, headers: []string{"X-Beta: 1"}},
	{name: "redirect", method: "GET", path: "/docs/v1/intro?page=2"},
	{name: "direct-response", method: "GET", path: "/reports"},
}

// args are the explain flags for c; iat dates the token (goldens use
// goldenIat, the serve comparison now; claims with an absolute exp are
// moved by the same offset).
func (c explainCase) args(t testing.TB, iat int64) []string {
	args := []string{"--request", c.method + " http://www.example.com" + c.path}
	if c.token {
		claims := jwt.MapClaims{}
		for k, v := range c.claims {
			if n, ok := v.(int); ok && (k == "exp" || k == "nbf") {
				v = int64(n) - goldenIat + iat
			}
			claims[k] = v
		}
		args = append(args, "--header", "Authorization: Bearer "+mintHS(t, iat, claims))
	}
	for _, h := range c.headers {
		args = append(args, "--header", h)
	}
	return args
}

// TestExplainGolden runs explain over the test configuration for each
// request, in text and for one in JSON, and compares with
// testdata/explain/NAME.golden. Regenerate with -update.
func TestExplainGolden(t *testing.T) {
	type run struct {
		name string
		args []string
	}
	var runs []run
	for _, c := range explainCases {
		runs = append(runs, run{c.name, c.args(t, goldenIat)})
	}
	runs = append(runs, run{"allowed.json", append(explainCases[7].args(t, goldenIat), "-o", "json")})
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			args := append([]string{"explain", "-c", explainConfig, "--at", explainAt}, r.args...)
			code, out, errOut := runCmd(t, args...)
			if code != exitOK || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for _, a := range r.args {
				if tok, ok := strings.CutPrefix(a, "Authorization: Bearer "); ok && strings.Contains(out, tok) {
					t.Errorf("the output shows the token")
				}
			}
			golden := filepath.Join("testdata", "explain", r.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("explain output differs from %s (rerun with -update):\n%s", golden, out)
			}
		})
	}
}

// TestExplainMatchesServe serves the test configuration for real, with
// an upstream that counts what it receives, and sends each request both
// ways: explained (by the command, and by the serving runtime as the
// admin console does) and sent. The answers agree (status, body,
// Location, WWW-Authenticate; a forwarded request reaches the upstream
// when sent), and explaining sends the upstream nothing and writes no
// access log line.
func TestExplainMatchesServe(t *testing.T) {
	var hits atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(upstream.Close)
	data, err := os.ReadFile(explainConfig)
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.NewReplacer("127.0.0.1:8080", "127.0.0.1:0", "http://127.0.0.1:9080", upstream.URL, "http://127.0.0.1:9081", upstream.URL).Replace(string(data))
	h := gatewaytest.Start(t, yaml)
	live := h.Gateway.Snapshot().Runtime
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	now := time.Now().Unix()

	for _, c := range explainCases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args(t, now)
			before, logs := hits.Load(), strings.Count(h.Logs.String(), `"msg":"access"`)

			code, out, errOut := runCmd(t, append([]string{"explain", "-c", h.Path, "-o", "json"}, args...)...)
			if code != exitOK {
				t.Fatalf("explain: exit %d, stderr %q", code, errOut)
			}
			var cmdRep proxy.ExplainReport
			if err := json.Unmarshal([]byte(out), &cmdRep); err != nil {
				t.Fatalf("explain -o json: %v\n%s", err, out)
			}
			req := proxy.ExplainRequest{Method: c.method, URL: "http://www.example.com" + c.path, Header: http.Header{}}
			for i := 1; i < len(args); i += 2 {
				if args[i-1] == "--header" {
					name, value, _ := strings.Cut(args[i], ": ")
					req.Header.Add(name, value)
				}
			}
			liveRep, err := live.ExplainRequest(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if n := hits.Load(); n != before {
				t.Fatalf("explaining sent %d requests upstream", n-before)
			}
			if n := strings.Count(h.Logs.String(), `"msg":"access"`); n != logs {
				t.Errorf("explaining wrote %d access log lines", n-logs)
			}

			sent, err := http.NewRequest(c.method, h.URL("web")+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			sent.Host = "www.example.com"
			for name, vs := range req.Header {
				sent.Header[name] = vs
			}
			resp, err := client.Do(sent)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()

			for _, rep := range []*proxy.ExplainReport{&cmdRep, liveRep} {
				a := rep.Answer
				if a.Forwarded {
					if resp.Header.Get("X-Upstream") != "yes" || hits.Load() != before+1 {
						t.Errorf("explained as forwarded, served %d %q without the upstream", resp.StatusCode, body)
					}
					if rep.Upstream == nil {
						t.Errorf("forwarded without the upstream's request")
					}
					continue
				}
				if resp.StatusCode != a.Status || string(body) != a.Body {
					t.Errorf("explained %d %q, served %d %q", a.Status, a.Body, resp.StatusCode, body)
				}
				for _, name := range []string{"Location", "Www-Authenticate", "Retry-After"} {
					if got, want := resp.Header.Get(name), http.Header(a.Header).Get(name); got != want {
						t.Errorf("%s: explained %q, served %q", name, want, got)
					}
				}
				if hits.Load() != before {
					t.Errorf("explained as answered by the gateway, but the upstream got the request")
				}
			}
		})
	}
}

// TestExplainUsage: missing or malformed flags and requests exit 2 with
// a message; a configuration with errors exits 1.
func TestExplainUsage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("listeners: [{name: web}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--request", "GET /"}, exitUsage, "-c PATH"},
		{[]string{"-c", explainConfig}, exitUsage, "--request is required"},
		{[]string{"-c", explainConfig, "--request", "GET /", "-o", "yaml"}, exitUsage, "want text or json"},
		{[]string{"-c", explainConfig, "--request", "GET ftp://x/"}, exitUsage, "want http://"},
		{[]string{"-c", explainConfig, "--request", "CONNECT www.example.com:443"}, exitUsage, "CONNECT is not explained"},
		{[]string{"-c", explainConfig, "--request", "GET /", "--listener", "nope"}, exitUsage, `no listener "nope"`},
		{[]string{"-c", explainConfig, "--request", "GET /", "--header", "no colon"}, exitUsage, "want \"Name: value\""},
		{[]string{"-c", explainConfig, "--request", "GET /", "--remote-addr", "nowhere"}, exitUsage, "want IP or IP:port"},
		{[]string{"-c", explainConfig, "--request", "GET /", "--peer-spiffe", "https://x"}, exitUsage, "want spiffe://"},
		{[]string{"-c", explainConfig, "--request", "GET /", "--at", "yesterday"}, exitUsage, "RFC 3339"},
		{[]string{"-c", bad, "--request", "GET /"}, exitError, "configuration has"},
	}
	for _, tt := range tests {
		code, _, errOut := runCmd(t, append([]string{"explain"}, tt.args...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("explain %q: exit %d, stderr %q; want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

// TestExplainRemoteKeys: a remote key set is fetched as serve fetches it
// (from a local JWKS server); --jwks FILE replaces every remote key set
// and nothing is fetched.
func TestExplainRemoteKeys(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwksOf := func(kid string) string {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: kid, Algorithm: "RS256", Use: "sig"}}})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var fetches atomic.Int32
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		_, _ = io.WriteString(w, jwksOf("k1"))
	}))
	t.Cleanup(keys.Close)
	dir := t.TempDir()
	cfg, file, other := filepath.Join(dir, "gateway.yaml"), filepath.Join(dir, "keys.json"), filepath.Join(dir, "other.json")
	conf := fmt.Sprintf(`apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: "127.0.0.1:8080"}]
providers:
  - name: remote
    issuer: https://issuer.example.com
    jwks: {uri: %q}
routes:
  - name: api
    backend: {url: "http://127.0.0.1:9080"}
    jwt: {providers: [remote]}
`, keys.URL+"/jwks")
	for name, data := range map[string]string{cfg: conf, file: jwksOf("k1"), other: jwksOf("k2")} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "https://issuer.example.com", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = "k1"
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"explain", "-c", cfg, "--request", "http://www.example.com/", "--header", "Authorization: Bearer " + signed}

	code, out, errOut := runCmd(t, base...)
	if code != exitOK || !strings.Contains(out, `provider "remote": verified`) || fetches.Load() == 0 {
		t.Fatalf("remote keys: exit %d, %d fetches, stderr %q\n%s", code, fetches.Load(), errOut, out)
	}
	fetched := fetches.Load()
	for _, spec := range []string{file, "remote=" + file} {
		code, out, errOut = runCmd(t, append(base, "--jwks", spec)...)
		if code != exitOK || !strings.Contains(out, `provider "remote": verified`) || fetches.Load() != fetched {
			t.Fatalf("--jwks %s: exit %d, %d more fetches, stderr %q\n%s", spec, code, fetches.Load()-fetched, errOut, out)
		}
	}
	code, out, _ = runCmd(t, append(base, "--jwks", other)...)
	if code != exitOK || !strings.Contains(out, `failed kid/alg`) || !strings.Contains(out, `the key set has kid "k2" RS256`) || !bytes.Contains([]byte(out), []byte("answer: 401")) {
		t.Fatalf("--jwks with other keys: exit %d\n%s", code, out)
	}
	code, _, errOut = runCmd(t, append(base, "--jwks", filepath.Join(dir, "missing.json"))...)
	if code != exitError || !strings.Contains(errOut, "missing.json") {
		t.Fatalf("--jwks of a missing file: exit %d, stderr %q", code, errOut)
	}
}

// TestExplainDocExample: the example in docs/cli.md is the expired
// golden, which the commands it shows produce exactly.
func TestExplainDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "explain", "expired.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, golden) {
		t.Errorf("docs/cli.md does not show testdata/explain/expired.golden as the explain example")
	}
	want := mintHS(t, goldenIat, jwt.MapClaims{"exp": goldenIat - 3600})
	_, out, _ := runCmd(t, "token", "--secret", string(explainSecret), "--kid", "k1", "--iss", "https://issuer.example.com",
		"--sub", "alice", "--aud", "productpage", "--claim", "iat=1767225600", "--exp", "1767222000")
	if strings.TrimSpace(out) != want {
		t.Errorf("the documented jwtgate token command mints another token than the golden's")
	}
}
