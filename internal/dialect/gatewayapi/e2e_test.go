package gatewayapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// echoed is what the test upstreams answer: who they are and what they
// received.
type echoed struct {
	Backend string      `json:"backend"`
	Path    string      `json:"path"`
	Host    string      `json:"host"`
	Header  http.Header `json:"header"`
}

// upstream starts an HTTP server on 127.0.0.1 that answers as name, and
// returns its port.
func upstream(t *testing.T, name string) int {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{Backend: name, Path: r.URL.Path, Host: r.Host, Header: r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
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

// start serves yaml the way `jwtgate serve --bind-address 127.0.0.1
// [--gateway ...]` does: the Gateway's listeners bind on loopback only.
func start(t *testing.T, yaml string, sel dialect.Selection) {
	t.Helper()
	sel.BindAddress = "127.0.0.1"
	gw, snap, err := gateway.Start(context.Background(), gateway.Options{Data: []byte(yaml), DataName: "gatewayapi.yaml", Select: sel})
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
}

// service is a Service and an EndpointSlice that send port 80 to
// 127.0.0.1:port.
func service(name string, port int) string {
	return fmt.Sprintf(`---
apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: shop}
spec:
  ports: [{name: http, port: 80, targetPort: %[2]d}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %[1]s-1
  namespace: shop
  labels: {kubernetes.io/service-name: %[1]s}
addressType: IPv4
ports: [{name: http, port: %[2]d}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`, name, port)
}

const e2eRoutes = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: jwtgate
  listeners:
    - name: web
      protocol: HTTP
      port: %d
      allowedRoutes: {namespaces: {from: All}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [www.example.com]
  rules:
    - matches: [{path: {type: Exact, value: /headers}}]
      backendRefs: [{name: a, port: 80}]
    - matches:
        - path: {type: PathPrefix, value: /api}
          headers: [{name: X-Version, value: v2}]
      backendRefs: [{name: b, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /api}}]
      backendRefs: [{name: a, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /split}}]
      backendRefs: [{name: a, port: 80, weight: 80}, {name: b, port: 80, weight: 20}]
    - matches: [{path: {type: PathPrefix, value: /missing}}]
      backendRefs: [{name: nowhere, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /v1}}]
      filters:
        - type: URLRewrite
          urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
        - type: RequestHeaderModifier
          requestHeaderModifier: {set: [{name: X-Env, value: prod}], remove: [X-Debug]}
        - type: ResponseHeaderModifier
          responseHeaderModifier: {set: [{name: X-Served-By, value: jwtgate}]}
      backendRefs: [{name: a, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /strip/}}]
      filters:
        - type: URLRewrite
          urlRewrite: {hostname: internal.shop, path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}
      backendRefs: [{name: b, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /old}}]
      filters:
        - type: RequestRedirect
          requestRedirect: {scheme: https, statusCode: 301}
