package gloo_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/model"
)

// secondPolicy is a JWT policy on seed 001's route created after the
// guide's (no creationTimestamp, and its name sorts after jwt-policy):
// it must not apply. Its provider would accept the login-example token.
const secondPolicy = `apiVersion: security.policy.gloo.solo.io/v2
kind: JWTPolicy
metadata:
  name: login-policy
  namespace: httpbin
spec:
  applyToRoutes:
  - route:
      labels:
        route: httpbin
  config:
    providers:
      login-example:
        issuer: https://login.example.com
        local:
          inline: |-
`

// seedYAML is examples/gloo as written, but for addresses: the mesh
// listener on a free loopback port and the EndpointSlice's port the
// upstream's; plus a second JWT policy on the route.
func seedYAML(t *testing.T, upstreamPort string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examples, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("examples: %v", err)
	}
	var docs []string
	pem := ""
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			switch {
			case strings.Contains(doc, "kind: Config"):
				doc = mustReplace(t, doc, "address: 127.0.0.1:15001", "address: 127.0.0.1:0")
			case strings.Contains(doc, "kind: EndpointSlice"):
				doc = mustReplace(t, doc, "port: 8000", "port: "+upstreamPort)
			case strings.Contains(doc, "kind: JWTPolicy"):
				i := strings.Index(doc, "-----BEGIN PUBLIC KEY-----")
				j := strings.Index(doc, "-----END PUBLIC KEY-----")
				pem = doc[i : j+len("-----END PUBLIC KEY-----")]
			}
			docs = append(docs, doc)
		}
	}
	second := secondPolicy
	for _, line := range strings.Split(strings.TrimSpace(pem), "\n") {
		second += "            " + strings.TrimSpace(line) + "\n"
	}
	return strings.Join(append(docs, second), "\n---\n")
}

func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("no %q in:\n%s", old, s)
	}
	return strings.ReplaceAll(s, old, new)
}

func token(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// answer is what a client got.
type answer struct {
	status int
	header http.Header
	body   string
	echo   demo.Echoed
}

func do(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, body: string(b)}
	if res.StatusCode == http.StatusOK && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &a.echo); err != nil {
			t.Fatalf("not the echo's answer: %v\n%s", err, b)
		}
	}
	return a
}

// TestSeed001 is Gloo Mesh's "JWT for mesh routes" walkthrough, served
// from examples/gloo as written (the RouteTable and the JWTPolicy the
// guide applies, the httpbin Service and EndpointSlice, the glue that
// says which workload jwtgate stands for), with an echo upstream as
// httpbin, and a second JWT policy created later on the same route.
func TestSeed001(t *testing.T) {
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	h := gatewaytest.Start(t, seedYAML(t, u.Port()))
	base := h.URL("mesh")

	// The second policy is reported Conflicted, naming the one that
	// applies.
	var conflicted bool
	for _, st := range h.Snapshot.Statuses {
		c := st.Conditions[0]
		switch st.Ref.String() {
		case "JWTPolicy httpbin/login-policy":
			conflicted = c.Reason == model.ReasonConflicted && strings.Contains(c.Message, `keeps jwtPolicy "httpbin/jwt-policy"`)
			if !conflicted {
				t.Errorf("login-policy: %s", st)
			}
		default:
			if !st.Accepted() {
				t.Errorf("not accepted: %s", st)
			}
		}
	}
	if !conflicted {
		t.Error("no status for JWTPolicy httpbin/login-policy")
	}

	get := func(target string, hdr map[string]string) answer {
		req, err := http.NewRequest(http.MethodGet, base+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "www.example.com"
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		return do(t, http.DefaultClient, req)
	}
	mesh := map[string]string{"X-httpbin-mesh": "true"}
	dev := token(t, "dev-example.jwt")

	t.Run("no token", func(t *testing.T) {
		a := get("/get", mesh)
		if a.status != 401 || a.body != "Jwt is missing" {
			t.Errorf("%d %q, want 401 Jwt is missing", a.status, a.body)
		}
		if got, want := a.header.Get("WWW-Authenticate"), `Bearer realm="http://www.example.com/get"`; got != want {
			t.Errorf("WWW-Authenticate %q, want %q", got, want)
		}
	})
	t.Run("token in auth_token", func(t *testing.T) {
		// A client's own X-Org and X-Email are removed: append joins
		// only what the gateway itself set.
		a := get("/get?auth_token="+dev, map[string]string{"X-httpbin-mesh": "true", "X-Org": "spoofed", "X-Email": "spoofed"})
		if a.status != 200 {
			t.Fatalf("%d %q, want 200", a.status, a.body)
		}
		for k, want := range map[string]string{"X-Email": "dev1@solo.io", "X-Org": "internal", "Host": "www.example.com"} {
			if got := strings.Join(a.echo.Headers[k], "|"); got != want {
				t.Errorf("upstream %s = %q, want %q", k, got, want)
			}
		}
		if _, ok := a.echo.Query["auth_token"]; ok {
			t.Errorf("the token reached the upstream: %v", a.echo.Query)
		}
	})
	t.Run("token in X-Auth", func(t *testing.T) {
		if a := get("/get", map[string]string{"X-httpbin-mesh": "1", "X-Auth": "Bearer " + dev}); a.status != 200 {
			t.Errorf("%d %q, want 200", a.status, a.body)
		}
	})
	t.Run("both sources must be valid", func(t *testing.T) {
		a := get("/get?auth_token=garbage", map[string]string{"X-httpbin-mesh": "1", "X-Auth": "Bearer " + dev})
		if a.status != 401 {
			t.Errorf("%d %q, want 401", a.status, a.body)
		}
	})
	t.Run("the later policy does not apply", func(t *testing.T) {
		a := get("/get?auth_token="+token(t, "login-example.jwt"), mesh)
		if a.status != 401 || a.body != "Jwt issuer is not configured" {
			t.Errorf("%d %q, want 401 Jwt issuer is not configured", a.status, a.body)
		}
	})
	t.Run("no mesh header", func(t *testing.T) {
		if a := get("/get", nil); a.status != 404 {
			t.Errorf("%d %q, want 404 (the route matches requests with X-httpbin-mesh)", a.status, a.body)
		}
	})
	t.Run("as an HTTP proxy", func(t *testing.T) {
		// A workload that sends its requests to jwtgate as its proxy,
		// as to a sidecar: curl -x http://127.0.0.1:15001 http://www.example.com/get
		proxy, _ := url.Parse(base)
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
		req, _ := http.NewRequest(http.MethodGet, "http://www.example.com/get", nil)
		req.Header.Set("X-httpbin-mesh", "true")
		a := do(t, c, req)
		if a.status != 401 || a.header.Get("WWW-Authenticate") != `Bearer realm="http://www.example.com/get"` {
			t.Errorf("%d %q %q", a.status, a.body, a.header.Get("WWW-Authenticate"))
		}
		req, _ = http.NewRequest(http.MethodGet, "http://www.example.com/get?auth_token="+dev, nil)
		req.Header.Set("X-httpbin-mesh", "true")
		if a := do(t, c, req); a.status != 200 || a.echo.Headers["X-Email"] == nil {
			t.Errorf("%d %q", a.status, a.body)
		}
	})
}
