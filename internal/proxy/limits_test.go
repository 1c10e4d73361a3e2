package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestListenerLimits: a listener's limits reach its http.Server, and the
// server enforces them.
func TestListenerLimits(t *testing.T) {
	up := newEcho(t)
	small := model.ListenerLimits{MaxHeaderBytes: 5000, ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond}
	// The http.Server is given the header limit less net/http's slack.
	tests := []struct {
		name       string
		limits     model.ListenerLimits
		want       model.ListenerLimits // on the http.Server
		bigHeader  int                  // status for 8 KiB of headers
		slowClosed bool                 // a client that stops mid-headers is cut off
		idleClosed bool                 // an idle keep-alive connection is closed
	}{
		{name: "defaults", want: model.ListenerLimits{MaxHeaderBytes: 64<<10 - 4096, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second},
			bigHeader: http.StatusOK},
		{name: "configured", limits: small, want: model.ListenerLimits{MaxHeaderBytes: 5000 - 4096, ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond},
			bigHeader: http.StatusRequestHeaderFieldsTooLarge, slowClosed: true, idleClosed: true},
		{name: "one field", limits: model.ListenerLimits{IdleTimeout: 200 * time.Millisecond},
			want:      model.ListenerLimits{MaxHeaderBytes: 64<<10 - 4096, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 200 * time.Millisecond},
			bigHeader: http.StatusOK, idleClosed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := oneRoute(up.URL, model.Route{})
			cfg.Listeners[0].Limits = tt.limits
			s := startServer(t, build(t, cfg, Options{}), nil)
			addr := s.Addr("web").String()

			s.mu.Lock()
			srv := s.bound["127.0.0.1:0"].srv
			s.mu.Unlock()
			got := model.ListenerLimits{MaxHeaderBytes: srv.MaxHeaderBytes, ReadHeaderTimeout: srv.ReadHeaderTimeout, IdleTimeout: srv.IdleTimeout}
			if got != tt.want {
				t.Fatalf("http.Server limits = %+v, want %+v", got, tt.want)
			}

			res := rawRequest(t, addr, "GET /x HTTP/1.1", "X-Big: "+strings.Repeat("a", 8<<10)+"\r\n")
			if res.status != tt.bigHeader {
				t.Errorf("8 KiB of headers: %d, want %d", res.status, tt.bigHeader)
			}
			if closed := slowHeadersClosed(t, addr); closed != tt.slowClosed {
				t.Errorf("slow headers closed by the server: %v, want %v", closed, tt.slowClosed)
			}
			if closed := idleClosed(t, addr); closed != tt.idleClosed {
				t.Errorf("idle connection closed by the server: %v, want %v", closed, tt.idleClosed)
			}
		})
	}
}

// TestLimitsKeptOnReload: the http.Server of an address outlives
// Runtimes, so new limits apply to addresses bound by the reload only.
func TestLimitsKeptOnReload(t *testing.T) {
	up := newEcho(t)
	s := startServer(t, build(t, oneRoute(up.URL, model.Route{}), Options{}), nil)
	cfg := oneRoute(up.URL, model.Route{})
	cfg.Listeners[0].Limits.MaxHeaderBytes = 5000
	cfg.Listeners = append(cfg.Listeners, model.Listener{Name: "new", Address: "localhost:0", Limits: model.ListenerLimits{MaxHeaderBytes: 6144}})
	if err := s.Reload(t.Context(), build(t, cfg, Options{})); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	kept, added := s.bound["127.0.0.1:0"].srv.MaxHeaderBytes, s.bound["localhost:0"].srv.MaxHeaderBytes
	s.mu.Unlock()
	if kept != model.DefaultMaxHeaderBytes-4096 || added != 6144-4096 {
		t.Errorf("MaxHeaderBytes: kept address %d, new address %d", kept, added)
	}
}

