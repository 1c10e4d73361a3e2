package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestHTTP2RequestBodies: over HTTP/2 (h2c), where every request has a
// body reader (guard.serve leaves those of length 0 unwrapped), requests
// without a body or with an empty one pass, and bodies of a known or
// unknown length reach the upstream whole; a body that stalls, of either
// kind, is still cut by the listener's bodyIdleTimeout with 408.
func TestHTTP2RequestBodies(t *testing.T) {
	const idle = 300 * time.Millisecond
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		io.WriteString(w, strconv.Itoa(len(b)))
	}))
	t.Cleanup(up.Close)
	cfg := oneRoute(up.URL, model.Route{})
	cfg.Listeners[0].H2C = true
	cfg.Listeners[0].Limits.BodyIdleTimeout = idle
	s := startServer(t, build(t, cfg, Options{}), nil)
	target := "http://" + s.Addr("web").String() + "/"
	tr := &http.Transport{Protocols: protocols(false, false, true)}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	// stalled is a body that sends its first bytes and then nothing.
	stalled := func() io.ReadCloser {
		pr, pw := io.Pipe()
		go func() {
			io.WriteString(pw, "abc")
			time.Sleep(10 * idle)
			pw.Close()
		}()
		return pr
	}
	tests := []struct {
		name     string
		method   string
		body     func() io.ReadCloser // nil: no body
		length   int64                // ContentLength; -1: unknown
		status   int
		response string
	}{
		{name: "GET without a body", method: http.MethodGet, status: 200, response: "0"},
		{name: "POST with an empty body", method: http.MethodPost, length: 0,
			body: func() io.ReadCloser { return io.NopCloser(strings.NewReader("")) }, status: 200, response: "0"},
		{name: "POST with a known length", method: http.MethodPost, length: 5,
			body: func() io.ReadCloser { return io.NopCloser(strings.NewReader("hello")) }, status: 200, response: "5"},
		{name: "POST with an unknown length", method: http.MethodPost, length: -1,
			body: func() io.ReadCloser { return io.NopCloser(strings.NewReader("hello!")) }, status: 200, response: "6"},
		{name: "POST stalling, known length", method: http.MethodPost, length: 10, body: stalled,
			status: http.StatusRequestTimeout, response: bodyStreamTimeout},
		{name: "POST stalling, unknown length", method: http.MethodPost, length: -1, body: stalled,
			status: http.StatusRequestTimeout, response: bodyStreamTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, target, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.body != nil {
				req.Body = tt.body()
				req.ContentLength = tt.length
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.ProtoMajor != 2 || res.StatusCode != tt.status || string(b) != tt.response {
				t.Errorf("got %s %d %q, want HTTP/2.0 %d %q", res.Proto, res.StatusCode, b, tt.status, tt.response)
			}
		})
	}
}
