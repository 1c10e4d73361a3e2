package gloo_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// gatewayYAML is a VirtualGateway with an HTTP and an HTTPS listener
// (its certificate in a Secret), a route table bound to it, and a JWT
// policy with required scopes on one route. HTTP_PORT, HTTPS_PORT,
// UPSTREAM_PORT, CERT and KEY are filled in by the test.
const gatewayYAML = `apiVersion: networking.gloo.solo.io/v2
kind: VirtualGateway
metadata: {name: gw, namespace: gloo}
spec:
  workloads:
    - selector: {labels: {app: gw}}
  listeners:
    - http: {}
      port: {number: HTTP_PORT}
      allowedRouteTables:
        - host: '*.example.com'
    - http: {}
      port: {number: HTTPS_PORT}
      tls:
        mode: SIMPLE
        secretName: gw-cert
      allowedRouteTables:
        - host: '*.example.com'
---
apiVersion: v1
kind: Secret
metadata: {name: gw-cert, namespace: gloo}
type: kubernetes.io/tls
stringData:
  tls.crt: |
CERT
  tls.key: |
KEY
---
apiVersion: networking.gloo.solo.io/v2
kind: RouteTable
metadata: {name: api, namespace: apps}
spec:
  hosts: [api.example.com, api.other.org]
  virtualGateways: [{name: gw, namespace: gloo}]
  http:
    - name: teapot
      matchers: [{uri: {exact: /tea}}]
      directResponse: {status: 418, body: "short and stout"}
    - name: moved
      matchers: [{uri: {prefix: /old}}]
      redirect: {hostRedirect: new.example.com, pathRedirect: /new, responseCode: FOUND}
    - name: missing
      matchers: [{uri: {prefix: /missing}}]
      forwardTo: {destinations: [{ref: {name: nowhere}, port: {number: 80}}]}
    - name: quiet
      matchers:
        - uri: {prefix: /h}
          headers: [{name: x-debug, invertMatch: true}]
      directResponse: {status: 200, body: "no debug"}
    - name: admin
      labels: {tier: admin}
      matchers: [{uri: {prefix: /admin}}]
      forwardTo:
        pathRewrite: /console
        destinations: [{ref: {name: api}, port: {number: 80}}]
    - name: docs
      matchers: [{uri: {prefix: /docs}}]
      forwardTo:
        pathRewrite: /manual
        hostRewrite: docs.internal
        destinations: [{ref: {name: api}, port: {number: 80}}]
    - name: api
      forwardTo: {destinations: [{ref: {name: api}, port: {number: 80}}]}
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
ports: [{name: http, port: UPSTREAM_PORT}]
endpoints: [{addresses: [127.0.0.1]}]
`

// TestVirtualGateway serves a VirtualGateway's listeners on the ports
// it names (on loopback, the bind address) with its route table and a
// JWT policy whose required scope the sample token lacks.
func TestVirtualGateway(t *testing.T) {
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	ca := certtest.NewCA(t)
	certFile, keyFile, _ := ca.Leaf(t, "gw", []string{"api.example.com"})
	indent := func(f string) string {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		return "    " + strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n    ")
	}
	_, httpPort, _ := net.SplitHostPort(gatewaytest.FreeAddr(t))
	_, httpsPort, _ := net.SplitHostPort(gatewaytest.FreeAddr(t))
	policy, err := os.ReadFile(filepath.Join(examples, "jwtpolicy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The guide's policy, moved to the admin route, with a scope the
	// token lacks.
	pol := mustReplace(t, string(policy), "namespace: httpbin", "namespace: apps")
	pol = mustReplace(t, pol, "        route: httpbin", "        tier: admin")
	pol = mustReplace(t, pol, "    phase:", "    requiredScopes: [\"is:admin\"]\n    phase:")
	y := strings.NewReplacer("HTTP_PORT", httpPort, "HTTPS_PORT", httpsPort, "UPSTREAM_PORT", u.Port(),
		"CERT", indent(certFile), "KEY", indent(keyFile)).Replace(gatewayYAML) + "---\n" + pol
	file := filepath.Join(t.TempDir(), "gloo.yaml")
	if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	gw, snap, err := gateway.Start(context.Background(), gateway.Options{
		Paths: []string{file}, Select: dialect.Selection{BindAddress: "127.0.0.1"},
	})
	if err != nil {
		t.Fatalf("%v\n%v", err, snap.Issues.Err())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	for _, st := range snap.Statuses {
		if st.Ref.Kind != "RouteTable" && !st.Accepted() {
			t.Errorf("%s", st)
		}
	}
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	secure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, ServerName: "api.example.com"}}}
	get := func(t *testing.T, c *http.Client, scheme, port, host, path string, hdr map[string]string) answer {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, scheme+"://127.0.0.1:"+port+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		return do(t, c, req)
	}
	dev := map[string]string{"X-Auth": "Bearer " + token(t, "dev-example.jwt")}
	tests := []struct {
		name       string
		c          *http.Client
		scheme     string
		port, host string
		path       string
		hdr        map[string]string
		status     int
		body       string
		upstream   string // the path the upstream saw, on 200
	}{
		{"https, open route", secure, "https", httpsPort, "api.example.com", "/anything", nil, 200, "", "/anything"},
		{"http, open route", plain, "http", httpPort, "api.example.com", "/anything", nil, 200, "", "/anything"},
		{"host not allowed by the listener", plain, "http", httpPort, "api.other.org", "/", nil, 404, "", ""},
		{"direct response", plain, "http", httpPort, "api.example.com", "/tea", nil, 418, "short and stout", ""},
		{"missing Service", plain, "http", httpPort, "api.example.com", "/missing", nil, 503, "no healthy upstream", ""},
		{"inverted header match", plain, "http", httpPort, "api.example.com", "/h", nil, 200, "no debug", ""},
		{"inverted header match, header sent", plain, "http", httpPort, "api.example.com", "/h", map[string]string{"X-Debug": "1"}, 200, "", "/h"},
		{"path rewrite", plain, "http", httpPort, "api.example.com", "/docs/intro", nil, 200, "", "/manual/intro"},
		{"admin without token", secure, "https", httpsPort, "api.example.com", "/admin", nil, 401, "Jwt is missing", ""},
		{"admin without the scope", secure, "https", httpsPort, "api.example.com", "/admin", dev, 403, "RBAC: access denied", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, tt.c, tt.scheme, tt.port, tt.host, tt.path, tt.hdr)
			if a.status != tt.status {
				t.Fatalf("%d %q, want %d", a.status, a.body, tt.status)
			}
			if tt.body != "" && a.body != tt.body {
				t.Errorf("body %q, want %q", a.body, tt.body)
			}
			if tt.upstream != "" && a.echo.Path != tt.upstream {
				t.Errorf("upstream path %q, want %q", a.echo.Path, tt.upstream)
			}
		})
	}
	t.Run("redirect", func(t *testing.T) {
		a := get(t, plain, "http", httpPort, "api.example.com", "/old/x", nil)
		if a.status != 302 || a.header.Get("Location") != "http://new.example.com/new" {
			t.Errorf("%d Location %q", a.status, a.header.Get("Location"))
		}
	})
}
