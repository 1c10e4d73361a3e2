package gatewayapi_test

import (
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
)

const grpcLoad = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: jwtgate
  listeners: [{name: http, protocol: HTTP, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: g}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: s, port: 50051}]}]
---
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {ports: [{name: grpc, port: 50051}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s-1, labels: {kubernetes.io/service-name: s}}
addressType: IPv4
ports: [{name: grpc, port: 50051}]
endpoints: [{addresses: [10.0.0.1]}]
`

// kgatewayBackend is a document of a peer dialect, kgateway, whose
// policies apply to GRPCRoutes as to HTTPRoutes.
const kgatewayBackend = `---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata: {name: b}
spec: {static: {hosts: [{host: 127.0.0.1, port: 50052}]}}
`

// TestGRPCRouteServed: a GRPCRoute is served, its listener with h2c and
// its backend in HTTP/2, alone or beside a peer dialect's resources; a
// kgateway Backend as its backendRef is spoken to in HTTP/2 too.
func TestGRPCRouteServed(t *testing.T) {
	toBackend := strings.Replace(grpcLoad, "backendRefs: [{name: s, port: 50051}]",
		"backendRefs: [{group: gateway.kgateway.dev, kind: Backend, name: b}]", 1)
	for _, tt := range []struct {
		name      string
		yaml      string
		url       string
		endpoints int
	}{
		{"alone", grpcLoad, "http://s.default.svc.cluster.local:50051", 1},
		{"beside kgateway", grpcLoad + kgatewayBackend, "http://s.default.svc.cluster.local:50051", 1},
		{"to a kgateway Backend", toBackend + kgatewayBackend, "http://127.0.0.1:50052", 0},
		{"v1alpha2 (Gateway API v1.0 and before)", strings.Replace(grpcLoad, "gateway.networking.k8s.io/v1\nkind: GRPCRoute", "gateway.networking.k8s.io/v1alpha2\nkind: GRPCRoute", 1),
			"http://s.default.svc.cluster.local:50051", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ld := config.ReadBytesSelected(dialect.Selection{}, "in.yaml", []byte(tt.yaml))
			cfg, issues := ld.Validated()
			if cfg == nil {
				t.Fatalf("errors: %v", issues.Err())
			}
			var grpc []model.Route
			for _, r := range cfg.Routes {
				if r.Labels["gateway.networking.k8s.io/grpcroute"] == "default/g" {
					grpc = append(grpc, r)
				}
			}
			if len(grpc) == 0 {
				t.Fatalf("not served: %v", cfg.Routes)
			}
			if len(cfg.Listeners) != 1 || !cfg.Listeners[0].H2C {
				t.Errorf("listeners %+v: want h2c", cfg.Listeners)
			}
			b := grpc[0].Backend
			if b.URL != tt.url || b.Protocol != model.BackendHTTP2 || len(b.Endpoints) != tt.endpoints || b.Unavailable != "" {
				t.Errorf("backend %+v, want %s in HTTP/2 with %d endpoints", b, tt.url, tt.endpoints)
			}
			notes := append(ld.Notes, ld.Config.Notes()...)
			for _, st := range model.Statuses(ld.Resources, issues, notes, true) {
				if !st.Accepted() {
					t.Errorf("%s", st)
				}
			}
		})
	}
}
