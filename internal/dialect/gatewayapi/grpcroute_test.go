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

// kgatewayBackend is a document of a peer dialect, whose policies apply
// to HTTPRoutes only.
const kgatewayBackend = `---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata: {name: b}
spec: {static: {hosts: [{host: example.com, port: 80}]}}
`

// TestGRPCRouteServed: a GRPCRoute alone is served, its listener with
// h2c and its backend in HTTP/2; beside a peer dialect's resources it is
// not served (failing closed), and its status says why.
func TestGRPCRouteServed(t *testing.T) {
	for _, tt := range []struct {
		name   string
		yaml   string
		served bool
	}{
		{"alone", grpcLoad, true},
		{"beside kgateway", grpcLoad + kgatewayBackend, false},
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
			if got := len(grpc) > 0; got != tt.served {
				t.Fatalf("served %v, want %v: %v", got, tt.served, cfg.Routes)
			}
			if len(cfg.Listeners) != 1 || cfg.Listeners[0].H2C != tt.served {
				t.Errorf("listeners %+v: h2c want %v", cfg.Listeners, tt.served)
			}
			if tt.served {
				if b := grpc[0].Backend; b.Protocol != model.BackendHTTP2 || len(b.Endpoints) != 1 {
					t.Errorf("backend %+v", b)
				}
				return
			}
			notes := append(ld.Notes, ld.Config.Notes()...)
			var status string
			for _, st := range model.Statuses(ld.Resources, issues, notes, true) {
				if st.Kind == "GRPCRoute" {
					status = st.String()
				}
			}
			if !strings.Contains(status, "Unsupported") || !strings.Contains(status, "kgateway or Envoy Gateway") {
				t.Errorf("status %q", status)
			}
		})
	}
}
