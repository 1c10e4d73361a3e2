package proxy

import (
	"bufio"
	"crypto/tls"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/model"
)

func TestForwardHeaders(t *testing.T) {
	echo := newEcho(t)
	rt := build(t, oneRoute(echo.URL+"/base", model.Route{}), Options{})
	s := startServer(t, rt, nil)
	base := "http://" + s.Addr("web").String()

	res := get(t, nil, base+"/x/y?q=1", map[string]string{
		"Host":              "www.example.com:8080",
		"X-Forwarded-For":   "203.0.113.9",
		"X-Forwarded-Host":  "spoofed.example",
		"X-Forwarded-Proto": "https",
		"Connection":        "X-Hop",
		"X-Hop":             "secret",
		"Te":                "trailers",
		"Authorization":     "Bearer not-checked-on-an-open-route",
	})
	if res.status != http.StatusOK {
		t.Fatalf("status %d %q", res.status, res.body)
	}
	e := res.echo(t)
	checks := []struct{ name, got, want string }{
		{"Host kept", e.Host, "www.example.com:8080"},
		{"backend path prefixed, query kept", e.RequestURI, "/base/x/y?q=1"},
		{"X-Forwarded-For is the client only", e.Header.Get("X-Forwarded-For"), "127.0.0.1"},
		{"X-Forwarded-Host", e.Header.Get("X-Forwarded-Host"), "www.example.com:8080"},
		{"X-Forwarded-Proto", e.Header.Get("X-Forwarded-Proto"), "http"},
		{"hop-by-hop named in Connection removed", e.Header.Get("X-Hop"), ""},
		{"Authorization passes an open route", e.Header.Get("Authorization"), "Bearer not-checked-on-an-open-route"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestUpstreamErrors(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)

	// A TLS upstream whose certificate the gateway does not trust.
	untrusted := httptest.NewTLSServer(http.HandlerFunc(echoHandler))
	t.Cleanup(untrusted.Close)

	tests := []struct {
		name    string
		backend model.Backend
		status  int
		body    string
	}{
		{"connection refused", model.Backend{URL: refused}, 503, "no healthy upstream"},
		{"unknown host", model.Backend{URL: "http://upstream.invalid"}, 503, "no healthy upstream"},
		{"untrusted certificate", model.Backend{URL: untrusted.URL}, 503, "no healthy upstream"},
		{"timeout", model.Backend{URL: slow.URL, Timeout: 100 * time.Millisecond}, 504, "upstream request timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			cfg := oneRoute(tt.backend.URL, model.Route{Backend: tt.backend})
			cfg.Routes[0].Backend = tt.backend
			h := build(t, cfg, Options{Logger: logs.logger()}).Handler("web")
			res := do(t, h, "GET", "/x", nil)
			if res.status != tt.status || res.body != tt.body {
				t.Fatalf("got %d %q, want %d %q", res.status, res.body, tt.status, tt.body)
			}
			if ct := res.header.Get("Content-Type"); ct != "text/plain" {
				t.Errorf("Content-Type %q", ct)
			}
			lines := logs.access(t)
			if len(lines) != 1 || lines[0]["status"] != float64(tt.status) || lines[0]["upstream_error"] == nil {
				t.Errorf("access log %v", lines)
			}
		})
	}
}

// TestClientGone: a client that goes away while the upstream is slow is
// logged as 499.
func TestClientGone(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	var logs logBuffer
	rt := build(t, oneRoute(slow.URL, model.Route{}), Options{Logger: logs.logger()})
	s := startServer(t, rt, nil)
	c, err := net.Dial("tcp", s.Addr("web").String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	c.Close()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if lines := logs.access(t); len(lines) == 1 {
			if lines[0]["status"] != float64(499) {
				t.Fatalf("logged %v, want status 499", lines[0])
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no access log line")
}

func TestTLSOrigination(t *testing.T) {
	p := certtest.NewCA(t)
	srvCert, srvKey, _ := p.Leaf(t, "upstream", []string{"upstream.test"})
	cliCert, cliKey, _ := p.Leaf(t, "gateway-client", nil)
	serverTLS := func(clientAuth tls.ClientAuthType) *httptest.Server {
		cert, err := tls.LoadX509KeyPair(srvCert, srvKey)
		if err != nil {
			t.Fatal(err)
		}
		s := httptest.NewUnstartedServer(http.HandlerFunc(echoHandler))
		s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: clientAuth, ClientCAs: p.Pool}
		s.StartTLS()
		t.Cleanup(s.Close)
		return s
	}
	simple := serverTLS(tls.NoClientCert)
	mutual := serverTLS(tls.RequireAndVerifyClientCert)

	// httptest.NewTLSServer with its own certificate, written to a PEM file.
	ht := httptest.NewTLSServer(http.HandlerFunc(echoHandler))
	t.Cleanup(ht.Close)
	htCA := filepath.Join(t.TempDir(), "httptest.pem")
	if err := os.WriteFile(htCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ht.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		backend model.Backend
		status  int
		cn      string
	}{
		{"simple with CA file", model.Backend{URL: simple.URL, CAFile: p.File}, 200, ""},
		{"httptest server with its certificate as CA", model.Backend{URL: ht.URL, CAFile: htCA}, 200, ""},
		{"server name override", model.Backend{URL: simple.URL, CAFile: p.File, ServerName: "upstream.test"}, 200, ""},
		{"wrong server name", model.Backend{URL: simple.URL, CAFile: p.File, ServerName: "other.test"}, 503, ""},
		{"mutual with client certificate", model.Backend{URL: mutual.URL, CAFile: p.File, CertFile: cliCert, KeyFile: cliKey}, 200, "gateway-client"},
		{"mutual without client certificate", model.Backend{URL: mutual.URL, CAFile: p.File}, 503, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := oneRoute(tt.backend.URL, model.Route{})
			cfg.Routes[0].Backend = tt.backend
			h := build(t, cfg, Options{}).Handler("web")
			res := do(t, h, "GET", "/tls", map[string]string{"Host": "client.example"})
			if res.status != tt.status {
				t.Fatalf("status %d %q, want %d", res.status, res.body, tt.status)
			}
			if tt.status != 200 {
				return
			}
			e := res.echo(t)
			if !e.TLS || e.ClientCert != tt.cn || e.Host != "client.example" {
				t.Fatalf("upstream saw %+v", e)
			}
		})
	}
}

// TestWebSocket upgrades through the gateway: a raw handshake, then bytes
// echoed over the hijacked connection.
func TestWebSocket(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want upgrade", http.StatusBadRequest)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Path: " + r.URL.Path + "\r\n\r\n")
		brw.Flush()
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		brw.WriteString("echo: " + line)
		brw.Flush()
	}))
	t.Cleanup(up.Close)
	var logs logBuffer
	rt := build(t, oneRoute(up.URL, model.Route{}), Options{Logger: logs.logger()})
	s := startServer(t, rt, nil)

	c, err := net.Dial("tcp", s.Addr("web").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws/./chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("X-Path") != "/ws/chat" {
		t.Fatalf("handshake: %d %v", res.StatusCode, res.Header)
	}
	io.WriteString(c, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo: hello\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	c.Close()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if lines := logs.access(t); len(lines) == 1 {
			if lines[0]["status"] != float64(101) {
				t.Fatalf("logged %v", lines[0])
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no access log line")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestPanicRecovered: a panic in the pipeline is answered 500 with an
// empty body and logged, never sent.
func TestPanicRecovered(t *testing.T) {
	var logs logBuffer
	rt := build(t, oneRoute("http://127.0.0.1:1", model.Route{}), Options{Logger: logs.logger()})
	rt.byName["web"].routes[0].backend.proxy.Transport = roundTripFunc(func(*http.Request) (*http.Response, error) {
		panic("secret-panic-value")
	})
	res := do(t, rt.Handler("web"), "GET", "/x", nil)
	if res.status != 500 || res.body != "" || strings.Contains(res.header.Get("Content-Type"), "html") {
		t.Fatalf("got %d %q %v", res.status, res.body, res.header)
	}
	if !strings.Contains(logs.String(), "handler panic") {
		t.Fatalf("panic not logged:\n%s", logs.String())
	}
	lines := logs.access(t)
	if len(lines) != 1 || lines[0]["status"] != 500.0 {
		t.Fatalf("access log %v", lines)
	}
}

// TestConnectionHeaderCannotTouchOutputs: the headers a client's
// Connection header names are hop-by-hop, but naming an output header
// there must not delete what the gateway set, nor let a spoofed value
// through.
func TestConnectionHeaderCannotTouchOutputs(t *testing.T) {
	echo := newEcho(t)
	s := startServer(t, build(t, seed004Config(t, echo.URL), Options{}), nil)
	addr := s.Addr("http").String()
	token := readTestdata(t, "seed004.jwt")

	res := rawRequest(t, addr, "GET /headers HTTP/1.1",
		"Authorization: Bearer "+token+"\r\n",
		"X-Team: spoofed\r\n",
		"Connection: X-Team, x-jwt-payload, X-Org, X-Hop\r\n",
		"X-Hop: secret\r\n",
		"Host: www.example.com\r\n")
	if res.status != http.StatusOK {
		t.Fatalf("status %d %q", res.status, res.body)
	}
	e := res.echo(t)
	expectSeed004Outputs(t, e, token)
	if got := e.Header.Get("X-Hop"); got != "" {
		t.Errorf("X-Hop named in Connection was forwarded: %q", got)
	}
	if got := e.Header.Get("Connection"); got != "" {
		t.Errorf("Connection forwarded: %q", got)
	}

	// On an open route the spoofed header is still stripped.
	res = rawRequest(t, addr, "GET /open HTTP/1.1", "X-Team: admin\r\n", "Connection: X-Team\r\n")
	if got := res.echo(t).Header.Get("X-Team"); got != "" {
		t.Errorf("open route: X-Team %q reached the upstream", got)
	}
}

// TestOnlyWebSocketUpgrades: an upgrade to anything but WebSocket (h2c
// would give the client an HTTP/2 connection straight to the upstream,
// past routing and authentication for every later request) is forwarded
// as an ordinary request, without Upgrade.
func TestOnlyWebSocketUpgrades(t *testing.T) {
	echo := newEcho(t)
	s := startServer(t, build(t, oneRoute(echo.URL, model.Route{}), Options{}), nil)
	addr := s.Addr("web").String()
	res := rawRequest(t, addr, "GET /x HTTP/1.1",
		"Connection: Upgrade, HTTP2-Settings\r\n", "Upgrade: h2c\r\n", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n")
	if res.status != http.StatusOK {
		t.Fatalf("status %d %q", res.status, res.body)
	}
	e := res.echo(t)
	for _, h := range []string{"Upgrade", "Connection", "Http2-Settings"} {
		if got := e.Header.Get(h); got != "" {
			t.Errorf("%s forwarded: %q", h, got)
		}
	}
	// A WebSocket handshake keeps its upgrade headers.
	res = rawRequest(t, addr, "GET /x HTTP/1.1", "Connection: keep-alive, Upgrade\r\n", "Upgrade: WebSocket\r\n")
	e = res.echo(t)
	if e.Header.Get("Upgrade") != "WebSocket" || e.Header.Get("Connection") != "Upgrade" {
		t.Errorf("WebSocket upgrade headers: %v", e.Header)
	}
}

// TestForwardQuery: the query goes on as sent, after the backend URL's
// own query; a query with parameters that do not parse loses them and is
// re-encoded (ReverseProxy's cleanQueryParams), so that no parameter
// reaches the upstream that the gateway could not read.
func TestForwardQuery(t *testing.T) {
	echo := newEcho(t)
	for _, tt := range []struct{ backend, target, want string }{
		{"", "/x?b=2&a=1&a=0", "/x?b=2&a=1&a=0"},
		{"/base?v=2", "/x?b=2&a=1", "/base/x?v=2&b=2&a=1"},
		{"/base?v=2", "/x", "/base/x?v=2"},
		{"", "/x?z=1&a=1;b=2&c=%zz&d=4", "/x?d=4&z=1"},
	} {
		s := startServer(t, build(t, oneRoute(echo.URL+tt.backend, model.Route{}), Options{}), nil)
		res := rawRequest(t, s.Addr("web").String(), "GET "+tt.target+" HTTP/1.1")
		if got := res.echo(t).RequestURI; got != tt.want {
			t.Errorf("backend %q, GET %s: upstream saw %q, want %q", tt.backend, tt.target, got, tt.want)
		}
	}
}

// TestUpgradeRefusedOrMismatched: an upstream that ignores a WebSocket
// handshake answers as usual; one that switches to another protocol than
// the one asked is a failure, 503.
func TestUpgradeRefusedOrMismatched(t *testing.T) {
	plain := newEcho(t)
	mismatched := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
	}))
	t.Cleanup(mismatched.Close)
	for _, tt := range []struct {
		name, upstream string
		status         int
		body           string
	}{
		{"upstream ignores the upgrade", plain.URL, 200, ""},
		{"upstream switches to another protocol", mismatched.URL, 503, "no healthy upstream"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, build(t, oneRoute(tt.upstream, model.Route{}), Options{}), nil)
			res := rawRequest(t, s.Addr("web").String(), "GET /ws HTTP/1.1", "Connection: Upgrade\r\n", "Upgrade: websocket\r\n")
			if res.status != tt.status || (tt.body != "" && res.body != tt.body) {
				t.Fatalf("got %d %q, want %d %q", res.status, res.body, tt.status, tt.body)
			}
		})
	}
}

