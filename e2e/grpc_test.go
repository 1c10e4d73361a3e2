package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// grpcRouteFiles are a Gateway with an HTTP listener on port, a
// GRPCRoute for the health service (Check exactly, and the rest of the
// service), the health Service with an EndpointSlice whose one endpoint
// is 127.0.0.1:backendPort, and a Config that requires a token on the
// GRPCRoute's rule "check" and on the rest of its routes.
func grpcRouteFiles(port, backendPort, jwks string) string {
	return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: jwtgate
  listeners:
    - {name: grpc, protocol: HTTP, port: ` + port + `, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: health, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
    - name: check
      matches: [{method: {service: grpc.health.v1.Health, method: Check}}]
      backendRefs: [{name: health, port: 50051}]
    - matches: [{method: {service: grpc.health.v1.Health}}]
      backendRefs: [{name: health, port: 50051}]
---
apiVersion: v1
kind: Service
metadata: {name: health, namespace: apps}
spec:
  ports: [{name: grpc, port: 50051, targetPort: ` + backendPort + `}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: health-1
  namespace: apps
  labels: {kubernetes.io/service-name: health}
addressType: IPv4
ports: [{name: grpc, port: ` + backendPort + `}]
endpoints: [{addresses: [127.0.0.1]}]
---
apiVersion: jwtgate.dev/v1alpha1
kind: Config
providers:
  - name: corp
    issuer: https://login.grpc.test
    jwks:
      inline: '` + jwks + `'
jwtPolicies:
  - name: health-needs-a-token
    selector: {gateway.networking.k8s.io/grpcroute: apps/health}
    providers: [corp]
`
}

// TestBinaryGRPCRoute serves a GRPCRoute with the real binary in front of
// a real gRPC health server, and talks to it with a real gRPC client in
// cleartext HTTP/2 with prior knowledge: without a token, UNAUTHENTICATED
// "Jwt is missing"; with one, the unary Check and the streaming Watch
// reach the server. Then it converts the files with `jwtgate convert`
// (the listener keeps h2c, the backend protocol http2), serves the
// conversion on the same addresses and gets the same answers.
func TestBinaryGRPCRoute(t *testing.T) {
	jwtgateBinary(t)
	hs := health.NewServer()
	hs.SetServingStatus("watched", healthpb.HealthCheckResponse_SERVING)
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	_, backendPort, _ := net.SplitHostPort(ln.Addr().String())

	addr := gatewaytest.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	is := newIssuer(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "grpc.yaml"), []byte(grpcRouteFiles(port, backendPort, is.jwks)), 0o600); err != nil {
		t.Fatal(err)
	}
	token := is.token(t, jwt.MapClaims{"iss": "https://login.grpc.test", "sub": "alice"})

	answers := func() []string {
		t.Helper()
		conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		client := healthpb.NewHealthClient(conn)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var out []string
		_, err = client.Check(ctx, &healthpb.HealthCheckRequest{})
		st := status.Convert(err)
		out = append(out, st.Code().String()+" "+st.Message())
		if st.Code() != codes.Unauthenticated || st.Message() != "Jwt is missing" {
			t.Errorf("no token: %v %q, want Unauthenticated \"Jwt is missing\"", st.Code(), st.Message())
		}
		authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		res, err := client.Check(authed, &healthpb.HealthCheckRequest{})
		if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("with a token: %v, %v", res, err)
		}
		out = append(out, res.GetStatus().String())
		stream, err := client.Watch(authed, &healthpb.HealthCheckRequest{Service: "watched"})
		if err != nil {
			t.Fatal(err)
		}
		first, err := stream.Recv()
		if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Watch: %v, %v", first, err)
		}
		hs.SetServingStatus("watched", healthpb.HealthCheckResponse_NOT_SERVING)
		second, err := stream.Recv()
		if err != nil || second.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("Watch, second update: %v, %v", second, err)
		}
		hs.SetServingStatus("watched", healthpb.HealthCheckResponse_SERVING)
		out = append(out, first.GetStatus().String()+", "+second.GetStatus().String())
		return out
	}

	p := serveReady(t, "-c", dir, "--bind-address", "127.0.0.1")
	vendor := answers()
	stop(t, p)

	out := filepath.Join(t.TempDir(), "native.yaml")
	native := convertTo(t, out, "-c", dir, "--bind-address", "127.0.0.1")
	for _, want := range []string{"h2c: true", "protocol: http2"} {
		if !strings.Contains(native, want) {
			t.Errorf("the conversion has no %q:\n%s", want, native)
		}
	}
	p = serveReady(t, "-c", out)
	sameAnswers(t, []string{"no token", "with a token", "watch"}, vendor, answers())
	stop(t, p)
}
