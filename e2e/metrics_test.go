package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

const metricsIss = "https://corp.example.com"

// metricsConfig is one route that needs a token of provider corp (its
// key set fetched from jwksURL) and a DENY policy on /admin/*.
func metricsConfig(jwksURL, upstream string) string {
	return `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:0
providers:
  - name: corp
    issuer: ` + metricsIss + `
    jwks:
      uri: ` + jwksURL + `
routes:
  - name: api
    match: {paths: ["/api/*", "/admin/*"]}
    backend: {url: ` + upstream + `}
    jwt: {providers: [corp]}
policies:
  - name: no-admin
    action: DENY
    routes: [api]
    rules: [{to: [{paths: ["/admin/*"]}]}]
`
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestMetricsScrape sends a known mix of requests through a gateway,
// scrapes /metrics, parses it with the Prometheus text parser and checks
// every counter against what was sent. Then a flood of 2,000 requests
// with distinct paths and distinct tokens: the set of jwtgate_ series
// only gains the two reason codes the flood is the first to produce, and
// neither the scrape nor the log holds a token sent, nor the scrape a
// path sent.
func TestMetricsScrape(t *testing.T) {
	is := newIssuer(t)
	jwks := serveJWKS(t, jwksDoc(is.jwks))
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	h := gatewaytest.Start(t, metricsConfig(jwks.URL, up.URL), gatewaytest.Admin(), gatewaytest.ReadyTimeout(time.Minute))
	waitStatus(t, h.AdminURL()+"/readyz", 200) // the key set is in: every token is looked up in the cache

	valid := is.token(t, jwt.MapClaims{"iss": metricsIss, "sub": "alice"})
	expired := is.token(t, jwt.MapClaims{"iss": metricsIss, "sub": "alice", "exp": time.Now().Add(-time.Hour).Unix()})
	sent := []string{valid, expired}
	client := &http.Client{Timeout: 30 * time.Second}
	base := h.URL("web")

	mix := []struct {
		name, path, token string
		times, status     int
	}{
		{"no token", "/api/x", "", 2, 401},
		{"valid token", "/api/x", valid, 3, 200},
		{"expired token", "/api/x", expired, 4, 401},
		{"denied by a policy", "/admin/x", valid, 5, 403},
		{"no route", "/nowhere", "", 6, 404},
	}
	for _, m := range mix {
		for range m.times {
			if code, body := httpGet(t, client, base+m.path, m.token); code != m.status {
				t.Fatalf("%s: %d %q, want %d", m.name, code, body, m.status)
			}
		}
	}

	s0 := scrapeMetrics(t, h.AdminURL())
	const api, web = `route="api"`, `listener="web"`
	s0.expectSeries(t, "jwtgate_requests_total", map[string]float64{
		`{code="200",listener="web",route="api"}`: 3,
		`{code="401",listener="web",route="api"}`: 2 + 4,
		`{code="403",listener="web",route="api"}`: 5,
		`{code="404",listener="web",route=""}`:    6,
	})
	s0.expectSeries(t, "jwtgate_authn_total", map[string]float64{
		`{outcome="missing",provider="corp",reason="jwt_missing"}`: 2,
		`{outcome="verified",provider="corp",reason="none"}`:       3 + 5,
		`{outcome="invalid",provider="corp",reason="jwt_expired"}`: 4,
	})
	s0.expectSeries(t, "jwtgate_authz_decisions_total", map[string]float64{
		`{action="",decision="allow",policy=""}`:            3,
		`{action="",decision="deny",policy=""}`:             0,
		`{action="DENY",decision="deny",policy="no-admin"}`: 5,
	})
	// The valid token is verified once, then found in the cache; the
	// expired one is looked up (a miss) each time and never cached.
	s0.expectSeries(t, "jwtgate_token_cache_lookups_total", map[string]float64{
		`{provider="corp",result="hit"}`:  3 + 5 - 1,
		`{provider="corp",result="miss"}`: 1 + 4,
	})
	s0.expectSeries(t, "jwtgate_keyset_fetches_total", map[string]float64{
		`{provider="corp",result="success"}`: float64(jwks.fetches.Load()),
		`{provider="corp",result="failure"}`: 0,
	})
	if n := jwks.fetches.Load(); n != 1 {
		t.Errorf("the key set was fetched %d times, want 1", n)
	}
	s0.expectSeries(t, "jwtgate_config_reloads_total", map[string]float64{
		`{result="success"}`: 1,
		`{result="failure"}`: 0,
	})
	s0.expectSeries(t, "jwtgate_upstream_duration_seconds", map[string]float64{`{` + api + `}`: 3})
	s0.expectSeries(t, "jwtgate_requests_in_flight", map[string]float64{`{` + web + `}`: 0})
	if _, ok := s0.value("jwtgate_keyset_age_seconds", "provider", "corp"); !ok {
		t.Error("jwtgate_keyset_age_seconds{provider=corp} is missing")
	}

	// The flood, in two halves of 1,000: a quarter each of garbage
	// tokens, forged tokens in the query, valid tokens of distinct
	// subjects, and valid tokens on paths no route takes.
	var paths []string
	flood := func(from, to int) {
		t.Helper()
		type req struct {
			path, token string
			query       bool
			status      int
		}
		var reqs []req
		for i := from; i < to; i++ {
			tag := fmt.Sprintf("%d-%s", i, randomHex(t, 6))
			claims := jwt.MapClaims{"iss": metricsIss, "sub": "flood-" + tag, "jti": randomHex(t, 8)}
			switch i % 4 {
			case 0:
				reqs = append(reqs, req{"/api/garbage-" + tag, "garbage" + randomHex(t, 16), false, 401})
			case 1:
				tok := is.token(t, claims)
				other := is.token(t, jwt.MapClaims{"iss": metricsIss, "sub": "other-" + tag})
				forged := tok[:strings.LastIndexByte(tok, '.')] + other[strings.LastIndexByte(other, '.'):]
				reqs = append(reqs, req{"/api/forged-" + tag, forged, true, 401})
			case 2:
				reqs = append(reqs, req{"/api/valid-" + tag, is.token(t, claims), false, 200})
			case 3:
				reqs = append(reqs, req{"/unrouted-" + tag, is.token(t, claims), false, 404})
			}
		}
		var mu sync.Mutex
		var failures []string
		var wg sync.WaitGroup
		work := make(chan req)
		for range 4 {
			wg.Go(func() {
				for r := range work {
					req, _ := http.NewRequest(http.MethodGet, base+r.path, nil)
					if r.query {
						req.URL.RawQuery = "access_token=" + r.token
					} else {
						req.Header.Set("Authorization", "Bearer "+r.token)
					}
					var got string
					res, err := client.Do(req)
					if err != nil {
						got = err.Error()
					} else {
						b, _ := io.ReadAll(res.Body)
						res.Body.Close()
						if res.StatusCode != r.status {
							got = fmt.Sprintf("%d %q", res.StatusCode, b)
						}
					}
					if got != "" {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("%s: %s, want %d", r.path, got, r.status))
						mu.Unlock()
					}
				}
			})
		}
		for _, r := range reqs {
			paths = append(paths, r.path)
			sent = append(sent, r.token)
			work <- r
		}
		close(work)
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("%d flood requests got the wrong answer, the first: %s", len(failures), failures[0])
		}
	}

	flood(0, 1000)
	s1 := scrapeMetrics(t, h.AdminURL())
	flood(1000, 2000)
	s2 := scrapeMetrics(t, h.AdminURL())

	// The series: the first half adds exactly the two reason codes no
	// request had produced before; the second half adds nothing.
	before, mid, after := s0.gatewaySeries(), s1.gatewaySeries(), s2.gatewaySeries()
	var added []string
	for k := range mid {
		if _, ok := before[k]; !ok {
			added = append(added, k)
		}
	}
	wantAdded := map[string]bool{
		`jwtgate_authn_total{outcome="invalid",provider="corp",reason="jwt_bad_format"}`:         true,
		`jwtgate_authn_total{outcome="invalid",provider="corp",reason="jwt_verification_fails"}`: true,
	}
	ok := len(added) == len(wantAdded)
	for _, k := range added {
		ok = ok && wantAdded[k]
	}
	if !ok {
		t.Errorf("the first 1,000 requests added the series %q, want exactly the two new reasons", added)
	}
	if len(after) != len(mid) {
		t.Errorf("the second 1,000 requests changed the number of jwtgate_ series from %d to %d", len(mid), len(after))
	}
	for k := range after {
		if _, ok := mid[k]; !ok {
			t.Errorf("the second 1,000 requests added the series %s", k)
		}
	}

	// The counts, every request of both halves included.
	s2.expectSeries(t, "jwtgate_requests_total", map[string]float64{
		`{code="200",listener="web",route="api"}`: 3 + 500,
		`{code="401",listener="web",route="api"}`: 6 + 1000,
		`{code="403",listener="web",route="api"}`: 5,
		`{code="404",listener="web",route=""}`:    6 + 500,
	})
	s2.expectSeries(t, "jwtgate_authn_total", map[string]float64{
		`{outcome="missing",provider="corp",reason="jwt_missing"}`:            2,
		`{outcome="verified",provider="corp",reason="none"}`:                  8 + 500,
		`{outcome="invalid",provider="corp",reason="jwt_expired"}`:            4,
		`{outcome="invalid",provider="corp",reason="jwt_bad_format"}`:         500,
		`{outcome="invalid",provider="corp",reason="jwt_verification_fails"}`: 500,
	})
	s2.expectSeries(t, "jwtgate_token_cache_lookups_total", map[string]float64{
		`{provider="corp",result="hit"}`:  7,
		`{provider="corp",result="miss"}`: 5 + 1500,
	})
	if n := jwks.fetches.Load(); n != 1 {
		t.Errorf("after the flood the key set was fetched %d times, want 1", n)
	}

	// Nothing a client sent reaches a label; no token reaches the log.
	logs := h.Logs.String()
	if strings.Count(logs, `"msg":"access"`) != 20+2000 {
		t.Errorf("the log has %d access lines, want %d", strings.Count(logs, `"msg":"access"`), 20+2000)
	}
	for _, tok := range sent {
		if strings.Contains(s2.body, tok) {
			t.Fatalf("the scrape holds a token sent: %s", tok)
		}
		if strings.Contains(logs, tok) {
			t.Fatalf("the log holds a token sent: %s", tok)
		}
	}
	for _, p := range paths {
		if strings.Contains(s2.body, p) {
			t.Fatalf("the scrape holds a path sent: %s", p)
		}
	}
	for _, v := range s2.labelValues() {
		if strings.Contains(v, "flood-") || strings.Contains(v, "garbage") || strings.Contains(v, "unrouted") {
			t.Errorf("label value %q comes from a request", v)
		}
	}
}
