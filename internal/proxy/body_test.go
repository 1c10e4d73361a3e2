package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/metrics"
	"jwtgate.dev/jwtgate/internal/model"
)

// rawUpstream is an upstream written by hand on loopback: it reads each
// request in full (a request whose body breaks ends the connection
// unanswered), answers /ok with "ok", and hands every other request's
// connection to serve, which writes what it likes. Connections still open
// are closed when the test ends.
func rawUpstream(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if _, err := io.Copy(io.Discard, req.Body); err != nil {
						return // the body broke: no answer
					}
					if req.URL.Path != "/ok" {
						serve(c)
						return
					}
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// rawResult is what a raw client received: complete reports whether a
// whole response arrived (its body as long as it says); closed whether
// the server then closed the connection.
type rawResult struct {
	status   int
	header   http.Header
	body     string
	complete bool
	close    bool // the response said Connection: close
	closed   bool
}

// rawExchange writes msg on a new connection to addr, half-closes it when
// halfClose is set, reads the response, then waits up to closeWait for
// the server to close the connection.
func rawExchange(t *testing.T, addr, msg string, halfClose bool, closeWait time.Duration) rawResult {
	t.Helper()
	c := dialLoopback(t, addr)
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	if halfClose {
		c.(*net.TCPConn).CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("no response and no close within 20s")
		}
		return rawResult{closed: true}
	}
	b, err := io.ReadAll(res.Body)
	out := rawResult{status: res.StatusCode, header: res.Header, body: string(b), complete: err == nil, close: res.Close}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("response body neither finished nor cut within 20s")
	}
	out.closed = closedWithin(t, c, br, closeWait)
	return out
}

// fetch GETs url with a fresh connection and returns "STATUS BODY", or
// the error; tests may call it from any goroutine.
func fetch(url string) string {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err.Error()
	}
	return strconv.Itoa(res.StatusCode) + " " + string(b)
}