// TestContentEncodingPassesThrough checks that the gateway neither asks
// the upstream for compression nor decompresses: Accept-Encoding reaches
// the upstream as the client sent it (or not at all), and a compressed
// response reaches the client byte for byte with its Content-Encoding.
func TestContentEncodingPassesThrough(t *testing.T) {
	compressed := "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\xcbH\xcd\xc9\xc9\x07\x00\x86\xa6\x106\x05\x00\x00\x00" // "hello"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Accept-Encoding", strings.Join(r.Header.Values("Accept-Encoding"), ","))
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, compressed)
			return
		}
		io.WriteString(w, "hello")
	}))
	t.Cleanup(up.Close)
	rt := build(t, oneRoute(up.URL, model.Route{}), Options{})
	s := startServer(t, rt, nil)
	base := "http://" + s.Addr("web").String()
	// A client that sends no Accept-Encoding of its own and never decodes.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)

	for _, tc := range []struct {
		name, accept           string
		wantSeen, wantEncoding string
		wantBody               string
	}{
		{"no Accept-Encoding", "", "", "", "hello"},
		{"gzip asked by the client", "gzip", "gzip", "gzip", compressed},
		{"identity asked by the client", "identity", "identity", "", "hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.accept != "" {
				hdr["Accept-Encoding"] = tc.accept
			}
			res := get(t, client, base+"/", hdr)
			if res.status != http.StatusOK {
				t.Fatalf("status %d", res.status)
			}
			if got := res.header.Get("X-Seen-Accept-Encoding"); got != tc.wantSeen {
				t.Errorf("upstream saw Accept-Encoding %q, want %q", got, tc.wantSeen)
			}
			if got := res.header.Get("Content-Encoding"); got != tc.wantEncoding {
				t.Errorf("Content-Encoding %q, want %q", got, tc.wantEncoding)
			}
			if res.body != tc.wantBody {
				t.Errorf("body %q, want %q", res.body, tc.wantBody)
			}
		})
	}
}
