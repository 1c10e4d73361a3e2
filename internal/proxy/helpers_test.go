package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/logtest"
	"jwtgate.dev/jwtgate/internal/model"
)

// echoed is what the echo upstream saw.
type echoed struct {
	Method     string      `json:"method"`
	Host       string      `json:"host"`
	RequestURI string      `json:"uri"`
	Header     http.Header `json:"header"`
	TLS        bool        `json:"tls"`
	ClientCert string      `json:"clientCert,omitempty"`
}

// echoHandler answers with a JSON description of the request.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	e := echoed{Method: r.Method, Host: r.Host, RequestURI: r.RequestURI, Header: r.Header, TLS: r.TLS != nil}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		e.ClientCert = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(e)
}

func newEcho(t testing.TB) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(echoHandler))
	t.Cleanup(s.Close)
	return s
}

// response is a finished exchange.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) echo(t testing.TB) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("upstream did not answer (status %d, body %q): %v", r.status, r.body, err)
	}
	return e
}

// do serves one request through h in process.
func do(t testing.TB, h http.Handler, method, target string, hdr map[string]string) response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = "192.0.2.10:40000"
	for k, v := range hdr {
		if strings.EqualFold(k, "host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// get sends a real request over the network.
func get(t testing.TB, c *http.Client, target string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if strings.EqualFold(k, "host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// rawRequest writes a request line by hand (for targets net/http would
// not send) and returns the response. It adds "Host: example.com" unless
// hdr has a Host line, and always "Connection: close" last.
func rawRequest(t testing.TB, addr, requestLine string, hdr ...string) response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host := "Host: example.com\r\n" // unless hdr has one
	for _, h := range hdr {
		if strings.HasPrefix(strings.ToLower(h), "host:") {
			host = ""
		}
	}
	msg := requestLine + "\r\n" + host + strings.Join(hdr, "") + "Connection: close\r\n\r\n"
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufioReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

func build(t testing.TB, cfg *model.Config, opts Options) *Runtime {
	t.Helper()
	rt, issues := Build(cfg, opts)
	if err := issues.Err(); err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(rt.Close)
	return rt
}

// startServer starts a Server with rt and returns it with a base URL per
// listener.
func startServer(t testing.TB, rt *Runtime, logger *slog.Logger) *Server {
	t.Helper()
	s := NewServer(logger)
	if err := s.Start(t.Context(), rt); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

func oneRoute(backend string, r model.Route) *model.Config {
	r.Listener = "web"
	if r.Name == "" {
		r.Name = "r"
	}
	r.Backend.URL = backend
	return &model.Config{
		Listeners: []model.Listener{{Name: "web", Address: "127.0.0.1:0"}},
		Routes:    []model.Route{r},
	}
}

// logBuffer collects the JSON log lines of a runtime under test.
type logBuffer struct{ logtest.Buffer }

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// access returns the access log lines, decoded.
func (l *logBuffer) access(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "access" {
			out = append(out, m)
		}
	}
	return out
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// expectSeed004Outputs checks what the upstream received for the seed 004
// token: exactly one X-Team (dev, never a client's copy), X-Org solo.io, the
// payload segment in X-Jwt-Payload, and no Authorization.
func expectSeed004Outputs(t testing.TB, e echoed, token string) {
	t.Helper()
	if got := e.Header.Values("X-Team"); len(got) != 1 || got[0] != "dev" {
		t.Errorf("X-Team %q, want [dev]", got)
	}
	if got := e.Header.Get("X-Org"); got != "solo.io" {
		t.Errorf("X-Org %q, want solo.io", got)
	}
	if got := e.Header.Get("X-Jwt-Payload"); got != strings.Split(token, ".")[1] {
		t.Errorf("X-Jwt-Payload %q", got)
	}
	if got := e.Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization forwarded: %q", got)
	}
}
