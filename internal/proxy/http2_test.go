package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/model"
)

// protoUpstream answers with the HTTP version the request came in.
func protoUpstream(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, r.Proto)
}

// protocols is an http.Protocols with the given versions.
func protocols(h1, h2, h2c bool) *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(h1)
	p.SetHTTP2(h2)
	p.SetUnencryptedHTTP2(h2c)
	return p
}

// proto sends GET target with c and returns the response's protocol
// version and body (the upstream's protocol), or the error.
func proto(t *testing.T, c *http.Client, target string) (string, string, error) {
	t.Helper()
	res, err := c.Get(target)
	if err != nil {
		return "", "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.Proto, string(b), nil
}

// TestListenerHTTPVersions: a TLS listener gives HTTP/2 to clients that
// offer it in ALPN and HTTP/1.1 to the others; a plain listener serves
// cleartext HTTP/2 with prior knowledge only with h2c; the upstream is
// spoken to in HTTP/1.1 by default whatever the client spoke.
func TestListenerHTTPVersions(t *testing.T) {
	ca := certtest.NewCA(t)
	certFile, keyFile, _ := ca.Leaf(t, "gw", []string{"gw.test"})
	up := httptest.NewServer(http.HandlerFunc(protoUpstream))
	t.Cleanup(up.Close)
	cfg := &model.Config{
		Listeners: []model.Listener{
			{Name: "tls", Address: "127.0.0.1:0", TLS: &model.ListenerTLS{CertFile: certFile, KeyFile: keyFile}},
			{Name: "h2c", Address: "127.0.0.2:0", H2C: true},
			{Name: "plain", Address: "127.0.0.3:0"},
		},
		Routes: []model.Route{
			{Name: "tls", Listener: "tls", Backend: model.Backend{URL: up.URL}},
			{Name: "h2c", Listener: "h2c", Backend: model.Backend{URL: up.URL}},
			{Name: "plain", Listener: "plain", Backend: model.Backend{URL: up.URL}},
		},
	}
	s := startServer(t, build(t, cfg, Options{}), nil)
	tlsConf := &tls.Config{RootCAs: ca.Pool, ServerName: "gw.test"}
	client := func(p *http.Protocols) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf.Clone(), Protocols: p}}
	}
	for _, tt := range []struct {
		name, listener, scheme string
		client                 *http.Protocols
		want                   string // the client's protocol; "" for a failed exchange
	}{
		{"TLS, client offers h2 and http/1.1", "tls", "https", protocols(true, true, false), "HTTP/2.0"},
		{"TLS, client offers h2 only", "tls", "https", protocols(false, true, false), "HTTP/2.0"},
		{"TLS, client offers http/1.1 only", "tls", "https", protocols(true, false, false), "HTTP/1.1"},
		{"h2c listener, prior knowledge", "h2c", "http", protocols(false, false, true), "HTTP/2.0"},
		{"h2c listener, HTTP/1.1", "h2c", "http", protocols(true, false, false), "HTTP/1.1"},
		{"plain listener, HTTP/1.1", "plain", "http", protocols(true, false, false), "HTTP/1.1"},
		{"plain listener refuses prior knowledge", "plain", "http", protocols(false, false, true), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, body, err := proto(t, client(tt.client), tt.scheme+"://"+s.Addr(tt.listener).String()+"/v")
			switch {
			case tt.want == "" && err == nil:
				t.Fatalf("answered %s %q, want a failed exchange", got, body)
			case tt.want == "":
			case err != nil:
				t.Fatalf("%v", err)
			case got != tt.want || body != "HTTP/1.1":
				t.Fatalf("client got %s, upstream saw %q; want %s and HTTP/1.1", got, body, tt.want)
			}
		})
	}
}

// TestH2CUpgradeStillRefused: on a listener that serves h2c with prior
// knowledge, an HTTP/1.1 request asking to upgrade to h2c is answered in
// HTTP/1.1 and forwarded without its upgrade headers.
func TestH2CUpgradeStillRefused(t *testing.T) {
	echo := newEcho(t)
	cfg := oneRoute(echo.URL, model.Route{})
	cfg.Listeners[0].H2C = true
	s := startServer(t, build(t, cfg, Options{}), nil)
	res := rawRequest(t, s.Addr("web").String(), "GET /x HTTP/1.1",
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
}

// TestWebSocketOverTLS: with h2 in the listener's ALPN, a WebSocket
// client (which offers http/1.1) still gets its upgrade.
func TestWebSocketOverTLS(t *testing.T) {
	ca := certtest.NewCA(t)
	certFile, keyFile, _ := ca.Leaf(t, "gw", []string{"gw.test"})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo: " + line)
		brw.Flush()
	}))
	t.Cleanup(up.Close)
	cfg := oneRoute(up.URL, model.Route{})
	cfg.Listeners[0].TLS = &model.ListenerTLS{CertFile: certFile, KeyFile: keyFile}
	s := startServer(t, build(t, cfg, Options{}), nil)
	c, err := tls.Dial("tcp", s.Addr("web").String(), &tls.Config{RootCAs: ca.Pool, ServerName: "gw.test", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("ALPN %q", p)
	}
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: gw.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", res, err)
	}
	io.WriteString(c, "hi\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo: hi\n" {
		t.Fatalf("read %q, %v", line, err)
	}
}