// waitAccess returns the access line of path, waiting for it a while.
func waitAccess(t *testing.T, logs *logBuffer, path string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, l := range logs.access(t) {
			if l["path"] == path {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access line for %s in:\n%s", path, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape returns the metrics exposition of m.
func scrape(m *metrics.Metrics) string {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// TestBrokenExchanges: every way a client's request body or an upstream's
// response can break, over real sockets (raw clients and upstreams on
// loopback). A broken body is the client's fault: 400 (or 408 when it
// stalls), never a 200 nor a 5xx, and no upstream time is recorded; an
// upstream that breaks its response after the status line gets the
// client's connection closed before the response is complete, and is
// logged and counted as 502 with the upstream error. While a client or an
// upstream stalls, other clients are served.
func TestBrokenExchanges(t *testing.T) {
	const idle = time.Second
	head := func(path, extra string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: example.com\r\n" + extra + "\r\n"
	}
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: example.com\r\n\r\n" }
	// Upstream behaviours.
	full := func(c net.Conn) { io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello") }
	shortCL := func(c net.Conn) { io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789") }
	shortChunked := func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
	}
	reset := func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
		time.Sleep(50 * time.Millisecond)
		c.(*net.TCPConn).SetLinger(0) // RST, not FIN
	}
	stall := func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
		time.Sleep(10 * idle) // cut by the backend's bodyIdleTimeout first
	}
	noAnswer := func(net.Conn) {}

	tests := []struct {
		name      string
		upstream  func(net.Conn)
		path      string
		msg       string // the client's bytes
		halfClose bool   // the client half-closes after them
		stalls    bool   // someone stalls: check another client is served meanwhile
		open      bool   // the gateway keeps the connection (an ordinary exchange)
		cut       bool   // no whole response: none at all, or a 200 cut short

		status   int  // received; 0: no complete response (connection closed)
		complete bool // the response arrived whole
		body     string
		logged   int    // the access log's status
		reason   string // the access log's reason, a prefix
		upErr    bool   // the access log has an upstream_error
	}{
		{name: "complete exchange", upstream: full, path: "/full", msg: head("/full", "Content-Length: 3\r\n") + "abc",
			status: 200, complete: true, body: "hello", logged: 200, open: true},
		{name: "client body shorter than Content-Length", upstream: full, path: "/short", halfClose: true,
			msg:    head("/short", "Content-Length: 100\r\n") + "0123456789",
			status: 400, complete: true, logged: 400, reason: "request body incomplete"},
		{name: "malformed chunk size", upstream: full, path: "/badchunk",
			msg:    head("/badchunk", "Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\nzz\r\n",
			status: 400, complete: true, logged: 400, reason: "request body malformed"},
		{name: "chunk longer than its size", upstream: full, path: "/longchunk",
			msg:    head("/longchunk", "Transfer-Encoding: chunked\r\n") + "3\r\nhello\r\n0\r\n\r\n",
			status: 400, complete: true, logged: 400, reason: "request body malformed"},
		{name: "chunked body without its last chunk", upstream: full, path: "/unfinished", halfClose: true,
			msg:    head("/unfinished", "Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\n",
			status: 400, complete: true, logged: 400, reason: "request body incomplete"},
		{name: "client body stalls", upstream: full, path: "/slowbody", stalls: true,
			msg:    head("/slowbody", "Content-Length: 100\r\n") + "0123456789",
			status: 408, complete: true, body: bodyStreamTimeout, logged: 408, reason: "request body idle timeout"},
		{name: "upstream closes mid-body (Content-Length)", upstream: shortCL, path: "/upshort", msg: get("/upshort"),
			cut: true, logged: 502, reason: "upstream response cut after 200 was sent", upErr: true},
		{name: "upstream closes mid-body (chunked)", upstream: shortChunked, path: "/upchunk", msg: get("/upchunk"),
			cut: true, logged: 502, reason: "upstream response cut after 200 was sent", upErr: true},
		{name: "upstream resets mid-body", upstream: reset, path: "/upreset", msg: get("/upreset"),
			cut: true, logged: 502, reason: "upstream response cut after 200 was sent", upErr: true},
		{name: "upstream body stalls", upstream: stall, path: "/upstall", msg: get("/upstall"), stalls: true,
			cut: true, logged: 502, reason: "upstream response cut after 200 was sent", upErr: true},
		{name: "upstream closes before answering", upstream: noAnswer, path: "/upnothing", msg: get("/upnothing"),
			status: 503, complete: true, body: bodyNoUpstream, logged: 503, reason: "upstream unreachable", upErr: true, open: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := rawUpstream(t, tt.upstream)
			cfg := oneRoute(up, model.Route{})
			cfg.Listeners[0].Limits.BodyIdleTimeout = idle
			cfg.Routes[0].Backend.BodyIdleTimeout = idle
			var logs logBuffer
			m := metrics.New()
			s := startServer(t, build(t, cfg, Options{Logger: logs.logger(), Metrics: m}), nil)
			addr := s.Addr("web").String()

			var served chan string
			if tt.stalls {
				served = make(chan string, 1)
				go func() {
					time.Sleep(idle / 4)
					served <- fetch("http://" + addr + "/ok")
				}()
			}
			closeWait := 5 * time.Second // the gateway closes at once: generous
			if tt.open {
				closeWait = 200 * time.Millisecond
			}
			got := rawExchange(t, addr, tt.msg, tt.halfClose, closeWait)
			switch {
			case tt.cut:
				if got.complete || (got.status != 0 && got.status != http.StatusOK) {
					t.Errorf("received status %d, complete %v, body %q; want no whole response", got.status, got.complete, got.body)
				}
			case got.status != tt.status || got.complete != tt.complete || (tt.complete && got.body != tt.body):
				t.Errorf("received status %d, complete %v, body %q; want %d, %v, %q", got.status, got.complete, got.body, tt.status, tt.complete, tt.body)
			}
			if got.closed == tt.open {
				t.Errorf("the gateway closed the connection: %v, want %v", got.closed, !tt.open)
			}
			if (tt.logged == 400 || tt.logged == 408) && !got.close {
				t.Error("the answer lacks Connection: close")
			}
			if served != nil {
				if r := <-served; r != "200 ok" {
					t.Errorf("another client during the stall: %s", r)
				}
			}

			line := waitAccess(t, &logs, tt.path)
			if line["status"] != float64(tt.logged) || !strings.HasPrefix(line["reason"].(string), tt.reason) {
				t.Errorf("logged status %v, reason %q; want %d, %q", line["status"], line["reason"], tt.logged, tt.reason)
			}
			if _, ok := line["upstream_error"]; ok != tt.upErr {
				t.Errorf("upstream_error %v, want one: %v", line["upstream_error"], tt.upErr)
			}

			exposed := scrape(m)
			counted := `jwtgate_requests_total{code="` + strconv.Itoa(tt.logged) + `",listener="web",route="r"} 1`
			if !strings.Contains(exposed, counted+"\n") {
				t.Errorf("metrics lack %s", counted)
			}
			if tt.logged == 400 || tt.logged == 408 {
				for _, bad := range []string{`code="502"`, `code="503"`, `code="504"`} {
					if strings.Contains(exposed, bad) {
						t.Errorf("a client's broken body counted as %s", bad)
					}
				}
				// Only the other client's request (during a stall) was
				// answered by the upstream.
				others := 0
				if tt.stalls {
					others = 1
				}
				if want := `jwtgate_upstream_duration_seconds_count{route="r"} ` + strconv.Itoa(others) + "\n"; !strings.Contains(exposed, want) {
					t.Errorf("a client's broken body recorded an upstream duration: want %s", want)
				}
			}
		})
	}
}
