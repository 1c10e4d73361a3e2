package istio

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/kube"
)

// TestSpeaksHTTP2: Istio's explicit protocol selection, by a Service
// port's appProtocol first, else by its name's prefix.
func TestSpeaksHTTP2(t *testing.T) {
	st := &kube.Store{}
	svc := &kube.Service{Metadata: kube.Meta{Name: "s", Namespace: "ns"}}
	svc.Spec.Ports = []kube.ServicePort{
		{Name: "grpc-api", Port: 1}, {Name: "http2", Port: 2}, {Name: "GRPC-Web-x", Port: 3},
		{Name: "http", Port: 4}, {Name: "grpcx", Port: 5}, {Name: "tcp", Port: 6},
		{Name: "http", Port: 7, AppProtocol: "grpc"}, {Name: "grpc", Port: 8, AppProtocol: "http"},
		{Name: "web", Port: 9, AppProtocol: "kubernetes.io/h2c"},
	}
	st.AddService(svc)
	for port, want := range map[int]bool{1: true, 2: true, 3: true, 4: false, 5: false, 6: false, 7: true, 8: false, 9: true, 10: false} {
		target := kube.Target{Port: port}
		for _, p := range svc.Spec.Ports {
			if p.Port == port {
				target.AppProtocol = p.AppProtocol
			}
		}
		if got := speaksHTTP2(st, "ns", "s", target); got != want {
			t.Errorf("port %d: %v, want %v", port, got, want)
		}
	}
}
