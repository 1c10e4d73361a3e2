package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/model"
)

// taggedUpstream answers "tag" on every path, and blocks on /slow until
// release is closed.
func taggedUpstream(t *testing.T, tag string, release <-chan struct{}, started chan<- struct{}) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			if started != nil {
				started <- struct{}{}
			}
			<-release
		}
		w.Write([]byte(tag))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestReload(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	a := taggedUpstream(t, "A", release, started)
	b := taggedUpstream(t, "B", nil, nil)

	rtA := build(t, oneRoute(a.URL, model.Route{}), Options{})
	s := NewServer(nil)
	s.Grace = 5 * time.Second
	if err := s.Start(t.Context(), rtA); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if !s.Ready() {
		t.Fatal("not ready after Start")
	}
	base := "http://" + s.Addr("web").String()
	if res := get(t, nil, base+"/x", nil); res.body != "A" {
		t.Fatalf("before reload: %q", res.body)
	}

	// A request in flight on the old runtime.
	slow := make(chan response, 1)
	go func() { slow <- getAsync(base + "/slow") }()
	<-started

	rtB := build(t, oneRoute(b.URL, model.Route{}), Options{})
	if err := s.Reload(t.Context(), rtB); err != nil {
		t.Fatal(err)
	}
	if got := "http://" + s.Addr("web").String(); got != base {
		t.Fatalf("address changed on reload: %s -> %s", base, got)
	}
	if res := get(t, nil, base+"/x", nil); res.body != "B" {
		t.Fatalf("after reload: %q", res.body)
	}
	if n := rtA.inflight.Load(); n != 1 {
		t.Fatalf("old runtime has %d requests in flight, want 1", n)
	}
	close(release)
	if res := <-slow; res.status != 200 || res.body != "A" {
		t.Fatalf("in-flight request: %d %q", res.status, res.body)
	}
}

func TestReloadListeners(t *testing.T) {
	a := taggedUpstream(t, "A", nil, nil)
	b := taggedUpstream(t, "B", nil, nil)
	rtA := build(t, oneRoute(a.URL, model.Route{}), Options{})
	s := startServer(t, rtA, nil)
	oldAddr := s.Addr("web").String()

	// A new address: bound before the swap, the old one closed after.
	cfg := oneRoute(b.URL, model.Route{})
	cfg.Listeners[0].Address = "localhost:0"
	if err := s.Reload(t.Context(), build(t, cfg, Options{})); err != nil {
		t.Fatal(err)
	}
	newAddr := s.Addr("web").String()
	if newAddr == oldAddr {
		t.Fatal("listener not rebound")
	}
	if res := get(t, nil, "http://"+newAddr+"/x", nil); res.body != "B" {
		t.Fatalf("new address: %q", res.body)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := net.Dial("tcp", oldAddr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("old address still accepting")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A bind failure keeps the current runtime.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	bad := oneRoute(a.URL, model.Route{})
	bad.Listeners[0].Address = taken.Addr().String()
	if err := s.Reload(t.Context(), build(t, bad, Options{})); err == nil {
		t.Fatal("reload onto a taken address succeeded")
	}
	if res := get(t, nil, "http://"+newAddr+"/x", nil); res.body != "B" {
		t.Fatalf("after a failed reload: %q", res.body)
	}
}

// TestReloadTLS turns TLS on for a listener without rebinding it.
func TestReloadTLS(t *testing.T) {
	p := certtest.NewCA(t)
	certFile, keyFile, _ := p.Leaf(t, "gw", []string{"gw.test"})
	echo := newEcho(t)
	cfg := oneRoute(echo.URL, model.Route{})
	s := startServer(t, build(t, cfg, Options{}), nil)
	addr := s.Addr("web").String()
	if res := get(t, nil, "http://"+addr+"/", nil); res.status != 200 {
		t.Fatal(res.status)
	}
	cfg.Listeners[0].TLS = &model.ListenerTLS{CertFile: certFile, KeyFile: keyFile}
	if err := s.Reload(t.Context(), build(t, cfg, Options{})); err != nil {
		t.Fatal(err)
	}
	if s.Addr("web").String() != addr {
		t.Fatal("rebound")
	}
	if res := get(t, tlsClient(p), "https://"+addr+"/", nil); res.status != 200 {
		t.Fatal(res.status)
	}
}

func TestShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	a := taggedUpstream(t, "A", release, started)
	rt := build(t, oneRoute(a.URL, model.Route{}), Options{})
	s := NewServer(nil)
	if err := s.Start(t.Context(), rt); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr("web").String()
	slow := make(chan response, 1)
	go func() { slow <- getAsync("http://" + addr + "/slow") }()
	<-started

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	// Shutdown waits for the request.
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v before the request finished", err)
	case <-time.After(200 * time.Millisecond):
	}
	if s.Ready() {
		t.Fatal("ready during shutdown")
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("still accepting during shutdown")
	}
	close(release)
	if res := <-slow; res.status != 200 || res.body != "A" {
		t.Fatalf("in-flight request: %d %q", res.status, res.body)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestStartBindFailure(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()

	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "ok", Address: freeAddr}, {Name: "taken", Address: taken.Addr().String()}},
		Routes:    []model.Route{{Name: "r", Listener: "ok", Backend: model.Backend{URL: "http://127.0.0.1:1"}}},
	}
	s := NewServer(nil)
	err = s.Start(t.Context(), build(t, cfg, Options{}))
	if err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("Start: %v", err)
	}
	// The listener that was bound is closed again.
	ln, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("address of the other listener still held: %v", err)
	}
	ln.Close()
	if s.Ready() {
		t.Fatal("ready after a failed Start")
	}
}

// getAsync is get for goroutines other than the test's: an error gives
// status 0 and the error text as body.
func getAsync(target string) response {
	res, err := http.Get(target)
	if err != nil {
		return response{body: err.Error()}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}
