package proxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/waittest"
)

// proxyYAML is an egress listener used as a forward proxy: callers
// present a token in Proxy-Authorization, gateway-wide rules allow the
// subject "allowed-client" to reach api.example.com, and CONNECT may name
// the local server's port only.
const proxyYAML = `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: egress
    address: 127.0.0.1:0
    egress:
      connectPorts: [{{PORT}}]
      proxyJwt: {providers: [mesh]}
      resolve: ["{{RESOLVE}}"]
      caFile: {{CA}}
providers:
{{PROVIDER}}
egress:
  servers:
    - name: api
      host: api.example.com
      port: {{PORT}}
      tls: {mode: SIMPLE}
    - name: other
      host: other.example.com
      port: {{PORT}}
      tls: {mode: SIMPLE}
  authorizations:
    - name: callers
      rules:
        - from: [{jwt: {iss: "https://mesh.example", sub: allowed-client}}]
          to: [{hosts: [api.example.com]}]
`

type proxyFixture struct {
	h       *gatewaytest.Harness
	addr    string
	ext     *external
	ca      *certtest.CA
	allowed string // token of allowed-client
	denied  string // token of another subject
	forged  string // allowed-client, signed by another key
}

func startProxy(t *testing.T, opts ...gatewaytest.Option) *proxyFixture {
	t.Helper()
	return startProxyLinger(t, 0, opts...)
}

// startProxyLinger is startProxy with Options.TunnelLinger set.
func startProxyLinger(t *testing.T, linger time.Duration, opts ...gatewaytest.Option) *proxyFixture {
	t.Helper()
	ca := certtest.NewCA(t)
	ext := startExternal(t, ca, "api.example.com", extOptions{})
	is := newIssuer(t, "https://mesh.example", false)
	forger := newIssuer(t, "https://mesh.example", false)
	seam := newDialSeam(t)
	seam.linger = linger
	h := startEgress(t, seam, proxyYAML, map[string]string{
		"PORT": itoa(ext.port), "RESOLVE": ext.resolve(), "CA": ca.File, "PROVIDER": is.provider("mesh", ""),
	}, opts...)
	return &proxyFixture{h: h, addr: h.Addr("egress"), ext: ext, ca: ca,
		allowed: is.token(t, "allowed-client", nil), denied: is.token(t, "other-client", nil),
		forged: forger.token(t, "allowed-client", nil)}
}

func proxyAuth(tok string) string {
	if tok == "" {
		return ""
	}
	return "Proxy-Authorization: Bearer " + tok + "\r\n"
}

