package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/waittest"
)

// scriptedUpstream is an HTTP/1.1 upstream written by hand, so that a test
// can send what net/http's server never would: answers with extra bytes,
// connections closed without notice. answer gets the connection's
// number (from 0), the request's number on it, and the request; it
// returns the bytes to write and whether to close the connection after.
type scriptedUpstream struct {
	ln     net.Listener
	conns  atomic.Int32 // connections accepted
	closed atomic.Int32 // connections that ended
	answer func(conn, n int, req *http.Request) (string, bool)
	// stray, when set, gives bytes to write 50ms after an answer,
	// unasked ("" for none).
	stray func(conn, n int) string
}

func newScriptedUpstream(t *testing.T, answer func(conn, n int, req *http.Request) (string, bool)) *scriptedUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &scriptedUpstream{ln: ln, answer: answer}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			id := int(u.conns.Add(1) - 1)
			wg.Go(func() {
				defer u.closed.Add(1)
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					raw, closeAfter := u.answer(id, n, req)
					if _, err := io.WriteString(c, raw); err != nil || closeAfter {
						return
					}
					if u.stray != nil {
						if extra := u.stray(id, n); extra != "" {
							time.Sleep(50 * time.Millisecond)
							io.WriteString(c, extra)
						}
					}
				}
			})
		}
	})
	return u
}

func (u *scriptedUpstream) url() string { return "http://" + u.ln.Addr().String() }

// plainOK is an answer with a framed body that says which connection and
// request it came from.
func plainOK(conn, n int, extra string) string {
	body := fmt.Sprintf("conn %d request %d", conn, n)
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s", len(body), extra, body)
}

// TestH1TransportConnections: bodiless requests share one upstream
// connection while answers allow it, and a connection whose answer
// says, or shows, that it must not be reused is closed: the next request
// goes on a new one, and never reads the rest of another's answer.
func TestH1TransportConnections(t *testing.T) {
	tests := []struct {
		name string
		// answer for request n on a connection; the test sends three.
		answer    func(conn, n int, req *http.Request) (string, bool)
		method    string
		wantConns int32
		wantBody  func(i int) string // "" to skip
	}{
		{"kept alive", func(c, n int, _ *http.Request) (string, bool) { return plainOK(c, n, ""), false }, "GET", 1,
			func(i int) string { return fmt.Sprintf("conn 0 request %d", i) }},
		{"HEAD answers have no body", func(c, n int, _ *http.Request) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false
		}, "HEAD", 1, nil},
		{"a body wrongly sent after a HEAD answer", func(c, n int, _ *http.Request) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false
		}, "HEAD", 3, nil},
		{"204 and 304", func(c, n int, _ *http.Request) (string, bool) {
			if n%2 == 0 {
				return "HTTP/1.1 204 No Content\r\n\r\n", false
			}
			return "HTTP/1.1 304 Not Modified\r\n\r\n", false
		}, "GET", 1, nil},
		{"Connection: close", func(c, n int, _ *http.Request) (string, bool) { return plainOK(c, n, "Connection: close\r\n"), true }, "GET", 3,
			func(i int) string { return fmt.Sprintf("conn %d request 0", i) }},
		{"HTTP/1.0", func(c, n int, _ *http.Request) (string, bool) {
			return strings.Replace(plainOK(c, n, ""), "HTTP/1.1", "HTTP/1.0", 1), true
		}, "GET", 3, func(i int) string { return fmt.Sprintf("conn %d request 0", i) }},
		{"body until close", func(c, n int, _ *http.Request) (string, bool) {
			return fmt.Sprintf("HTTP/1.1 200 OK\r\n\r\nconn %d unframed", c), true
		}, "GET", 3, func(i int) string { return fmt.Sprintf("conn %d unframed", i) }},
		{"bytes after the answer", func(c, n int, _ *http.Request) (string, bool) {
			return plainOK(c, n, "") + plainOK(99, 99, ""), false
		}, "GET", 3, func(i int) string { return fmt.Sprintf("conn %d request 0", i) }},
		{"bytes after a long answer", func(c, n int, _ *http.Request) (string, bool) {
			// Past the gateway's read buffer: the extra answer is still in
			// the socket when the body ends.
			body := fmt.Sprintf("conn %d request %d ", c, n) + strings.Repeat("x", 64<<10)
			return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body) + plainOK(99, 99, ""), false
		}, "GET", 3, func(i int) string { return fmt.Sprintf("conn %d request 0 ", i) + strings.Repeat("x", 64<<10) }},
		{"chunked with trailers", func(c, n int, _ *http.Request) (string, bool) {
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n", false
		}, "GET", 1, func(int) string { return "hello" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newScriptedUpstream(t, tc.answer)
			rt := build(t, oneRoute(up.url(), model.Route{}), Options{})
			s := startServer(t, rt, nil)
			base := "http://" + s.Addr("web").String()
			for i := range 3 {
				req, _ := http.NewRequest(tc.method, base+"/", nil)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode >= 400 {
					t.Fatalf("request %d: %d %q", i, res.StatusCode, b)
				}
				if tc.wantBody != nil && string(b) != tc.wantBody(i) {
					t.Fatalf("request %d: body %.40q (%d bytes), want %.40q (%d bytes)", i, b, len(b), tc.wantBody(i), len(tc.wantBody(i)))
				}
				if tc.name == "chunked with trailers" && res.Trailer.Get("X-Sum") != "5" {
					t.Fatalf("trailer %v", res.Trailer)
				}
			}
			if n := up.conns.Load(); n != tc.wantConns {
				t.Fatalf("%d upstream connections, want %d", n, tc.wantConns)
			}
		})
	}
}

