package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// sizedRequest is a GET whose request line and headers, up to and
// including the empty line that ends them, are exactly n bytes.
func sizedRequest(t *testing.T, n int) string {
	t.Helper()
	head := "GET /x HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\nX-Pad: "
	tail := "\r\n\r\n"
	pad := n - len(head) - len(tail)
	if pad < 1 {
		t.Fatalf("a request of %d bytes is too small", n)
	}
	return head + strings.Repeat("a", pad) + tail
}

// TestHeaderLimitExact: the listener's maxHeaderBytes is the limit
// enforced, to the byte: a request line and headers of exactly the limit
// pass, one byte more is 431 (net/http alone would accept 4 KiB more).
func TestHeaderLimitExact(t *testing.T) {
	up := newEcho(t)
	for _, limit := range []int{0, model.MinMaxHeaderBytes, 8192, 100_000} {
		want := limit
		if want == 0 {
			want = model.DefaultMaxHeaderBytes
		}
		t.Run(strconv.Itoa(want), func(t *testing.T) {
			cfg := oneRoute(up.URL, model.Route{})
			cfg.Listeners[0].Limits.MaxHeaderBytes = limit
			s := startServer(t, build(t, cfg, Options{}), nil)
			addr := s.Addr("web").String()
			for _, n := range []int{want - 1, want, want + 1, want + model.HeaderSlack} {
				status := http.StatusOK
				if n > want {
					status = http.StatusRequestHeaderFieldsTooLarge
				}
				c := dialLoopback(t, addr)
				if _, err := io.WriteString(c, sizedRequest(t, n)); err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("%d bytes: %v", n, err)
				}
				res.Body.Close()
				if res.StatusCode != status {
					t.Errorf("%d bytes of request line and headers: %d, want %d", n, res.StatusCode, status)
				}
			}
		})
	}
}

// TestHeaderLimitMinimum: a limit below what can be enforced exactly is
// refused when the configuration is built.
func TestHeaderLimitMinimum(t *testing.T) {
	cfg := oneRoute("http://127.0.0.1:9", model.Route{})
	cfg.Listeners[0].Limits.MaxHeaderBytes = model.MinMaxHeaderBytes - 1
	_, issues := Build(cfg, Options{})
	err := issues.Err()
	if err == nil || !strings.Contains(err.Error(), "listeners[0].limits.maxHeaderBytes: must be at least 4097") {
		t.Fatalf("Build: %v, want the limit refused", err)
	}
}

// holdUpstream answers /hold only once release is closed (signalling
// each arrival on arrived), anything else at once, with "ok".
func holdUpstream(t *testing.T) (url string, arrived <-chan struct{}, release func()) {
	t.Helper()
	ch := make(chan struct{}, 16)
	rel := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			ch <- struct{}{}
			select {
			case <-rel:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	released := false
	release = func() {
		if !released {
			released = true
			close(rel)
		}
	}
	t.Cleanup(up.Close)
	t.Cleanup(release) // before up.Close: handlers return
	return up.URL, ch, release
}

// TestRequestLimit: past maxConcurrentRequests a request is answered 503
// with Retry-After and logged; once requests finish, new ones are served.
func TestRequestLimit(t *testing.T) {
	up, arrived, release := holdUpstream(t)
	cfg := oneRoute(up, model.Route{})
	cfg.Listeners[0].Limits.MaxConcurrentRequests = 2
	var logs logBuffer
	s := startServer(t, build(t, cfg, Options{Logger: logs.logger()}), nil)
	base := "http://" + s.Addr("web").String()

	held := make(chan string, 2)
	for range 2 {
		go func() { held <- fetch(base + "/hold") }()
	}
	for range 2 {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the held requests did not reach the upstream")
		}
	}
	res := rawRequest(t, s.Addr("web").String(), "GET /more HTTP/1.1")
	if res.status != http.StatusServiceUnavailable || res.body != bodyOverloaded || res.header.Get("Retry-After") != "1" {
		t.Errorf("past the limit: %d %q, Retry-After %q; want 503 %q, 1", res.status, res.body, res.header.Get("Retry-After"), bodyOverloaded)
	}
	line := waitAccess(t, &logs, "/more")
	if line["status"] != float64(503) || line["reason"] != "too many requests in flight" {
		t.Errorf("access line %v", line)
	}

	release()
	for range 2 {
		if got := <-held; got != "200 ok" {
			t.Errorf("a held request: %s", got)
		}
	}
	if got := fetch(base + "/after"); got != "200 ok" {
		t.Errorf("after the held requests finished: %s", got)
	}
}