func TestEgressForwardProxyAuth(t *testing.T) {
	f := startProxy(t, gatewaytest.Admin())
	target := "api.example.com:" + itoa(f.ext.port)
	tests := []struct {
		name, requestLine, token string
		status                   int
		body, challenge          string
	}{
		{"absolute-form allowed", "GET http://api.example.com/get?a=1 HTTP/1.1", f.allowed, 200, "*", ""},
		{"absolute-form denied by gateway-wide rules", "GET http://api.example.com/get HTTP/1.1", f.denied, 403, "RBAC: access denied", ""},
		{"absolute-form to a host no rule names", "GET http://other.example.com/get HTTP/1.1", f.allowed, 403, "RBAC: access denied", ""},
		{"absolute-form to a host no server serves", "GET http://unknown.example.com/get HTTP/1.1", f.allowed, 403, "RBAC: access denied", ""},
		{"absolute-form without a token", "GET http://api.example.com/get?a=1 HTTP/1.1", "", 407, "Jwt is missing", `Bearer realm="http://api.example.com/get"`},
		{"absolute-form with a forged token", "GET http://api.example.com/get HTTP/1.1", f.forged, 407, "*", `Bearer realm="http://api.example.com/get", error="invalid_token"`},
		{"absolute-form with a malformed token", "GET http://api.example.com/get HTTP/1.1", "not-a-jwt", 407, "*", `Bearer realm="http://api.example.com/get", error="invalid_token"`},
		{"CONNECT denied by gateway-wide rules", "CONNECT " + target + " HTTP/1.1", f.denied, 403, "RBAC: access denied", ""},
		{"CONNECT without a token", "CONNECT " + target + " HTTP/1.1", "", 407, "Jwt is missing", `Bearer realm="http://` + target + `"`},
		{"CONNECT with a forged token", "CONNECT " + target + " HTTP/1.1", f.forged, 407, "*", `Bearer realm="http://` + target + `", error="invalid_token"`},
		{"CONNECT to a port not in connectPorts", "CONNECT api.example.com:22 HTTP/1.1", f.allowed, 403, "RBAC: access denied", ""},
		{"CONNECT to 443, not in connectPorts", "CONNECT api.example.com:443 HTTP/1.1", f.allowed, 403, "RBAC: access denied", ""},
		{"CONNECT without a port", "CONNECT api.example.com HTTP/1.1", f.allowed, 400, "*", ""},
		// Host-header requests are not proxy requests: no 407, but the
		// gateway-wide rules need the caller's identity.
		{"Host header without a token", "GET /get HTTP/1.1", "", 403, "RBAC: access denied", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.ext.requests())
			host := "api.example.com"
			if strings.HasPrefix(tt.requestLine, "CONNECT") {
				host = strings.Fields(tt.requestLine)[1]
			}
			r := rawExchange(t, f.addr, tt.requestLine+"\r\nHost: "+host+"\r\n"+proxyAuth(tt.token)+"Connection: close\r\n\r\n")
			expect(t, r, tt.status, tt.body)
			if got := r.header.Get("Proxy-Authenticate"); got != tt.challenge {
				t.Errorf("Proxy-Authenticate %q, want %q", got, tt.challenge)
			}
			if r.header.Get("Www-Authenticate") != "" {
				t.Errorf("a 407 carries WWW-Authenticate")
			}
			if tt.status == 200 {
				s := r.seen(t)
				if s.URI != "/get?a=1" || s.Header.Get("Proxy-Authorization") != "" {
					t.Errorf("external server saw %s %v", s.URI, s.Header)
				}
			} else if len(f.ext.requests()) != before {
				t.Errorf("a refused request reached the external server")
			}
		})
	}
	// The reasons are in the access log; no line holds a token.
	logs := f.h.Logs.String()
	for _, tok := range []string{f.allowed, f.denied, f.forged} {
		if strings.Contains(logs, tok) || strings.Contains(logs, strings.Split(tok, ".")[2]) {
			t.Errorf("a token is in the log")
		}
	}
	if !strings.Contains(logs, "CONNECT port not allowed") {
		t.Errorf("the CONNECT port refusal is not in the access log")
	}
	// Proxy tokens count in the provider's authentication metrics, and
	// requests by egress server.
	resp, err := http.Get(f.h.AdminURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, series := range []string{
		`jwtgate_authn_total{outcome="missing",provider="mesh",reason="jwt_missing"} 2`,
		`jwtgate_authn_total{outcome="invalid",provider="mesh",`,
		`jwtgate_authn_total{outcome="verified",provider="mesh",reason="none"}`,
		`jwtgate_requests_total{code="200",listener="egress",route="api"} 1`,
		`jwtgate_requests_total{code="403",listener="egress",route="api"} 3`,
		`jwtgate_requests_total{code="407",listener="egress",route=""} 5`,
	} {
		if !strings.Contains(string(b), series) {
			t.Errorf("no %s in /metrics:\n%s", series, grepLines(string(b), "jwtgate_requests_total"))
		}
	}
}

// TestEgressConnectTunnel: an allowed CONNECT opens a tunnel to the
// external host; the client's own TLS runs through it and verifies the
// external server's certificate, with Go's client and with curl.
func TestEgressConnectTunnel(t *testing.T) {
	f := startProxy(t)
	url := "https://api.example.com:" + itoa(f.ext.port) + "/tunnelled?x=1"

	t.Run("http.Transport", func(t *testing.T) {
		c := proxyClient(f.addr, f.ca.Pool, http.Header{"Proxy-Authorization": {"Bearer " + f.allowed}})
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer end-to-end")
		r := send(t, c, req)
		expect(t, r, 200, "*")
		s := r.seen(t)
		if !s.TLS || s.SNI != "api.example.com" || s.URI != "/tunnelled?x=1" || s.Header.Get("Proxy-Authorization") != "" {
			t.Errorf("external server saw %+v", s)
		}
		// A tunnel is opaque: what the client sends inside is its own.
		if s.Header.Get("Authorization") != "Bearer end-to-end" {
			t.Errorf("Authorization inside the tunnel %q", s.Header.Get("Authorization"))
		}
		l := waitAccess(t, f.h, 1)
		if str(l, "method") != "CONNECT" || num(l, "status") != 200 || str(l, "route") != "api" ||
			str(l, "upstream") != "tcp://api.example.com:"+itoa(f.ext.port) || str(l, "sub") != "https://mesh.example/allowed-client" {
			t.Errorf("access log %v", l)
		}
	})
	t.Run("a client that does not trust the external server", func(t *testing.T) {
		c := proxyClient(f.addr, nil, http.Header{"Proxy-Authorization": {"Bearer " + f.allowed}})
		req, _ := http.NewRequest("GET", url, nil)
		if _, err := c.Do(req); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("error %v, want a certificate error: the tunnel does not terminate TLS", err)
		}
	})
	t.Run("curl", func(t *testing.T) {
		out := curl(t, "-i", "-x", "http://"+f.addr, "--proxy-header", "Proxy-Authorization: Bearer "+f.allowed,
			"--cacert", f.ca.File, url)
		status, body := curlStatusBody(out)
		if status != "200" {
			t.Fatalf("curl: %s", out)
		}
		if s := (res{body: body}).seen(t); s.SNI != "api.example.com" || s.URI != "/tunnelled?x=1" {
			t.Errorf("external server saw %+v", s)
		}
	})
	t.Run("curl without a token", func(t *testing.T) {
		out, err := curlErr(t, "-x", "http://"+f.addr, "--cacert", f.ca.File, url, "-o", "/dev/null", "-w", "%{http_connect}")
		if err == nil || !strings.HasSuffix(strings.TrimSpace(out), "407") {
			t.Fatalf("curl: %s", out)
		}
	})
	t.Run("curl absolute-form", func(t *testing.T) {
		out := curl(t, "-i", "-x", "http://"+f.addr, "--proxy-header", "Proxy-Authorization: Bearer "+f.allowed,
			"http://api.example.com/plain?y=2")
		status, body := curlStatusBody(out)
		if status != "200" {
			t.Fatalf("curl: %s", out)
		}
		if s := (res{body: body}).seen(t); !s.TLS || s.URI != "/plain?y=2" || s.Header.Get("Proxy-Authorization") != "" {
			t.Errorf("external server saw %+v", s)
		}
	})
}

