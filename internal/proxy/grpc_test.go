package proxy_test

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// healthBackend is a real gRPC server with the standard health service,
// behind the gateway. It records the metadata of every call and sets a
// trailer on unary calls, so that tests see what crossed the gateway in
// both directions.
type healthBackend struct {
	addr   string
	health *health.Server
	mu     sync.Mutex
	seen   []metadata.MD
}

// startHealth serves the health service on loopback, over TLS with creds
// or in cleartext (h2c) when creds is nil.
func startHealth(t *testing.T, creds credentials.TransportCredentials) *healthBackend {
	t.Helper()
	b := &healthBackend{health: health.NewServer()}
	record := func(ctx context.Context) {
		md, _ := metadata.FromIncomingContext(ctx)
		b.mu.Lock()
		b.seen = append(b.seen, md.Copy())
		b.mu.Unlock()
	}
	opts := []grpc.ServerOption{
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			record(ctx)
			_ = grpc.SetTrailer(ctx, metadata.Pairs("x-upstream-trailer", "sent after the message"))
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			record(ss.Context())
			return h(srv, ss)
		}),
	}
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, b.health)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return b
}

// last is the metadata of the last call the backend received.
func (b *healthBackend) last(t *testing.T) metadata.MD {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.seen) == 0 {
		t.Fatal("the backend received no call")
	}
	return b.seen[len(b.seen)-1]
}

