package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// exampleCopy copies examples/NAME's YAML into a temporary folder,
// sending the gateway's port 8080 to a free port and the EndpointSlice's
// endpoint port 8000 to the upstream's: the only edits, as a user would
// make to try the example elsewhere. It returns the folder and the
// gateway's address.
func exampleCopy(t *testing.T, name, upstreamPort string) (dir, addr string) {
	t.Helper()
	addr = gatewaytest.FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	dir = t.TempDir()
	files, _ := filepath.Glob(filepath.Join("../examples", name, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("examples/%s holds no YAML", name)
	}
	gwPort := regexp.MustCompile(`\b(port|number): 8080\b`)
	slicePort := regexp.MustCompile(`\bport: 8000\b`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs := strings.Split(string(b), "\n---")
		for i, d := range docs {
			d = gwPort.ReplaceAllString(d, "${1}: "+port)
			if strings.Contains(d, "kind: EndpointSlice") {
				d = slicePort.ReplaceAllString(d, "port: "+upstreamPort)
			}
			docs[i] = d
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(strings.Join(docs, "\n---")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, addr
}

type seedRequest struct {
	name, path, token string
	status            int
	body              string            // the body, when the gateway answers itself
	upstream          map[string]string // headers the upstream must see
	challenge         string            // a part of WWW-Authenticate
}

// runSeed sends each request through the gateway at addr with Host host.
func runSeed(t *testing.T, addr, host string, reqs []seedRequest) {
	t.Helper()
	for _, rq := range reqs {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+rq.path, nil)
		req.Host = host
		if rq.token != "" {
			req.Header.Set("Authorization", "Bearer "+rq.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", rq.name, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != rq.status || (rq.body != "" && string(b) != rq.body) {
			t.Errorf("%s: %d %q, want %d %q", rq.name, res.StatusCode, b, rq.status, rq.body)
			continue
		}
		if rq.challenge != "" && !strings.Contains(res.Header.Get("Www-Authenticate"), rq.challenge) {
			t.Errorf("%s: WWW-Authenticate %q lacks %q", rq.name, res.Header.Get("Www-Authenticate"), rq.challenge)
		}
		if len(rq.upstream) > 0 {
			var echo struct{ Headers http.Header }
			if err := json.Unmarshal(b, &echo); err != nil {
				t.Fatalf("%s: not the echo's answer: %s", rq.name, b)
			}
			for k, v := range rq.upstream {
				if got := echo.Headers.Get(k); got != v {
					t.Errorf("%s: the upstream saw %s %q, want %q", rq.name, k, got, v)
				}
			}
		}
	}
}

func readToken(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestBinaryVendorSeeds serves the kgateway and ASM examples with the real
// binary, as their READMEs do (serve -c examples/NAME --bind-address
// 127.0.0.1), with only the ports changed, and sends the guides' requests.
func TestBinaryVendorSeeds(t *testing.T) {
	jwtgateBinary(t)
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	t.Run("kgateway", func(t *testing.T) {
		dir, addr := exampleCopy(t, "kgateway", u.Port())
		serveReady(t, "-c", dir, "--bind-address", "127.0.0.1")
		alice := readToken(t, "testdata/seed004-alice.jwt")
		runSeed(t, addr, "www.example.com:8080", []seedRequest{
			{name: "no token", path: "/headers", status: 401, body: "Jwt is missing", challenge: `Bearer realm="http://www.example.com:8080/headers"`},
			{name: "the guide's token", path: "/headers", token: alice, status: 200,
				upstream: map[string]string{"X-Team": "dev", "X-Org": "solo.io", "Authorization": ""}},
			{name: "a bad token", path: "/headers", token: alice[:len(alice)-4] + "AAAA", status: 401, challenge: `error="invalid_token"`},
		})
	})
	t.Run("asm", func(t *testing.T) {
		dir, addr := exampleCopy(t, "asm", u.Port())
		serveReady(t, "-c", dir, "--bind-address", "127.0.0.1")
		demoToken := readToken(t, "testdata/seed003-demo.jwt")
		runSeed(t, addr, "127.0.0.1", []seedRequest{
			{name: "valid token", path: "/productpage", token: demoToken, status: 200,
				upstream: map[string]string{"Authorization": "Bearer " + demoToken}},
			{name: "no token, protected path", path: "/productpage", status: 403, body: "RBAC: access denied"},
			{name: "invalid token", path: "/productpage", token: "invalid", status: 401, challenge: `error="invalid_token"`},
			{name: "no token elsewhere", path: "/api/v1/products/1", status: 200},
		})
	})
}