// connectRaw opens a tunnel by hand and returns the client's end, with
// the gateway's response read.
func connectRaw(t *testing.T, addr, target, token string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n"+proxyAuth(token)+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	r, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", r.StatusCode)
	}
	return c, br
}

// TestEgressTunnelsEnd: tunnels end, their goroutines with them, when the
// client closes (after a complete exchange, or in the middle of the
// handshake), and each leaves its access log line.
func TestEgressTunnelsEnd(t *testing.T) {
	f := startProxy(t)
	target := "api.example.com:" + itoa(f.ext.port)
	base := runtime.NumGoroutine()
	const n = 20
	for i := range n {
		c, br := connectRaw(t, f.addr, target, f.allowed)
		if i%2 == 0 {
			// A whole TLS exchange through the tunnel, then close.
			tc := tls.Client(&bufferedConn{Conn: c, r: br}, &tls.Config{RootCAs: f.ca.Pool, ServerName: "api.example.com"})
			req, _ := http.NewRequest("GET", "https://"+target+"/n", nil)
			if err := req.Write(tc); err != nil {
				t.Fatal(err)
			}
			r, err := http.ReadResponse(bufio.NewReader(tc), req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
			tc.Close()
		} else {
			// Gone half-way through a handshake.
			_, _ = c.Write([]byte{0x16, 0x03, 0x01})
			c.Close()
		}
	}
	// Every tunnel's line is written when it has ended.
	waittest.Until(t, 10*time.Second, "every tunnel logged", func() bool { return len(accessLog(t, f.h)) >= n })
	waittest.Until(t, 10*time.Second, "goroutines back to the level before the tunnels", func() bool {
		return runtime.NumGoroutine() <= base+2
	})
	if got := len(f.ext.requests()); got != n/2 {
		t.Errorf("%d requests through the tunnels, want %d", got, n/2)
	}
}

// TestEgressTunnelEndsWhenTheServerCloses: the external end closing is
// passed on to the client, and ends the tunnel once the client has been
// silent for the linger time, even when it keeps its end open.
func TestEgressTunnelEndsWhenTheServerCloses(t *testing.T) {
	f := startProxyLinger(t, 100*time.Millisecond)
	c, br := connectRaw(t, f.addr, "api.example.com:"+itoa(f.ext.port), f.allowed)
	defer c.Close()
	// Plain text to a TLS server: it answers 400 and closes.
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
	r, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	// An HTTP/1.0 answer without a length: the body ends with the
	// connection.
	if _, err := io.ReadAll(r.Body); err != nil || r.StatusCode != 400 {
		t.Fatalf("status %d, reading the body: %v", r.StatusCode, err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("the tunnel stayed open: %v", err)
	}
	if l := waitAccess(t, f.h, 1); num(l, "status") != 200 || str(l, "method") != "CONNECT" {
		t.Errorf("access log %v", l)
	}
}

// TestEgressTunnelsCloseWithTheirRuntime: a tunnel is a request that
// started on a Runtime; a reload lets it run for the grace period, then
// closes it, and shutdown closes what is left (http.Server does not
// track hijacked connections).
func TestEgressTunnelsCloseWithTheirRuntime(t *testing.T) {
	f := startProxy(t, gatewaytest.Grace(100*time.Millisecond))
	target := "api.example.com:" + itoa(f.ext.port)
	c, br := connectRaw(t, f.addr, target, f.allowed)
	defer c.Close()
	if err := f.h.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("the tunnel outlived its Runtime: %v", err)
	}
	c2, br2 := connectRaw(t, f.addr, target, f.allowed)
	defer c2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = f.h.Gateway.Shutdown(ctx) // the tunnel holds the drain to its deadline
	if _, err := br2.ReadByte(); err != io.EOF {
		t.Fatalf("the tunnel outlived the gateway: %v", err)
	}
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// grepLines returns the lines of s that start with prefix.
func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
