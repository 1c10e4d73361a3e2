package gateway

import (
	"fmt"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/proxy"
)

// scaleYAML is a Gateway API configuration of n HTTPRoutes, each to its
// own Service with one ready endpoint, and n Istio AuthorizationPolicies
// in the root namespace (one per route's path), in one stream.
func scaleYAML(n int) []byte {
	var b strings.Builder
	b.WriteString(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: jwtgate
  listeners:
    - {name: http, protocol: HTTP, port: 8080, allowedRoutes: {namespaces: {from: All}}}
`)
	for i := range n {
		fmt.Fprintf(&b, `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r%[1]d, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: ["h%[1]d.example.com"]
  rules:
    - matches:
        - path: {type: PathPrefix, value: /api/%[1]d}
          headers: [{name: x-tenant, value: t%[1]d}]
      backendRefs: [{name: svc%[1]d, port: 8000}]
---
apiVersion: v1
kind: Service
metadata: {name: svc%[1]d, namespace: apps}
spec: {ports: [{name: http, port: 8000}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc%[1]d-a, namespace: apps, labels: {kubernetes.io/service-name: svc%[1]d}}
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [127.0.0.1]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p%[1]d, namespace: istio-system}
spec:
  action: DENY
  rules:
    - to: [{operation: {paths: ["/api/%[1]d/admin*"], methods: [DELETE]}}]
      from: [{source: {notRequestPrincipals: ["*"]}}]
`, i)
	}
	return []byte(b.String())
}

// TestScaleConfigCompiles checks that the configuration BenchmarkCompileScale
// measures is valid, so that the benchmark measures a whole compile.
func TestScaleConfigCompiles(t *testing.T) {
	snap := CompileBytes("scale.yaml", scaleYAML(20), proxy.Options{})
	if !snap.OK() {
		t.Fatalf("errors: %v", snap.Issues.Errors().Err())
	}
	defer snap.Runtime.Close()
	for _, st := range snap.Statuses {
		if !st.Accepted() {
			t.Errorf("%s", st)
		}
	}
	if n := len(snap.Config.Routes); n < 20 || len(snap.Config.Policies) != 20 {
		t.Fatalf("%d routes and %d policies, want 20 of each", n, len(snap.Config.Policies))
	}
}

// BenchmarkCompileScale compiles 1,000 HTTPRoutes (with their Services and
// EndpointSlices) and 1,000 AuthorizationPolicies, from bytes to a runtime,
// as serve does at start and on every reload.
//
//	go test ./internal/gateway -run '^$' -bench CompileScale -benchtime 3x
func BenchmarkCompileScale(b *testing.B) {
	data := scaleYAML(1000)
	b.ReportAllocs()
	for b.Loop() {
		snap := CompileBytes("scale.yaml", data, proxy.Options{})
		if !snap.OK() {
			b.Fatalf("errors: %v", snap.Issues.Errors().Err())
		}
		snap.Runtime.Close()
	}
}