// slowHeadersClosed sends half a request and reports whether the server
// closes the connection within a second.
func slowHeadersClosed(t *testing.T, addr string) bool {
	t.Helper()
	c := dialLoopback(t, addr)
	if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: example.com\r\n"); err != nil {
		t.Fatal(err)
	}
	return closedWithin(t, c, bufio.NewReader(c), time.Second)
}

// idleClosed completes one keep-alive exchange, then reports whether the
// server closes the idle connection within a second.
func idleClosed(t *testing.T, addr string) bool {
	t.Helper()
	c := dialLoopback(t, addr)
	if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	return closedWithin(t, c, br, time.Second)
}

func dialLoopback(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reads from c until d passes: true when the server closed
// the connection (EOF, or a reset) before that.
func closedWithin(t *testing.T, c net.Conn, r io.Reader, d time.Duration) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, r)
	switch {
	case err == nil: // EOF
		return true
	case errors.Is(err, os.ErrDeadlineExceeded):
		return false
	}
	return true // reset by the server
}

// TestTransportPools: backends share a transport exactly when their pool
// settings (defaults applied) are equal, and the transport is sized by
// them.
func TestTransportPools(t *testing.T) {
	def := model.Backend{}.Pool()
	custom := model.Backend{MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Second, DialTimeout: 2 * time.Second, TLSHandshakeTimeout: 3 * time.Second}
	tests := []struct {
		name       string
		backends   []model.Backend
		transports int
		want       []model.BackendPool // per backend
	}{
		{"defaults share", []model.Backend{{}, {}}, 1, []model.BackendPool{def, def}},
		{"an explicit default is the default", []model.Backend{{}, {MaxIdleConnsPerHost: 256, DialTimeout: 5 * time.Second}}, 1, []model.BackendPool{def, def}},
		{"custom settings", []model.Backend{{}, custom, custom}, 2, []model.BackendPool{def, custom.Pool(), custom.Pool()}},
		{"each setting separates", []model.Backend{{}, {MaxIdleConnsPerHost: 8}, {IdleConnTimeout: time.Second}, {DialTimeout: time.Second}, {TLSHandshakeTimeout: time.Second}, {BodyIdleTimeout: time.Second}}, 6, nil},
		{"idle connections are closed before the body idle timeout could fail them", []model.Backend{{BodyIdleTimeout: 10 * time.Second}}, 1,
			[]model.BackendPool{{MaxIdleConnsPerHost: 256, IdleConnTimeout: 5 * time.Second, TLSHandshakeTimeout: 5 * time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &model.Config{Listeners: []model.Listener{{Name: "web", Address: "127.0.0.1:0"}}}
			for i, b := range tt.backends {
				b.URL = "http://127.0.0.1:9"
				cfg.Routes = append(cfg.Routes, model.Route{Name: string(rune('a' + i)), Listener: "web", Backend: b})
			}
			rt := build(t, cfg, Options{})
			if len(rt.transports) != tt.transports {
				t.Errorf("%d transports, want %d", len(rt.transports), tt.transports)
			}
			// The dial timeout is inside the transport's dialer, out of
			// sight; "each setting separates" shows it is in the key.
			for i, want := range tt.want {
				h1 := rt.byName["web"].routes[i].backend.proxy.Transport.(*h1Transport)
				tr := h1.std
				if tr.MaxIdleConnsPerHost != want.MaxIdleConnsPerHost || tr.IdleConnTimeout != want.IdleConnTimeout || tr.TLSHandshakeTimeout != want.TLSHandshakeTimeout {
					t.Errorf("backend %d: transport sized %d, %s, %s; want %+v", i, tr.MaxIdleConnsPerHost, tr.IdleConnTimeout, tr.TLSHandshakeTimeout, want)
				}
				if h1.maxIdle != want.MaxIdleConnsPerHost || h1.idleTimeout != want.IdleConnTimeout {
					t.Errorf("backend %d: HTTP/1.1 pool sized %d, %s; want %+v", i, h1.maxIdle, h1.idleTimeout, want)
				}
			}
		})
	}
}