// TestEgressListenerALPN: an egress listener with TLS offers HTTP/1.1
// only (its CONNECT tunnels take the connection over); h2c is refused on
// TLS and egress listeners.
func TestEgressListenerALPN(t *testing.T) {
	ca := certtest.NewCA(t)
	certFile, keyFile, _ := ca.Leaf(t, "gw", []string{"gw.test"})
	lt := &model.ListenerTLS{CertFile: certFile, KeyFile: keyFile}
	cfg := &model.Config{Listeners: []model.Listener{
		{Name: "egress", Address: "127.0.0.1:0", TLS: lt, Egress: &model.ListenerEgress{}},
		{Name: "web", Address: "127.0.0.2:0", TLS: lt},
	}}
	rt := build(t, cfg, Options{})
	if got := rt.byName["egress"].tls.NextProtos; len(got) != 1 || got[0] != "http/1.1" {
		t.Errorf("egress listener ALPN %v", got)
	}
	if got := rt.byName["web"].tls.NextProtos; len(got) != 2 || got[0] != "h2" || got[1] != "http/1.1" {
		t.Errorf("listener ALPN %v", got)
	}

	for _, l := range []model.Listener{
		{Name: "tls", Address: "127.0.0.1:0", TLS: lt, H2C: true},
		{Name: "egress", Address: "127.0.0.1:0", Egress: &model.ListenerEgress{}, H2C: true},
	} {
		_, issues := Build(&model.Config{Listeners: []model.Listener{l}}, Options{})
		if err := issues.Err(); err == nil || !strings.Contains(err.Error(), "h2c") {
			t.Errorf("listener %s with h2c: %v", l.Name, err)
		}
	}
}

// TestUpstreamHTTP2: a backend with protocol http2 is spoken to in
// HTTP/2, over TLS for https and with prior knowledge (h2c) for http; a
// backend that does not speak it fails (503), never silently downgraded;
// without the protocol, HTTP/1.1 even to an upstream that offers h2.
func TestUpstreamHTTP2(t *testing.T) {
	ca := certtest.NewCA(t)
	_, _, upCert := ca.Leaf(t, "upstream", []string{"upstream.test"})

	h2c := httptest.NewUnstartedServer(http.HandlerFunc(protoUpstream))
	h2c.Config.Protocols = protocols(true, false, true)
	h2c.Start()
	t.Cleanup(h2c.Close)
	h1 := httptest.NewServer(http.HandlerFunc(protoUpstream))
	t.Cleanup(h1.Close)
	h2tls := httptest.NewUnstartedServer(http.HandlerFunc(protoUpstream))
	h2tls.TLS = &tls.Config{Certificates: []tls.Certificate{upCert}, NextProtos: []string{"h2", "http/1.1"}}
	h2tls.EnableHTTP2 = true
	h2tls.StartTLS()
	t.Cleanup(h2tls.Close)
	h1tls := httptest.NewUnstartedServer(http.HandlerFunc(protoUpstream))
	h1tls.TLS = &tls.Config{Certificates: []tls.Certificate{upCert}}
	h1tls.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	h1tls.StartTLS()
	t.Cleanup(h1tls.Close)

	for _, tt := range []struct {
		name     string
		url      string
		protocol model.BackendProtocol
		status   int
		saw      string
	}{
		{"h2c upstream, http2", h2c.URL, model.BackendHTTP2, 200, "HTTP/2.0"},
		{"h2c upstream, default", h2c.URL, "", 200, "HTTP/1.1"},
		{"HTTP/1.1 upstream, http2", h1.URL, model.BackendHTTP2, 503, "no healthy upstream"},
		{"TLS upstream with h2, http2", h2tls.URL, model.BackendHTTP2, 200, "HTTP/2.0"},
		{"TLS upstream with h2, http1", h2tls.URL, model.BackendHTTP1, 200, "HTTP/1.1"},
		{"TLS upstream without h2, http2", h1tls.URL, model.BackendHTTP2, 503, "no healthy upstream"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := model.Backend{URL: tt.url, Protocol: tt.protocol}
			if strings.HasPrefix(tt.url, "https") {
				b.CAFile, b.ServerName = ca.File, "upstream.test"
			}
			rt := build(t, &model.Config{
				Listeners: []model.Listener{{Name: "web", Address: "127.0.0.1:0"}},
				Routes:    []model.Route{{Name: "r", Listener: "web", Backend: b}},
			}, Options{})
			res := do(t, rt.Handler("web"), "GET", "/v", nil)
			if res.status != tt.status || res.body != tt.saw {
				t.Fatalf("got %d %q, want %d %q", res.status, res.body, tt.status, tt.saw)
			}
		})
	}
}

// TestServerProtocols: the http.Server of an address takes its
// protocols when bound.
func TestServerProtocols(t *testing.T) {
	rt := build(t, &model.Config{Listeners: []model.Listener{
		{Name: "a", Address: "127.0.0.1:0", H2C: true},
		{Name: "b", Address: "127.0.0.2:0"},
	}}, Options{})
	for addr, h2c := range map[string]bool{"127.0.0.1:0": true, "127.0.0.2:0": false, "elsewhere:1": false} {
		p := rt.serverProtocols(addr)
		if !p.HTTP1() || !p.HTTP2() || p.UnencryptedHTTP2() != h2c {
			t.Errorf("%s: %v", addr, p)
		}
	}
}
