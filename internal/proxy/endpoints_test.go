package proxy

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestBackendEndpoints: a backend with endpoints sends each new
// connection to the next endpoint in turn, passes over one that refuses,
// keeps the client's Host, and says where it sends in the explanation.
func TestBackendEndpoints(t *testing.T) {
	var upstreams []*httptest.Server
	for i := range 2 {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close") // every request dials anew
			fmt.Fprintf(w, "%d %s", i, r.Host)
		}))
		t.Cleanup(s.Close)
		upstreams = append(upstreams, s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nothing listens there now
	eps := []string{upstreams[0].Listener.Addr().String(), down, upstreams[1].Listener.Addr().String()}
	rt := build(t, oneRoute("http://httpbin.httpbin.svc.cluster.local:8000", model.Route{
		Backend: model.Backend{Endpoints: eps},
	}), Options{})
	s := startServer(t, rt, nil)
	base := "http://" + s.Addr("web").String()
	var got []string
	for range 4 {
		res := get(t, nil, base+"/", map[string]string{"Host": "www.example.com"})
		if res.status != http.StatusOK {
			t.Fatalf("status %d %q", res.status, res.body)
		}
		got = append(got, res.body)
	}
	// Endpoint 1 refuses: its turn goes to endpoint 2.
	want := "0 www.example.com|1 www.example.com|1 www.example.com|0 www.example.com"
	if strings.Join(got, "|") != want {
		t.Errorf("answers %q, want %q", strings.Join(got, "|"), want)
	}
	if ex := rt.Explain()[0].Backend; !strings.Contains(ex, "(endpoints: "+strings.Join(eps, ", ")+")") {
		t.Errorf("explanation %q does not list the endpoints", ex)
	}
}

// TestBackendUnavailable: an unavailable backend answers 503 "no healthy
// upstream" without a connection, and says why in the explanation.
func TestBackendUnavailable(t *testing.T) {
	dialed := false
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { dialed = true }))
	t.Cleanup(up.Close)
	rt := build(t, oneRoute(up.URL, model.Route{
		Backend: model.Backend{Unavailable: "Service httpbin/httpbin port 8000 has no ready endpoint"},
	}), Options{})
	s := startServer(t, rt, nil)
	res := get(t, nil, "http://"+s.Addr("web").String()+"/", nil)
	if res.status != http.StatusServiceUnavailable || res.body != bodyNoUpstream || dialed {
		t.Errorf("got %d %q (upstream reached: %v), want 503 %q", res.status, res.body, dialed, bodyNoUpstream)
	}
	if ex := rt.Explain()[0].Backend; !strings.HasSuffix(ex, "(unavailable: Service httpbin/httpbin port 8000 has no ready endpoint)") {
		t.Errorf("explanation %q", ex)
	}
}
