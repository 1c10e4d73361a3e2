package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestRouting checks the route table: every route forwards to the echo
// upstream under its own path prefix, so the upstream's request URI says
// which route matched.
func TestRouting(t *testing.T) {
	echo := newEcho(t)
	r := func(name string, m model.RouteMatch) model.Route {
		return model.Route{Name: name, Listener: "web", Match: m, Backend: model.Backend{URL: echo.URL + "/" + name}}
	}
	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "web", Address: "127.0.0.1:0"}},
		Routes: []model.Route{
			r("exact-host", model.RouteMatch{Hosts: []string{"www.example.com"}, Paths: []model.PathMatch{{Kind: model.PathExact, Value: "/headers"}}}),
			r("wildcard", model.RouteMatch{Hosts: []string{"*.example.org"}}),
			r("prefix", model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/v1/payments/"}}}),
			r("regex", model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathRegex, Value: `/items/[0-9]+`}}}),
			r("methods", model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/m/"}}, Methods: []string{"POST", "PUT"}}),
			r("header-present", model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/h/"}}, Headers: map[string]string{"x-httpbin-mesh": "*"}}),
			r("header-value", model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/h/"}}, Headers: map[string]string{"X-Env": "prod"}}),
			r("first", model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/order/"}}}),
			r("second", model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/order/"}}}),
			r("host-any-path", model.RouteMatch{Hosts: []string{"api.example.net"}}),
			r("configured-dot", model.RouteMatch{Hosts: []string{"Dot.Example.", "*.wild.example."}}),
		},
	}
	h := build(t, cfg, Options{}).Handler("web")

	tests := []struct {
		name, method, target string
		hdr                  map[string]string
		want                 string // route name, "" for 404
	}{
		{"exact host and path", "GET", "/headers", map[string]string{"Host": "www.example.com"}, "exact-host"},
		{"host case-insensitive, port ignored", "GET", "/headers", map[string]string{"Host": "WWW.Example.COM:8080"}, "exact-host"},
		{"host trailing dot", "GET", "/headers", map[string]string{"Host": "www.example.com."}, "exact-host"},
		{"exact path only", "GET", "/headers/x", map[string]string{"Host": "www.example.com"}, ""},
		{"other host", "GET", "/headers", map[string]string{"Host": "example.com"}, ""},
		{"wildcard one label", "GET", "/x", map[string]string{"Host": "a.example.org"}, "wildcard"},
		{"wildcard two labels", "GET", "/x", map[string]string{"Host": "a.b.example.org:443"}, "wildcard"},
		{"wildcard not the apex", "GET", "/x", map[string]string{"Host": "example.org"}, ""},
		{"wildcard not a suffix of a label", "GET", "/x", map[string]string{"Host": "badexample.org"}, ""},
		{"prefix", "GET", "/v1/payments/42", nil, "prefix"},
		{"prefix after normalization", "GET", "/v1/other/../payments/42", nil, "prefix"},
		{"prefix not matched", "GET", "/v1/payment", nil, ""},
		{"regex full match", "GET", "/items/123", nil, "regex"},
		{"regex is anchored", "GET", "/items/123/x", nil, ""},
		{"method allowed", "POST", "/m/x", nil, "methods"},
		{"method not allowed", "GET", "/m/x", nil, ""},
		{"header present", "GET", "/h/x", map[string]string{"X-Httpbin-Mesh": ""}, "header-present"},
		{"header value", "GET", "/h/x", map[string]string{"X-Env": "prod"}, "header-value"},
		{"header wrong value", "GET", "/h/x", map[string]string{"X-Env": "dev"}, ""},
		{"header absent", "GET", "/h/x", nil, ""},
		{"first match wins", "GET", "/order/1", nil, "first"},
		{"host with any path", "GET", "/anything", map[string]string{"Host": "api.example.net"}, "host-any-path"},
		{"configured host: case and trailing dot ignored", "GET", "/x", map[string]string{"Host": "dot.example"}, "configured-dot"},
		{"configured wildcard with trailing dot", "GET", "/x", map[string]string{"Host": "a.wild.example."}, "configured-dot"},
		{"no route", "GET", "/nowhere", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, h, tt.method, tt.target, tt.hdr)
			if tt.want == "" {
				if res.status != http.StatusNotFound || res.body != "" {
					t.Fatalf("got %d %q, want 404 with an empty body", res.status, res.body)
				}
				if res.header.Get("Content-Length") != "0" {
					t.Fatalf("Content-Length = %q", res.header.Get("Content-Length"))
				}
				return
			}
			if res.status != http.StatusOK {
				t.Fatalf("status %d, body %q", res.status, res.body)
			}
			if uri := res.echo(t).RequestURI; !strings.HasPrefix(uri, "/"+tt.want+"/") {
				t.Fatalf("upstream saw %q, want route %s", uri, tt.want)
			}
		})
	}
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"www.example.com":      "www.example.com",
		"WWW.example.com:8080": "www.example.com",
		"[::1]:8080":           "::1",
		"[::1]":                "::1",
		"10.0.0.1:80":          "10.0.0.1",
		"":                     "",
		"example.com.":         "example.com",
	} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPathRejected: paths that cannot be normalized safely get 400 with