`

// get sends a request to the gateway and returns the status, the body and
// the response headers.
func get(t *testing.T, port int, host, path string, header map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Header
}

// TestServe serves a Gateway, an HTTPRoute and Services whose
// EndpointSlices point at upstreams on loopback, and checks routing by
// host, path and header, the weights, a missing Service and the filters.
func TestServe(t *testing.T) {
	a, b := upstream(t, "a"), upstream(t, "b")
	port := freePort(t)
	start(t, fmt.Sprintf(e2eRoutes, port)+service("a", a)+service("b", b), dialect.Selection{})

	backend := func(body string) echoed {
		var e echoed
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("not an upstream's answer: %q", body)
		}
		return e
	}
	for _, tc := range []struct {
		name, host, path string
		header           map[string]string
		status           int
		backend          string
	}{
		{"exact path", "www.example.com", "/headers", nil, 200, "a"},
		{"exact path, port in Host", "www.example.com:8080", "/headers", nil, 200, "a"},
		{"exact path only", "www.example.com", "/headers/x", nil, 404, ""},
		{"prefix and header", "www.example.com", "/api/items", map[string]string{"X-Version": "v2"}, 200, "b"},
		{"prefix without the header", "www.example.com", "/api/items", nil, 200, "a"},
		{"prefix itself", "www.example.com", "/api", map[string]string{"X-Version": "v2"}, 200, "b"},
		{"segment-wise prefix", "www.example.com", "/apiary", nil, 404, ""},
		{"other host", "other.example.com", "/headers", nil, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := get(t, port, tc.host, tc.path, tc.header)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.backend != "" {
				if e := backend(body); e.Backend != tc.backend || e.Path != tc.path {
					t.Errorf("reached %s with path %s, want %s with %s", e.Backend, e.Path, tc.backend, tc.path)
				}
			}
		})
	}

	t.Run("weights", func(t *testing.T) {
		n := map[string]int{}
		for range 200 {
			status, body, _ := get(t, port, "www.example.com", "/split", nil)
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			n[backend(body).Backend]++
		}
		// 80/20 of 200: b gets 40 on average; 15 to 70 is far outside
		// any reasonable chance.
		if n["b"] < 15 || n["b"] > 70 || n["a"]+n["b"] != 200 {
			t.Errorf("split a=%d b=%d, want about 160/40", n["a"], n["b"])
		}
	})

	t.Run("missing Service", func(t *testing.T) {
		status, body, _ := get(t, port, "www.example.com", "/missing", nil)
		if status != 503 || strings.TrimSpace(body) != "no healthy upstream" {
			t.Errorf("%d %q, want 503 no healthy upstream", status, body)
		}
	})

	t.Run("rewrite and headers", func(t *testing.T) {
		status, body, h := get(t, port, "www.example.com", "/v1/items", map[string]string{"X-Debug": "1"})
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		e := backend(body)
		if e.Path != "/v2/items" || e.Header.Get("X-Env") != "prod" || e.Header.Get("X-Debug") != "" {
			t.Errorf("upstream saw path %s, X-Env %q, X-Debug %q", e.Path, e.Header.Get("X-Env"), e.Header.Get("X-Debug"))
		}
		if got := h.Get("X-Served-By"); got != "jwtgate" {
			t.Errorf("X-Served-By %q", got)
		}
	})

	t.Run("prefix rewritten to /", func(t *testing.T) {
		for path, want := range map[string]string{"/strip/a/b": "/a/b", "/strip": "/", "/strip/": "/"} {
			status, body, _ := get(t, port, "www.example.com", path, nil)
			if e := backend(body); status != 200 || e.Path != want || e.Host != "internal.shop" {
				t.Errorf("%s: %d, upstream saw %s on host %s; want %s on internal.shop", path, status, e.Path, e.Host, want)
			}
		}
	})

	t.Run("redirect", func(t *testing.T) {
		status, _, h := get(t, port, "www.example.com", "/old/page", nil)
		if want := "https://www.example.com/old/page"; status != 301 || h.Get("Location") != want {
			t.Errorf("%d Location %q, want 301 %s", status, h.Get("Location"), want)
		}
	})
}

const e2eTwoGateways = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: team-a}
spec:
  gatewayClassName: jwtgate
  listeners: [{name: web, protocol: HTTP, port: %[1]d, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: team-b}
spec:
  gatewayClassName: jwtgate
  listeners: [{name: web, protocol: HTTP, port: %[1]d, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: to-a, namespace: shop}
spec:
  parentRefs: [{name: gw, namespace: team-a}]
  rules: [{backendRefs: [{name: a, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: to-b, namespace: shop}
spec:
  parentRefs: [{name: gw, namespace: team-b}]
  rules: [{backendRefs: [{name: b, port: 80}]}]
`

// TestServeSelected serves, of two Gateways on one port, the one the
// selection names, with its routes only.
func TestServeSelected(t *testing.T) {
	a, b := upstream(t, "a"), upstream(t, "b")
	for _, tc := range []struct{ gateway, want string }{{"team-a/gw", "a"}, {"team-b/gw", "b"}} {
		t.Run(tc.gateway, func(t *testing.T) {
			port := freePort(t)
			start(t, fmt.Sprintf(e2eTwoGateways, port)+service("a", a)+service("b", b), dialect.Selection{Gateway: tc.gateway})
			status, body, _ := get(t, port, "any.example", "/", nil)
			var e echoed
			_ = json.Unmarshal([]byte(body), &e)
			if status != 200 || e.Backend != tc.want {
				t.Errorf("%d from %q, want 200 from %s", status, e.Backend, tc.want)
			}
		})
	}
}

// TestCompileStatuses compiles as `jwtgate validate` does (no socket)
// and checks that a missing Service is a status, not an error.
func TestCompileStatuses(t *testing.T) {
	snap := gatewaytest.Compile(t, fmt.Sprintf(e2eRoutes, 8080)+service("a", 8001)+service("b", 8002))
	if err := snap.Issues.Err(); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, st := range snap.Statuses {
		if st.Kind == "HTTPRoute" {
			found = true
			c := st.Conditions[0]
			if c.Reason != "TargetNotFound" || !strings.Contains(c.Message, "BackendNotFound: Service shop/nowhere not found") {
				t.Errorf("HTTPRoute status: %s", st)
			}
		}
	}
	if !found {
		t.Error("no HTTPRoute status")
	}
}