// TestConnectionLimit: past maxConnections a connection is accepted and
// closed without a byte, and the refusal logged; the connections within
// the limit keep being served, and a closed one frees its place.
func TestConnectionLimit(t *testing.T) {
	up := newEcho(t)
	cfg := oneRoute(up.URL, model.Route{})
	cfg.Listeners[0].Limits.MaxConnections = 2
	var logs logBuffer
	s := startServer(t, build(t, cfg, Options{}), logs.logger())
	addr := s.Addr("web").String()

	exchange := func(c net.Conn, br *bufio.Reader) error {
		if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n"); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return &net.AddrError{Err: "status " + res.Status}
		}
		return nil
	}
	var conns []net.Conn
	var readers []*bufio.Reader
	for range 2 {
		c := dialLoopback(t, addr)
		br := bufio.NewReader(c)
		if err := exchange(c, br); err != nil {
			t.Fatalf("a connection within the limit: %v", err)
		}
		conns, readers = append(conns, c), append(readers, br)
	}

	extra := dialLoopback(t, addr)
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := extra.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("the connection past the limit read %d bytes, %v; want it closed", n, err)
	}
	if err := exchange(conns[0], readers[0]); err != nil {
		t.Errorf("a connection within the limit, after the refusal: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "connections refused: listener connection limit reached") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line for the refused connection:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	conns[1].Close()
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		err = exchange(c, bufio.NewReader(c))
		c.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a connection after one closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMaxRequestDuration: a request that outlasts the listener's
// maxRequestDuration is answered 408 when nothing was sent yet, and has
// its connection closed when the response was streaming; both are
// logged. Requests within it are untouched.
func TestMaxRequestDuration(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/silent":
			select {
			case <-r.Context().Done():
			case <-time.After(20 * time.Second):
			}
		case "/stream":
			for i := 0; i < 200; i++ {
				if _, err := io.WriteString(w, "tick\n"); err != nil {
					return
				}
				http.NewResponseController(w).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		default:
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(up.Close)
	cfg := oneRoute(up.URL, model.Route{})
	cfg.Listeners[0].Limits.MaxRequestDuration = time.Second
	var logs logBuffer
	s := startServer(t, build(t, cfg, Options{Logger: logs.logger()}), nil)
	addr := s.Addr("web").String()

	if got := fetch("http://" + addr + "/fast"); got != "200 ok" {
		t.Errorf("a request within the bound: %s", got)
	}
	silent := rawExchange(t, addr, "GET /silent HTTP/1.1\r\nHost: example.com\r\n\r\n", false, time.Second)
	if silent.status != http.StatusRequestTimeout || silent.body != bodyDurationTimeout {
		t.Errorf("a request whose upstream never answers: %d %q, want 408 %q", silent.status, silent.body, bodyDurationTimeout)
	}
	stream := rawExchange(t, addr, "GET /stream HTTP/1.1\r\nHost: example.com\r\n\r\n", false, 5*time.Second)
	if stream.status != http.StatusOK || stream.complete || !stream.closed || !strings.HasPrefix(stream.body, "tick\n") {
		t.Errorf("a streaming response: %d, complete %v, closed %v, body %q; want 200 cut short, the connection closed", stream.status, stream.complete, stream.closed, stream.body)
	}
	for path, reason := range map[string]string{"/silent": "request duration limit", "/stream": "request duration limit after 200 was sent"} {
		line := waitAccess(t, &logs, path)
		if line["status"] != float64(408) || line["reason"] != reason {
			t.Errorf("%s: logged %v %q, want 408 %q", path, line["status"], line["reason"], reason)
		}
	}
}