// TestH1TransportLateBytes: bytes an upstream sends after its answer,
// while the connection sits in the pool, are not read as the next
// answer: the connection is closed and the request goes on a new one.
func TestH1TransportLateBytes(t *testing.T) {
	up := newScriptedUpstream(t, func(c, n int, _ *http.Request) (string, bool) {
		return plainOK(c, n, ""), false
	})
	up.stray = func(c, n int) string {
		if c == 0 && n == 0 {
			return plainOK(99, 99, "")
		}
		return ""
	}
	rt := build(t, oneRoute(up.url(), model.Route{}), Options{})
	s := startServer(t, rt, nil)
	base := "http://" + s.Addr("web").String()
	if res := get(t, nil, base+"/", nil); res.body != "conn 0 request 0" {
		t.Fatalf("first answer %q", res.body)
	}
	time.Sleep(150 * time.Millisecond) // the stray answer arrives meanwhile
	if res := get(t, nil, base+"/", nil); res.status != 200 || res.body != "conn 1 request 0" {
		t.Fatalf("second answer: %d %q, want 200 from a new connection", res.status, res.body)
	}
}

// TestH1TransportStaleConnection: a pooled connection the upstream closed
// without notice fails the next request before any answer; the request
// is sent again on a new connection and succeeds.
func TestH1TransportStaleConnection(t *testing.T) {
	up := newScriptedUpstream(t, func(c, n int, _ *http.Request) (string, bool) {
		return plainOK(c, n, ""), true // closes, though the answer keeps it alive
	})
	rt := build(t, oneRoute(up.url(), model.Route{}), Options{})
	s := startServer(t, rt, nil)
	base := "http://" + s.Addr("web").String()
	for i := range 3 {
		res := get(t, nil, base+"/", nil)
		if want := fmt.Sprintf("conn %d request 0", i); res.status != 200 || res.body != want {
			t.Fatalf("request %d: %d %q, want 200 %q", i, res.status, res.body, want)
		}
		waittest.Until(t, 5*time.Second, "the upstream closing", func() bool { return up.closed.Load() == int32(i+1) })
	}
}

// TestH1TransportInterim: a 103 Early Hints answer reaches the client
// before the final one, as through net/http's Transport.
func TestH1TransportInterim(t *testing.T) {
	up := newScriptedUpstream(t, func(c, n int, _ *http.Request) (string, bool) {
		return "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" + plainOK(c, n, ""), false
	})
	rt := build(t, oneRoute(up.url(), model.Route{}), Options{})
	s := startServer(t, rt, nil)
	var hints []string
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Addr("web").String()+"/", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "conn 0 request 0" {
		t.Fatalf("%d %q", res.StatusCode, b)
	}
	if len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload" {
		t.Fatalf("interim answers %q", hints)
	}
}

// TestH1TransportTooManyInterim: more than five 1xx answers before the
// final one is an upstream failure (503), as through net/http's
// Transport, and the connection is not reused.
func TestH1TransportTooManyInterim(t *testing.T) {
	up := newScriptedUpstream(t, func(c, n int, _ *http.Request) (string, bool) {
		return strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 6) + plainOK(c, n, ""), false
	})
	rt := build(t, oneRoute(up.url(), model.Route{}), Options{})
	s := startServer(t, rt, nil)
	for i := range 2 {
		if res := get(t, nil, "http://"+s.Addr("web").String()+"/", nil); res.status != http.StatusServiceUnavailable {
			t.Fatalf("request %d: %d %q, want 503", i, res.status, res.body)
		}
	}
	if n := up.conns.Load(); n != 2 {
		t.Fatalf("%d upstream connections, want 2", n)
	}
}

