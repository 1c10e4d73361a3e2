package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"jwtgate.dev/jwtgate/internal/metrics"
	"jwtgate.dev/jwtgate/internal/model"
)

// discard is a ResponseWriter that keeps nothing but the status.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header               { return d.h }
func (d *discard) WriteHeader(s int)                 { d.status = s }
func (d *discard) Write(b []byte) (int, error)       { return len(b), nil }
func (d *discard) WriteString(s string) (int, error) { return len(s), nil }

// benchRequest builds a request as the server would hand it over, with few
// allocations of its own (a header map and the request).
func benchRequest(ctx context.Context, u *url.URL, auth string) *http.Request {
	r := &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Host:       "www.example.com:8080",
		RequestURI: u.RequestURI(),
		RemoteAddr: "192.0.2.1:1234",
		Header:     http.Header{},
		Body:       http.NoBody,
	}
	if auth != "" {
		r.Header["Authorization"] = []string{auth}
	}
	return r.WithContext(ctx)
}

func benchUpstream(b *testing.B) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	b.Cleanup(s.Close)
	return s
}

// BenchmarkHandler is the whole pipeline, metrics on as jwtgate serve runs
// it, forwarding over loopback to a minimal upstream: an open route, and a
// route with an RS256 token that the provider's cache has seen.
func BenchmarkHandler(b *testing.B) {
	up := benchUpstream(b)
	cfg := seed004Config(b, up.URL)
	rt := build(b, cfg, Options{Metrics: metrics.New()})
	h := rt.Handler("http")
	token := "Bearer " + readTestdata(b, "seed004.jwt")
	for _, bc := range []struct {
		name, path, auth string
	}{
		{"open", "/open/x", ""},
		{"rs256-cached", "/headers", token},
	} {
		b.Run(bc.name, func(b *testing.B) {
			u, _ := url.Parse(bc.path)
			ctx := context.Background()
			w := &discard{h: http.Header{}}
			h.ServeHTTP(w, benchRequest(ctx, u, bc.auth))
			if w.status != 200 {
				b.Fatalf("status %d", w.status)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w.status = 0
				clear(w.h)
				h.ServeHTTP(w, benchRequest(ctx, u, bc.auth))
			}
		})
	}
}

// BenchmarkDecide is the pipeline up to the forwarding step, metrics on: a
// request the gateway answers itself (401 missing token, 403 denied with
// and without a cached token, 404 no route). benchRequest's own two
// allocations (the header map and the request) are in the figures.
func BenchmarkDecide(b *testing.B) {
	cfg := seed004Config(b, "http://127.0.0.1:1")
	cfg.Policies = []model.Policy{
		{Name: "no-admin", Action: model.ActionDeny, Routes: []string{"open"}, Rules: []model.Rule{{To: []model.To{{Paths: []string{"/open/admin"}}}}}},
		{Name: "no-admin-jwt", Action: model.ActionDeny, Routes: []string{"httpbin"}, Rules: []model.Rule{{To: []model.To{{Paths: []string{"/admin"}}}}}},
	}
	h := build(b, cfg, Options{Metrics: metrics.New()}).Handler("http")
	token := "Bearer " + readTestdata(b, "seed004.jwt")
	for _, bc := range []struct {
		name, host, path, auth string
		status                 int
	}{
		{"missing-401", "www.example.com", "/headers", "", 401},
		{"denied-403", "x", "/open/admin", "", 403},
		{"cached-denied-403", "www.example.com", "/admin", token, 403},
		{"no-route-404", "x", "/nowhere", "", 404},
	} {
		b.Run(bc.name, func(b *testing.B) {
			u, _ := url.Parse(bc.path)
			ctx := context.Background()
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				r := benchRequest(ctx, u, bc.auth)
				r.Host = bc.host
				h.ServeHTTP(w, r)
				if w.status != bc.status {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// TestDecideAllocs: answering a request without forwarding it (no route,
// denied by policy) allocates nothing in the pipeline, metrics on. A
// cached token denied by policy is TestCacheHitAllocs's.
func TestDecideAllocs(t *testing.T) {
	cfg := seed004Config(t, "http://127.0.0.1:1")
	cfg.Policies = []model.Policy{{Name: "no-admin", Action: model.ActionDeny, Routes: []string{"open"}, Rules: []model.Rule{{To: []model.To{{Paths: []string{"/open/admin"}}}}}}}
	h := build(t, cfg, Options{Metrics: metrics.New()}).Handler("http")
	for _, tc := range []struct {
		path   string
		status int
	}{{"/nowhere", 404}, {"/open/admin", 403}} {
		u, _ := url.Parse(tc.path)
		r := benchRequest(context.Background(), u, "")
		r.Host = "x"
		w := &discard{h: http.Header{}}
		allocs := testing.AllocsPerRun(100, func() {
			clear(w.h)
			h.ServeHTTP(w, r)
		})
		if w.status != tc.status {
			t.Fatalf("%s: status %d", tc.path, w.status)
		}
		if allocs != 0 {
			t.Errorf("%s: %v allocations per request", tc.path, allocs)
		}
	}
}
