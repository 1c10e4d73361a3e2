package istio_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// routingYAML is an Istio Gateway (plain HTTP, HTTPS with files, and an
// httpsRedirect server, each bound to loopback), VirtualServices bound
// to it, the Services they send to, and an AuthorizationPolicy that
// selects the gateway's pods. The upper-case words are filled in by the
// test.
const routingYAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: edge}
spec:
  selector: {app: edge-gateway}
  servers:
    - port: {number: HTTP_PORT, name: http, protocol: HTTP}
      bind: 127.0.0.1
      hosts: ["*"]
    - port: {number: HTTPS_PORT, name: https, protocol: HTTPS}
      bind: 127.0.0.1
      hosts: [api.example.com]
      tls: {mode: SIMPLE, serverCertificate: CERT, privateKey: KEY}
    - port: {number: REDIRECT_PORT, name: http-redirect, protocol: HTTP}
      bind: 127.0.0.1
      hosts: [secure.example.com]
      tls: {httpsRedirect: true}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: apps, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [api.example.com]
  gateways: [edge/gw]
  http:
    - name: v2-by-header
      match:
        - headers:
            x-version: {exact: v2}
      route:
        - destination: {host: api-v2}
    - name: split
      match: [{uri: {prefix: /split}}]
      route:
        - destination: {host: api, port: {number: 80}}
          weight: 50
        - destination: {host: api-v2.apps.svc.cluster.local, port: {number: 80}}
          weight: 50
    - name: canary
      match: [{uri: {prefix: /canary}}]
      route:
        - destination: {host: api}
          weight: 0
        - destination: {host: api-v2.apps}
          weight: 100
    - name: headers
      match: [{uri: {exact: /headers}}]
      headers:
        request:
          set: {x-gateway: jwtgate}
          add: {x-trace: edge}
          remove: [x-debug]
        response:
          set: {x-served-by: jwtgate}
          remove: [x-upstream]
      route:
        - destination: {host: api}
    - name: users
      match: [{uri: {prefix: /users}}]
      rewrite: {uri: /v2/users, authority: users.internal}
      route:
        - destination: {host: api}
    - name: moved
      match: [{uri: {prefix: /old}}]
      redirect: {uri: /new, authority: new.example.com, redirectCode: 302}
    - name: teapot
      match: [{uri: {exact: /tea}}]
      directResponse: {status: 418, body: {string: short and stout}}
    - name: missing
      match: [{uri: {prefix: /missing}}]
      route:
        - destination: {host: nowhere, port: {number: 80}}
    - name: query
      match: [{uri: {exact: /q}, queryParams: {debug: {exact: "1"}}}]
      directResponse: {status: 200, body: {string: debug}}
    - name: post
      match: [{uri: {exact: /m}, method: {exact: POST}}]
      directResponse: {status: 201, body: {string: created}}
    - name: rest
      route:
        - destination: {host: api}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: other, namespace: apps, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  hosts: [other.example.com]
  gateways: [edge/gw]
  http:
    - match: [{uri: {prefix: /x}}]
      route:
        - destination: {host: api-v2}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: fallback, namespace: edge, creationTimestamp: "2024-01-03T00:00:00Z"}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
    - directResponse: {status: 200, body: {string: fallback}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: istio-system}
spec:
  selector:
    matchLabels: {app: edge-gateway}
  action: DENY
  rules:
    - to: [{operation: {paths: ["/admin", "/admin/*"]}}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: apps}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-1, namespace: apps, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: http, port: V1_PORT}]
