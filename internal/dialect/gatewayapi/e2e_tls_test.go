package gatewayapi_test

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/dialect"
)

const e2eIsolation = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  gatewayClassName: jwtgate
  listeners:
    - {name: any, protocol: HTTP, port: %[1]d}
    - {name: foo, protocol: HTTP, port: %[1]d, hostname: foo.example.com}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: catch-all, namespace: shop}
spec:
  parentRefs: [{name: gw, sectionName: any}]
  rules: [{backendRefs: [{name: a, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: foo-api, namespace: shop}
spec:
  parentRefs: [{name: gw, sectionName: foo}]
  rules:
    - matches: [{path: {value: /api}}]
      backendRefs: [{name: b, port: 80}]
`

// TestServeListenerIsolation checks that requests for a listener's
// hostname reach its routes only, never those of a less specific
// listener on the same port.
func TestServeListenerIsolation(t *testing.T) {
	a, b := upstream(t, "a"), upstream(t, "b")
	port := freePort(t)
	start(t, fmt.Sprintf(e2eIsolation, port)+service("a", a)+service("b", b), dialect.Selection{})
	for _, tc := range []struct {
		host, path string
		status     int
		backend    string
	}{
		{"foo.example.com", "/api/x", 200, "b"},
		{"foo.example.com", "/other", 404, ""},
		{"bar.example.com", "/other", 200, "a"},
		{"bar.example.com", "/api/x", 200, "a"},
	} {
		status, body, _ := get(t, port, tc.host, tc.path, nil)
		var e echoed
		_ = json.Unmarshal([]byte(body), &e)
		if status != tc.status || e.Backend != tc.backend {
			t.Errorf("%s%s: %d from %q, want %d from %q", tc.host, tc.path, status, e.Backend, tc.status, tc.backend)
		}
	}
}

const e2eHTTPS = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: jwtgate
  listeners:
    - name: https
      protocol: HTTPS
      port: %d
      hostname: "*.example.com"
      tls: {certificateRefs: [{name: wildcard, namespace: certs}]}
      allowedRoutes: {namespaces: {from: All}}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: gateways, namespace: certs}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}]
  to: [{group: "", kind: Secret, name: wildcard}]
---
apiVersion: v1
kind: Secret
metadata: {name: wildcard, namespace: certs}
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules: [{backendRefs: [{name: a, port: 80}]}]
`

// TestServeHTTPS serves an HTTPS listener with the certificate of a
// kubernetes.io/tls Secret in another namespace, which a ReferenceGrant
// lets the Gateway use.
func TestServeHTTPS(t *testing.T) {
	ca := certtest.NewCA(t)
	certFile, keyFile, _ := ca.Leaf(t, "www.example.com", []string{"*.example.com"})
	b64 := func(f string) string {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(data)
	}
	a := upstream(t, "a")
	port := freePort(t)
	start(t, fmt.Sprintf(e2eHTTPS, port, b64(certFile), b64(keyFile))+service("a", a), dialect.Selection{})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, ServerName: "www.example.com"}}}
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/headers", port), nil)
	req.Host = "www.example.com"
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var e echoed
	if err := json.Unmarshal(body, &e); err != nil || res.StatusCode != 200 || e.Backend != "a" {
		t.Errorf("%d %s", res.StatusCode, body)
	}
}