// an empty body, over the wire (the request line as sent).
func TestPathRejected(t *testing.T) {
	echo := newEcho(t)
	rt := build(t, oneRoute(echo.URL, model.Route{}), Options{})
	s := startServer(t, rt, nil)
	addr := s.Addr("web").String()
	for _, line := range []string{"GET /a%2Fb", "GET /a%2fb", "GET /a%5Cb", "GET /a%00b", "GET /a\\b", "OPTIONS *",
		"CONNECT www.example.com:443", "CONNECT /x", "GET http://h.example/a%2Fb"} {
		t.Run(line, func(t *testing.T) {
			res := rawRequest(t, addr, line+" HTTP/1.1")
			if res.status != http.StatusBadRequest || res.body != "" {
				t.Fatalf("got %d %q, want 400 with an empty body", res.status, res.body)
			}
		})
	}
	// Normalized paths are what the upstream receives.
	for target, want := range map[string]string{
		"/a/../b?x=1":        "/b?x=1",
		"/%7euser/%2e/x":     "/~user/x",
		"/a%3fb":             "/a%3Fb",
		"/q?token=%2F":       "/q?token=%2F",
		"http://h.example/p": "/p",
	} {
		t.Run(target, func(t *testing.T) {
			res := rawRequest(t, addr, "GET "+target+" HTTP/1.1")
			if res.status != http.StatusOK {
				t.Fatalf("status %d %q", res.status, res.body)
			}
			if got := res.echo(t).RequestURI; got != want {
				t.Fatalf("upstream saw %q, want %q", got, want)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	cfg := &model.Config{
		Listeners: []model.Listener{
			{Name: "web", Address: "127.0.0.1:0", TLS: &model.ListenerTLS{CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"}},
			{Name: "bad", Address: "nohostport"},
		},
		Providers: []model.Provider{{Name: "p", JWKS: model.KeySource{Inline: "{not json"}}},
		Routes: []model.Route{
			{Name: "a", Listener: "web", Backend: model.Backend{URL: "ftp://x"}},
			{Name: "b", Listener: "nope", Backend: model.Backend{URL: "http://127.0.0.1:1"}, Match: model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathRegex, Value: "("}}}},
			{Name: "c", Listener: "web", Backend: model.Backend{URL: "https://127.0.0.1:1", CAFile: "/nonexistent/ca.pem"}},
		},
	}
	rt, issues := Build(cfg, Options{})
	if rt != nil {
		t.Fatal("Build returned a runtime despite errors")
	}
	want := []string{
		"listeners[0].tls.certFile: loading certificate",
		"listeners[1].address: invalid address",
		"providers[0].jwks.inline:",
		"routes[0].backend.url:",
		"routes[1].listener: listener \"nope\" is not defined",
		"routes[1].match.paths[0]: compiling regex",
		"routes[2].backend.caFile: reading CA file",
	}
	all := issues.Err().Error()
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("issues lack %q:\n%s", w, all)
		}
	}
	if len(issues) != len(want) {
		t.Errorf("got %d issues, want %d:\n%s", len(issues), len(want), all)
	}
}

// TestMalformedRequests: what net/http answers before the pipeline, as
// docs/proxy.md lists it, and request framing the gateway and the
// upstream must read alike.
func TestMalformedRequests(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s cl=%d te=%v body=%q", r.Method, r.Host, r.ContentLength, r.TransferEncoding, b)
	}))
	t.Cleanup(echo.Close)
	var logs logBuffer
	s := startServer(t, build(t, oneRoute(echo.URL, model.Route{}), Options{Logger: logs.logger()}), nil)
	addr := s.Addr("web").String()
	tests := []struct {
		name, msg string
		status    int
		body      string
	}{
		{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400, "400 Bad Request: missing required Host header"},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "400 Bad Request"},
		{"differing Content-Lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd", 400, "400 Bad Request"},
		{"unsupported Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, "Unsupported transfer encoding"},
		{"headers too large", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", 431, "431 Request Header Fields Too Large"},
		{"path too long", "GET /" + strings.Repeat("a", 70<<10) + " HTTP/1.1\r\nHost: a\r\n\r\n", 431, "431 Request Header Fields Too Large"},
		{"chunked wins over Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200, `POST a cl=-1 te=[chunked] body="hello"`},
		{"absolute form: its authority is the host", "GET http://other/p HTTP/1.1\r\nHost: a\r\n\r\n", 200, `GET other cl=0 te=[] body=""`},
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tt.msg)
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || (tt.body != "" && string(b) != tt.body) {
				t.Fatalf("got %d %q, want %d %q", res.StatusCode, b, tt.status, tt.body)
			}
			if tt.status >= 400 && (!res.Close || res.Header.Get("Content-Type") != "text/plain; charset=utf-8") {
				t.Errorf("Connection close %v, Content-Type %q", res.Close, res.Header.Get("Content-Type"))
			}
		})
	}
	if n := len(logs.access(t)); n != 3 {
		t.Errorf("%d access lines, want 3 (only the requests that reached the pipeline)", n)
	}
}
