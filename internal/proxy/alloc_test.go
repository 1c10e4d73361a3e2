package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/metrics"
	"jwtgate.dev/jwtgate/internal/model"
)

// staticUpstream is an in-memory upstream: every round trip answers 200
// with no body, so that measuring a forwarded request measures the
// gateway and ReverseProxy, not a socket.
type staticUpstream struct{}

func (staticUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, Request: r,
	}, nil
}

// cacheHitConfig is the benchmark's gateway (bench/bench.yaml.tmpl): one
// provider with an inline key set and an issuer, no claim outputs, the
// token not forwarded; a route that requires a token, with an ALLOW
// policy on the verified principal and a DENY policy on /api/admin, and an
// open route.
func cacheHitConfig(t testing.TB) *model.Config {
	upstream := "http://127.0.0.1:1"
	return &model.Config{
		Listeners: []model.Listener{{Name: "http", Address: "127.0.0.1:0"}},
		Providers: []model.Provider{{
			Name:      "bench",
			Issuer:    "solo.io",
			JWKS:      model.KeySource{Inline: readTestdata(t, "seed004.jwks.json")},
			ClockSkew: model.DefaultClockSkew,
		}},
		Routes: []model.Route{
			{Name: "open", Listener: "http", Match: model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/open"}}}, Backend: model.Backend{URL: upstream}},
			{Name: "api", Listener: "http", Labels: model.Labels{"auth": "jwt"}, Match: model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/api"}}}, Backend: model.Backend{URL: upstream}},
		},
		JWTPolicies: []model.JWTPolicy{{
			Name:        "jwt",
			Selector:    map[string]string{"auth": "jwt"},
			Requirement: model.JWTRequirement{Providers: []string{"bench"}, Mode: model.AuthRequired},
		}},
		Policies: []model.Policy{
			{Name: "no-admin", Action: model.ActionDeny, Routes: []string{"api"}, Rules: []model.Rule{{To: []model.To{{Paths: []string{"/api/admin"}}}}}},
			{Name: "solo", Action: model.ActionAllow, Routes: []string{"api"}, Rules: []model.Rule{{From: []model.From{{RequestPrincipals: []string{"solo.io/*"}}}}}},
		},
	}
}

// TestCacheHitAllocs: with metrics on, the gateway's own work on a
// request whose token is a hit in the verified-token cache (finding and
// checking the token, authorization, removing the token, the metrics and
// the access log decision) allocates nothing. A denied request is
// answered by the gateway alone, so it is measured whole; an allowed one
// is forwarded, so the allocations of the same ReverseProxy serving the
// same request on its own (the upstream exchange) are subtracted.
//
// Where to look when it fails: go test -run X -bench
// Decide/cached-denied-403 -benchmem -memprofile m.out -memprofilerate 1,
// then go tool pprof -sample_index alloc_objects -top (benchRequest's own
// four allocations are the test's).
func TestCacheHitAllocs(t *testing.T) {
	m := metrics.New()
	rt := build(t, cacheHitConfig(t), Options{Metrics: m})
	l := rt.byName["http"]
	var api *route
	for _, r := range l.routes {
		r.backend.proxy.Transport = staticUpstream{}
		if r.name == "api" {
			api = r
		}
	}
	token := []string{"Bearer " + readTestdata(t, "seed004.jwt")}
	ctx := context.Background()
	w := &discard{h: http.Header{}}

	// measure serves r through serve again and again, giving it its
	// token back each time (the pipeline removes it before forwarding),
	// and returns the allocations per request.
	measure := func(name string, r *http.Request, want int, serve func(http.ResponseWriter, *http.Request)) float64 {
		t.Helper()
		run := func() {
			clear(w.h)
			w.status = 0
			r.Header["Authorization"] = token
			serve(w, r)
		}
		run() // the first request fills the cache and the metric series
		if w.status != want {
			t.Fatalf("%s: status %d, want %d", name, w.status, want)
		}
		n := testing.AllocsPerRun(200, run)
		if w.status != want {
			t.Fatalf("%s: status %d, want %d", name, w.status, want)
		}
		t.Logf("%s: %v allocations per request", name, n)
		return n
	}

	deniedURL, _ := url.Parse("/api/admin")
	denied := measure("denied by policy (403)", benchRequest(ctx, deniedURL, ""), http.StatusForbidden, l.ServeHTTP)
	if denied != 0 {
		t.Errorf("a cached token denied by policy: %v allocations per request, want 0", denied)
	}

	allowedURL, _ := url.Parse("/api/x")
	gw := measure("allowed and forwarded (200)", benchRequest(ctx, allowedURL, ""), http.StatusOK, l.ServeHTTP)
	bare := measure("the route's ReverseProxy alone", benchRequest(ctx, allowedURL, ""), http.StatusOK, func(w http.ResponseWriter, r *http.Request) {
		delete(r.Header, "Authorization") // as the gateway forwards it
		api.backend.proxy.ServeHTTP(w, r)
	})
	if own := gw - bare; own != 0 {
		t.Errorf("a cached token allowed and forwarded: %v allocations per request, of which the upstream exchange %v: the gateway's own %v, want 0", gw, bare, own)
	}
	// The metrics were recorded, once per request: 202 requests per case
	// (measure's first, AllocsPerRun's warm-up and its 200 runs).
	scrape := httptest.NewRecorder()
	m.Handler().ServeHTTP(scrape, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, series := range []string{
		`jwtgate_requests_total{code="403",listener="http",route="api"} 202`,
		`jwtgate_requests_total{code="200",listener="http",route="api"} 202`,
		`jwtgate_upstream_duration_seconds_count{route="api"} 202`,
		`jwtgate_authn_total{outcome="verified",provider="bench",reason="none"} 404`,
		`jwtgate_authz_decisions_total{action="DENY",decision="deny",policy="no-admin"} 202`,
		`jwtgate_authz_decisions_total{action="ALLOW",decision="allow",policy="solo"} 202`,
	} {
		if !strings.Contains(scrape.Body.String(), series+"\n") {
			t.Errorf("metrics lack %s", series)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", scrape.Body)
	}
}