endpoints: [{addresses: [127.0.0.1]}]
---
apiVersion: v1
kind: Service
metadata: {name: api-v2, namespace: apps}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-v2-1, namespace: apps, labels: {kubernetes.io/service-name: api-v2}}
addressType: IPv4
ports: [{name: http, port: V2_PORT}]
endpoints: [{addresses: [127.0.0.1]}]
`

// upstream is an echo server that names itself in X-Upstream.
func upstream(t *testing.T, name string) string {
	t.Helper()
	echo := demo.Echo()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", name)
		echo.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	return u.Port()
}

func port(t *testing.T) string {
	t.Helper()
	_, p, _ := net.SplitHostPort(gatewaytest.FreeAddr(t))
	return p
}

// reply is what a client got through the gateway.
type reply struct {
	status int
	header http.Header
	body   string
	echo   demo.Echoed
}

func fetch(t *testing.T, c *http.Client, method, u, host string, hdr map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, body: string(b)}
	if res.StatusCode == http.StatusOK && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &r.echo); err != nil {
			t.Fatalf("not the echo's answer: %v\n%s", err, b)
		}
	}
	return r
}

// TestRoutingServed serves an Istio Gateway and its VirtualServices in
// front of two echo upstreams (the Services api and api-v2) and checks
// what each route does.
func TestRoutingServed(t *testing.T) {
	ca := certtest.NewCA(t)
	certFile, keyFile, _ := ca.Leaf(t, "gw", []string{"api.example.com"})
	httpPort, httpsPort, redirectPort := port(t), port(t), port(t)
	y := strings.NewReplacer("HTTPS_PORT", httpsPort, "HTTP_PORT", httpPort, "REDIRECT_PORT", redirectPort,
		"V1_PORT", upstream(t, "v1"), "V2_PORT", upstream(t, "v2"), "CERT", certFile, "KEY", keyFile).Replace(routingYAML)
	h := gatewaytest.Start(t, y)
	for _, st := range h.Snapshot.Statuses {
		if !st.Accepted() && !strings.Contains(st.String(), "nowhere") {
			t.Errorf("%s", st)
		}
	}
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://127.0.0.1:" + httpPort
	tests := []struct {
		name, method, path, host string
		hdr                      map[string]string
		status                   int
		body, upstream, seenPath string
	}{
		{"catch-all route", "GET", "/anything", "api.example.com", nil, 200, "", "v1", "/anything"},
		{"header match", "GET", "/anything", "api.example.com", map[string]string{"X-Version": "v2"}, 200, "", "v2", "/anything"},
		{"weight 0 gets nothing", "GET", "/canary", "api.example.com", nil, 200, "", "v2", "/canary"},
		{"uri rewrite", "GET", "/users/7", "api.example.com", nil, 200, "", "v1", "/v2/users/7"},
		{"redirect", "GET", "/old/x", "api.example.com", nil, 302, "", "", ""},
		{"direct response", "GET", "/tea", "api.example.com", nil, 418, "short and stout", "", ""},
		{"missing Service", "GET", "/missing", "api.example.com", nil, 503, "no healthy upstream", "", ""},
		{"query parameter", "GET", "/q?debug=1", "api.example.com", nil, 200, "debug", "", ""},
		{"query parameter absent", "GET", "/q", "api.example.com", nil, 200, "", "v1", "/q"},
		{"method", "POST", "/m", "api.example.com", nil, 201, "created", "", ""},
		{"method, other", "GET", "/m", "api.example.com", nil, 200, "", "v1", "/m"},
		{"another VirtualService's host", "GET", "/x/1", "other.example.com", nil, 200, "", "v2", "/x/1"},
		{"no route of the host's virtual host: 404, not the wildcard's", "GET", "/y", "other.example.com", nil, 404, "", "", ""},
		{"the wildcard's virtual host", "GET", "/y", "unknown.example.org", nil, 200, "fallback", "", ""},
		{"policy selecting the gateway's pods", "GET", "/admin/x", "api.example.com", nil, 403, "RBAC: access denied", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fetch(t, plain, tt.method, base+tt.path, tt.host, tt.hdr)
			if r.status != tt.status {
				t.Fatalf("%d %q, want %d", r.status, r.body, tt.status)
			}
			if tt.body != "" && r.body != tt.body {
				t.Errorf("body %q, want %q", r.body, tt.body)
			}
			if tt.upstream != "" && r.header.Get("X-Upstream") != tt.upstream {
				t.Errorf("upstream %q, want %q", r.header.Get("X-Upstream"), tt.upstream)
			}
			if tt.seenPath != "" && r.echo.Path != tt.seenPath {
				t.Errorf("upstream path %q, want %q", r.echo.Path, tt.seenPath)
			}
		})
	}
	t.Run("redirect Location", func(t *testing.T) {
		r := fetch(t, plain, "GET", base+"/old/x?a=1", "api.example.com", nil)
		if got := r.header.Get("Location"); got != "http://new.example.com/new?a=1" {
			t.Errorf("Location %q", got)
		}
	})
	t.Run("authority rewrite", func(t *testing.T) {
		r := fetch(t, plain, "GET", base+"/users", "api.example.com", nil)
		if got := r.echo.Headers["Host"]; len(got) != 1 || got[0] != "users.internal" {
			t.Errorf("upstream Host %q", got)
		}
	})
	t.Run("header changes", func(t *testing.T) {
		r := fetch(t, plain, "GET", base+"/headers", "api.example.com", map[string]string{"X-Debug": "1", "X-Trace": "client"})
		e := r.echo.Headers
		if e["X-Gateway"] == nil || e["X-Gateway"][0] != "jwtgate" || len(e["X-Trace"]) != 2 || e["X-Debug"] != nil {
			t.Errorf("upstream headers %v", e)
		}
		if r.header.Get("X-Served-By") != "jwtgate" || r.header.Get("X-Upstream") != "" {
			t.Errorf("response headers %v", r.header)
		}
	})
	t.Run("weights", func(t *testing.T) {
		seen := map[string]int{}
		for range 60 {
			seen[fetch(t, plain, "GET", base+"/split", "api.example.com", nil).header.Get("X-Upstream")]++
		}
		if seen["v1"] == 0 || seen["v2"] == 0 || seen["v1"]+seen["v2"] != 60 {
			t.Errorf("split 50/50 gave %v", seen)
		}
	})
	t.Run("https", func(t *testing.T) {
		secure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, ServerName: "api.example.com"}}}
		r := fetch(t, secure, "GET", "https://127.0.0.1:"+httpsPort+"/anything", "api.example.com", nil)
		if r.status != 200 || r.header.Get("X-Upstream") != "v1" {
			t.Errorf("%d %q", r.status, r.body)
		}
		// The HTTPS server's hosts are api.example.com only.
		if r := fetch(t, secure, "GET", "https://127.0.0.1:"+httpsPort+"/anything", "other.example.com", nil); r.status != 404 {
			t.Errorf("another host over https: %d %q", r.status, r.body)
		}
	})
	t.Run("httpsRedirect", func(t *testing.T) {
		r := fetch(t, plain, "GET", "http://127.0.0.1:"+redirectPort+"/a?b=c", "secure.example.com", nil)
		if r.status != 301 || r.header.Get("Location") != "https://secure.example.com/a?b=c" {
			t.Errorf("%d Location %q", r.status, r.header.Get("Location"))
		}
	})
}