// TestH1TransportGiveUp: a client that goes away while the upstream
// thinks closes the upstream connection; an answer whose headers do not
// come within the backend's timeout is 504. Neither connection is pooled.
func TestH1TransportGiveUp(t *testing.T) {
	// The upstream answers late, then waits for the next request: it sees
	// the connection end only if the gateway closed it (a pooled one
	// would stay open).
	up := newScriptedUpstream(t, func(c, n int, req *http.Request) (string, bool) {
		time.Sleep(600 * time.Millisecond)
		return plainOK(c, n, ""), false
	})
	rt := build(t, oneRoute(up.url(), model.Route{Backend: model.Backend{Timeout: 200 * time.Millisecond}}), Options{})
	s := startServer(t, rt, nil)
	base := "http://" + s.Addr("web").String()

	if res := get(t, nil, base+"/", nil); res.status != http.StatusGatewayTimeout {
		t.Fatalf("status %d %q, want 504", res.status, res.body)
	}
	waittest.Until(t, 5*time.Second, "the timed-out connection to close", func() bool { return up.closed.Load() == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatal("the request did not fail")
	}
	waittest.Until(t, 5*time.Second, "the abandoned connection to close", func() bool { return up.closed.Load() == 2 })
}

// TestH1TransportPool: the pool keeps at most maxIdle connections per
// host, closes those idle past idleTimeout, and keeps none once closed.
func TestH1TransportPool(t *testing.T) {
	up := newScriptedUpstream(t, func(c, n int, _ *http.Request) (string, bool) { return plainOK(c, n, ""), false })
	std := &http.Transport{}
	d := &net.Dialer{}
	tr := newH1Transport(std, d.DialContext, 2, 100*time.Millisecond, time.Second)
	defer tr.Close()
	get := func(ctx context.Context) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.url()+"/", nil)
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// Five answers held at once: five connections, two pooled after.
	var held []*http.Response
	for range 5 {
		held = append(held, get(context.Background()))
	}
	for _, res := range held {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	pooled := func() int {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return len(tr.idle[up.ln.Addr().String()])
	}
	if n := pooled(); n != 2 {
		t.Fatalf("%d pooled, want 2", n)
	}
	waittest.Until(t, 5*time.Second, "the extra connections to close", func() bool { return up.closed.Load() == 3 })
	waittest.Until(t, 5*time.Second, "the idle connections to be reaped", func() bool { return up.closed.Load() == 5 && pooled() == 0 })

	res := get(context.Background())
	io.Copy(io.Discard, res.Body)
	tr.Close()
	res.Body.Close() // ends after Close: not pooled
	if n := pooled(); n != 0 {
		t.Fatalf("%d pooled after Close", n)
	}
	waittest.Until(t, 5*time.Second, "the last connection to close", func() bool { return up.closed.Load() == 6 })
}

// TestOwnsRequest: the requests the HTTP/1.1 path sends itself; all
// others go to net/http's Transport.
func TestOwnsRequest(t *testing.T) {
	tests := []struct {
		name string
		req  func() *http.Request
		want bool
	}{
		{"GET", func() *http.Request { r, _ := http.NewRequest("GET", "http://up/", nil); return r }, true},
		{"HEAD", func() *http.Request { r, _ := http.NewRequest("HEAD", "http://up/", nil); return r }, true},
		{"OPTIONS", func() *http.Request { r, _ := http.NewRequest("OPTIONS", "http://up/", nil); return r }, true},
		{"POST without a body (not replayable)", func() *http.Request { r, _ := http.NewRequest("POST", "http://up/", nil); return r }, false},
		{"GET with a body", func() *http.Request { r, _ := http.NewRequest("GET", "http://up/", strings.NewReader("x")); return r }, false},
		{"GET chunked", func() *http.Request {
			r, _ := http.NewRequest("GET", "http://up/", nil)
			r.TransferEncoding = []string{"chunked"}
			return r
		}, false},
		{"upgrade", func() *http.Request {
			r, _ := http.NewRequest("GET", "http://up/", nil)
			r.Header.Set("Upgrade", "websocket")
			return r
		}, false},
		{"expect", func() *http.Request {
			r, _ := http.NewRequest("GET", "http://up/", nil)
			r.Header.Set("Expect", "100-continue")
			return r
		}, false},
		{"https", func() *http.Request { r, _ := http.NewRequest("GET", "https://up/", nil); return r }, false},
	}
	for _, tc := range tests {
		if got := ownsRequest(tc.req()); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestH1TransportNoResendAfterTimeout: a request on a pooled connection
// whose answer does not come in time (the backend's timeout for its
// headers, or its bodyIdleTimeout) is 504, and is not sent again.
func TestH1TransportNoResendAfterTimeout(t *testing.T) {
	for _, b := range []model.Backend{
		{Timeout: 200 * time.Millisecond},
		{Timeout: 5 * time.Second, BodyIdleTimeout: 200 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("timeout %s, bodyIdleTimeout %s", b.Timeout, b.BodyIdleTimeout), func(t *testing.T) {
			var requests atomic.Int32
			up := newScriptedUpstream(t, func(c, n int, req *http.Request) (string, bool) {
				if requests.Add(1) > 1 {
					time.Sleep(600 * time.Millisecond)
				}
				return plainOK(c, n, ""), false
			})
			rt := build(t, oneRoute(up.url(), model.Route{Backend: b}), Options{})
			s := startServer(t, rt, nil)
			base := "http://" + s.Addr("web").String()
			if res := get(t, nil, base+"/", nil); res.status != 200 {
				t.Fatalf("first request: %d", res.status)
			}
			if res := get(t, nil, base+"/", nil); res.status != http.StatusGatewayTimeout {
				t.Fatalf("second request: %d %q, want 504", res.status, res.body)
			}
			time.Sleep(700 * time.Millisecond)
			if n := requests.Load(); n != 2 || up.conns.Load() != 1 {
				t.Fatalf("the upstream saw %d requests on %d connections, want 2 on 1", n, up.conns.Load())
			}
		})
	}
}