// TestGRPCThroughGateway: a real gRPC client calls a real gRPC server
// (the standard health service) through the gateway, over TLS (ALPN h2)
// to an HTTP/2-over-TLS backend and over h2c with prior knowledge to an
// h2c backend, with a JWT required: without a token the client gets
// UNAUTHENTICATED "Jwt is missing", with an expired one UNAUTHENTICATED
// "Jwt is expired", with a token the policy refuses PERMISSION_DENIED,
// with a good one the call succeeds with the upstream's trailers; a
// server-streaming Watch delivers each update as the server sends it; the
// upstream's own error statuses pass through; a direct response's body
// reaches the client as the status message, decoded.
func TestGRPCThroughGateway(t *testing.T) {
	ca := certtest.NewCA(t)
	gwCert, gwKey, _ := ca.Leaf(t, "gw", []string{"gw.test"})
	_, _, upCert := ca.Leaf(t, "upstream", []string{"upstream.test"})
	tlsBackend := startHealth(t, credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{upCert}}))
	h2cBackend := startHealth(t, nil)
	is := newIssuer(t, "https://issuer.test", false)

	yaml := `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: tls
    address: 127.0.0.1:0
    tls: {certFile: ` + gwCert + `, keyFile: ` + gwKey + `}
  - name: h2c
    address: 127.0.0.2:0
    h2c: true
providers:
` + is.provider("corp", "") + `
routes:
  - name: h2c-down
    listener: h2c
    match: {paths: [/grpc.health.v1.Health/Down]}
    directResponse: {status: 503, body: "down 100% — back soon"}
  - name: tls-health
    listener: tls
    match: {paths: [/grpc.health.v1.Health/*]}
    backend: {url: "https://` + tlsBackend.addr + `", protocol: http2, caFile: ` + ca.File + `, serverName: upstream.test}
    jwt: {providers: [corp]}
  - name: h2c-health
    listener: h2c
    match: {paths: [/grpc.health.v1.Health/*]}
    backend: {url: "http://` + h2cBackend.addr + `", protocol: http2}
    jwt: {providers: [corp]}
policies:
  - name: alice-only
    action: ALLOW
    routes: [tls-health, h2c-health]
    rules: [{from: [{requestPrincipals: [https://issuer.test/alice]}]}]
`
	h := gatewaytest.Start(t, yaml)

	alice := is.token(t, "alice", nil)
	bob := is.token(t, "bob", nil)
	expired := is.token(t, "alice", jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()})

	for _, tc := range []struct {
		name     string
		listener string
		creds    credentials.TransportCredentials
		backend  *healthBackend
		proto    string // X-Forwarded-Proto the backend sees
	}{
		{"TLS listener (ALPN h2), HTTP/2 over TLS to the backend", "tls", credentials.NewTLS(&tls.Config{RootCAs: ca.Pool, ServerName: "gw.test"}), tlsBackend, "https"},
		{"h2c listener, h2c to the backend", "h2c", insecure.NewCredentials(), h2cBackend, "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := grpc.NewClient("passthrough:///"+h.Addr(tc.listener), grpc.WithTransportCredentials(tc.creds))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			client := healthpb.NewHealthClient(conn)
			call := func(token string) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if token != "" {
					ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
				}
				return ctx, cancel
			}

			for _, d := range []struct {
				name, token string
				code        codes.Code
				msg         string
			}{
				{"no token", "", codes.Unauthenticated, "Jwt is missing"},
				{"expired token", expired, codes.Unauthenticated, "Jwt is expired"},
				{"token the policy refuses", bob, codes.PermissionDenied, "RBAC: access denied"},
			} {
				ctx, cancel := call(d.token)
				_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
				cancel()
				if st := status.Convert(err); st.Code() != d.code || st.Message() != d.msg {
					t.Errorf("%s: got %v %q, want %v %q", d.name, st.Code(), st.Message(), d.code, d.msg)
				}
			}

			// Allowed: the response, then the upstream's trailers.
			ctx, cancel := call(alice)
			defer cancel()
			var trailer metadata.MD
			res, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
			if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("Check: %v, %v", res, err)
			}
			if got := trailer.Get("x-upstream-trailer"); len(got) != 1 || got[0] != "sent after the message" {
				t.Errorf("trailer: %v", trailer)
			}
			md := tc.backend.last(t)
			if len(md.Get("authorization")) != 0 {
				t.Errorf("the token reached the backend: %v", md)
			}
			if got := md.Get("x-forwarded-proto"); len(got) != 1 || got[0] != tc.proto {
				t.Errorf("x-forwarded-proto %v, want %s", got, tc.proto)
			}

			// The upstream's own status passes through.
			_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
			if st := status.Convert(err); st.Code() != codes.NotFound {
				t.Errorf("unknown service: %v", err)
			}

			// Streaming: each update arrives as the server sends it.
			service := "svc-" + tc.listener
			tc.backend.health.SetServingStatus(service, healthpb.HealthCheckResponse_SERVING)
			stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []healthpb.HealthCheckResponse_ServingStatus{healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING, healthpb.HealthCheckResponse_SERVING} {
				got, err := stream.Recv()
				if err != nil || got.GetStatus() != want {
					t.Fatalf("Watch: got %v, %v; want %v", got, err, want)
				}
				if want == healthpb.HealthCheckResponse_SERVING {
					tc.backend.health.SetServingStatus(service, healthpb.HealthCheckResponse_NOT_SERVING)
				} else {
					tc.backend.health.SetServingStatus(service, healthpb.HealthCheckResponse_SERVING)
				}
			}

			// A stream the gateway denies ends with the gateway's status.
			bobCtx, bobCancel := call(bob)
			defer bobCancel()
			denied, err := client.Watch(bobCtx, &healthpb.HealthCheckRequest{Service: service})
			if err == nil {
				_, err = denied.Recv()
			}
			if st := status.Convert(err); st.Code() != codes.PermissionDenied {
				t.Errorf("denied Watch: %v", err)
			}
		})
	}

	t.Run("direct response message", func(t *testing.T) {
		conn, err := grpc.NewClient("passthrough:///"+h.Addr("h2c"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = conn.Invoke(ctx, "/grpc.health.v1.Health/Down", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
		if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != "down 100% — back soon" {
			t.Errorf("got %v %q", st.Code(), st.Message())
		}
	})

	// The access log keeps the HTTP status the gateway decided.
	var denied []int
	for _, l := range accessLog(t, h) {
		if str(l, "route") == "h2c-health" && num(l, "status") != 200 {
			denied = append(denied, num(l, "status"))
		}
	}
	if want := []int{401, 401, 403, 403}; len(denied) != len(want) || denied[0] != 401 || denied[2] != 403 {
		t.Errorf("logged statuses of the denied h2c calls: %v, want %v", denied, want)
	}
}
