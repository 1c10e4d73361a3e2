package kgateway_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// grpcUpstream is a real gRPC server (the standard health service) on
// loopback, in cleartext HTTP/2, that records the metadata of every
// call it receives.
type grpcUpstream struct {
	port int
	mu   sync.Mutex
	seen []metadata.MD
}

func startGRPCUpstream(t *testing.T) *grpcUpstream {
	t.Helper()
	u := &grpcUpstream{}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		u.mu.Lock()
		u.seen = append(u.seen, md.Copy())
		u.mu.Unlock()
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return u
}

// calls is the metadata of every call received so far.
func (u *grpcUpstream) calls() []metadata.MD {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]metadata.MD(nil), u.seen...)
}

// grpcRoute is a GRPCRoute of namespace grpc on the guide's Gateway,
// kgateway-system/http, to backendRef.
func grpcRoute(backendRef string) string {
	return `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: health, namespace: grpc}
spec:
  parentRefs: [{name: http, namespace: kgateway-system}]
  rules:
    - matches: [{method: {service: grpc.health.v1.Health}}]
      backendRefs: [` + backendRef + `]
`
}

// TestGRPCRouteGatewayJWT serves kgateway's Basic JWT policy guide (its
// Gateway-wide TrafficPolicy) with a GRPCRoute attached to the Gateway
// instead of the HTTPRoute, to a real gRPC server reached through a
// Service or a kgateway Backend: the Gateway-wide policy covers the
// GRPCRoute. Without a token a gRPC call is answered the way Envoy
// answers it, HTTP 200 with grpc-status 16 (UNAUTHENTICATED) "Jwt is
// missing", and never reaches the server; with the guide's token it
// passes, the claim headers with it and the token removed.
func TestGRPCRouteGatewayJWT(t *testing.T) {
	for _, tc := range []struct {
		name string
		// backend is the backendRef and what it names, for the
		// upstream's port.
		backendRef string
		backend    func(port int) string
	}{
		{"Service", "{name: health, port: 50051}", func(port int) string {
			return `apiVersion: v1
kind: Service
metadata: {name: health, namespace: grpc}
spec: {ports: [{name: grpc, port: 50051}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: health-1, namespace: grpc, labels: {kubernetes.io/service-name: health}}
addressType: IPv4
ports: [{name: grpc, port: ` + strconv.Itoa(port) + `}]
endpoints: [{addresses: [127.0.0.1]}]
`
		}},
		{"kgateway Backend", "{group: gateway.kgateway.dev, kind: Backend, name: health}", func(port int) string {
			return `apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata: {name: health, namespace: grpc}
spec: {static: {hosts: [{host: 127.0.0.1, port: ` + strconv.Itoa(port) + `}]}}
`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, port := startGRPCUpstream(t), freePort(t)
			h := gatewaytest.Start(t, strings.Join([]string{
				example(t, "gateway.yaml", 8080, port),
				example(t, "gatewayextension.yaml"),
				example(t, "trafficpolicy.yaml"),
				grpcRoute(tc.backendRef),
				tc.backend(up.port),
			}, "\n---\n"))
			for _, st := range h.Snapshot.Statuses {
				if !st.Accepted() {
					t.Errorf("%s", st)
				}
			}
			addr := "127.0.0.1:" + strconv.Itoa(port)

			t.Run("the gateway's answer, on the wire", func(t *testing.T) {
				res, body := rawGRPC(t, addr, "")
				if res.StatusCode != http.StatusOK || res.ProtoMajor != 2 {
					t.Fatalf("no token: %s %s, want HTTP/2 200", res.Proto, res.Status)
				}
				if got, msg := res.Header.Get("Grpc-Status"), res.Header.Get("Grpc-Message"); got != "16" || msg != "Jwt is missing" {
					t.Errorf("no token: grpc-status %q grpc-message %q, want 16 Jwt is missing", got, msg)
				}
				if len(body) != 0 {
					t.Errorf("no token: body %q, want none (trailers-only)", body)
				}
				if n := len(up.calls()); n != 0 {
					t.Errorf("the upstream received %d calls without a token", n)
				}
				res, body = rawGRPC(t, addr, seedToken)
				if res.StatusCode != http.StatusOK || res.Trailer.Get("Grpc-Status") != "0" || len(body) == 0 {
					t.Errorf("with the guide's token: %s, grpc-status %q, %d bytes, want 200, 0 and the server's message",
						res.Status, res.Trailer.Get("Grpc-Status"), len(body))
				}
			})

			t.Run("a gRPC client", func(t *testing.T) {
				conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				client := healthpb.NewHealthClient(conn)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				before := len(up.calls())
				_, err = client.Check(ctx, &healthpb.HealthCheckRequest{})
				if st := status.Convert(err); st.Code() != codes.Unauthenticated || st.Message() != "Jwt is missing" {
					t.Errorf("no token: %v %q, want Unauthenticated Jwt is missing", st.Code(), st.Message())
				}
				if n := len(up.calls()); n != before {
					t.Errorf("the upstream received a call without a token")
				}
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+seedToken)
				res, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
				if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					t.Fatalf("with the guide's token: %v, %v", res, err)
				}
				calls := up.calls()
				md := calls[len(calls)-1]
				if got := md.Get("x-team"); len(got) != 1 || got[0] != "dev" {
					t.Errorf("x-team at the upstream: %q, want dev (claimsToHeaders)", got)
				}
				if a := md.Get("authorization"); len(a) != 0 {
					t.Errorf("the token reached the upstream (forwardToken is false): %q", a)
				}
			})
		})
	}
}

// rawGRPC sends one unary gRPC call, Health/Check with an empty request,
// over cleartext HTTP/2 with prior knowledge as a gRPC client does, with
// a token (none when empty), and returns the response, its body read
// (so that its trailers are there).
func rawGRPC(t *testing.T, addr, token string) (*http.Response, []byte) {
	t.Helper()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	// A gRPC message: not compressed, 0 bytes long.
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/grpc.health.v1.Health/Check", bytes.NewReader([]byte{0, 0, 0, 0, 0}))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}
