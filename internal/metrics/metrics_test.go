package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches m's handler over a real HTTP server and parses the body
// as the Prometheus text format.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q, want the text format", ct)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	return fams
}

// labels is a metric's label set, for lookups.
type labels map[string]string

// find returns the metric of family name whose labels are exactly want.
func find(fams map[string]*dto.MetricFamily, name string, want labels) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}

// value returns the value of a counter or gauge, failing when absent.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want labels) float64 {
	t.Helper()
	m := find(fams, name, want)
	if m == nil {
		t.Fatalf("%s%v: not exported", name, want)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s%v: not a counter or gauge", name, want)
	return 0
}

func expect(t *testing.T, fams map[string]*dto.MetricFamily, name string, l labels, want float64) {
	t.Helper()
	if got := value(t, fams, name, l); got != want {
		t.Errorf("%s%v = %v, want %v", name, l, got, want)
	}
}

func series(fams map[string]*dto.MetricFamily, name string) int {
	if f := fams[name]; f != nil {
		return len(f.GetMetric())
	}
	return 0
}

func TestRecordedMix(t *testing.T) {
	m := New()
	api := m.Route("public", "api")
	web := m.Route("public", "web")
	none := m.Route("public", NoRoute)
	admin := m.Route("internal", "admin")

	for range 5 {
		api.Observe(200, 3*time.Millisecond)
	}
	api.Observe(200, 2*time.Second)
	api.Observe(502, 20*time.Second) // beyond the last bucket
	api.Observe(401, NoUpstream)
	api.Observe(401, NoUpstream)
	web.Observe(403, NoUpstream)
	none.Observe(404, NoUpstream)
	none.Observe(404, time.Millisecond) // ignored: no route, no upstream
	admin.Observe(204, 100*time.Microsecond)

	pub := m.Listener("public")
	done := pub.InFlight()
	pub.InFlight()()
	m.Listener("internal").InFlight()()

	idp := m.Provider("idp")
	for range 3 {
		idp.Outcome(OutcomeVerified, ReasonNone)
	}
	idp.Outcome(OutcomeMissing, ReasonJWTMissing)
	idp.Outcome(OutcomeInvalid, ReasonJWTExpired)
	idp.Outcome(OutcomeInvalid, ReasonJWTExpired)
	idp.Outcome(OutcomeInvalid, "Jwt is expired")    // not a code: other
	idp.Outcome("weird", ReasonJWTVerificationFails) // not an outcome: other
	m.Provider("legacy").Outcome(OutcomeInvalid, ReasonJWKSFetchFailed)

	admins := m.Policy("admins-only", "ALLOW")
	admins.Allow()
	admins.Allow()
	admins.Decide(true)
	blocked := m.Policy("block-bots", "DENY")
	blocked.Deny()
	blocked.Decide(false)
	fallback := m.Policy("", ActionNone)
	fallback.Deny()
	fallback.Allow()
	fallback.Allow()

	m.ReloadSucceeded(time.Unix(1700000000, 500e6))
	m.ReloadFailed()
	m.ReloadFailed()

	fams := scrape(t, m)

	req := func(l, r, code string) labels { return labels{"listener": l, "route": r, "code": code} }
	expect(t, fams, "jwtgate_requests_total", req("public", "api", "200"), 6)
	expect(t, fams, "jwtgate_requests_total", req("public", "api", "502"), 1)
	expect(t, fams, "jwtgate_requests_total", req("public", "api", "401"), 2)
	expect(t, fams, "jwtgate_requests_total", req("public", "web", "403"), 1)
	expect(t, fams, "jwtgate_requests_total", req("public", "", "404"), 2)
	expect(t, fams, "jwtgate_requests_total", req("internal", "admin", "204"), 1)
	if n := series(fams, "jwtgate_requests_total"); n != 6 {
		t.Errorf("jwtgate_requests_total: %d series, want 6", n)
	}

	expect(t, fams, "jwtgate_requests_in_flight", labels{"listener": "public"}, 1)
	expect(t, fams, "jwtgate_requests_in_flight", labels{"listener": "internal"}, 0)
	done()
	expect(t, scrape(t, m), "jwtgate_requests_in_flight", labels{"listener": "public"}, 0)

	h := find(fams, "jwtgate_upstream_duration_seconds", labels{"route": "api"}).GetHistogram()
	if h.GetSampleCount() != 7 {
		t.Errorf("api upstream count = %d, want 7", h.GetSampleCount())
	}
	if sum, want := h.GetSampleSum(), 5*0.003+2+20; sum < want-1e-9 || sum > want+1e-9 {
		t.Errorf("api upstream sum = %v, want %v", sum, want)
	}
	cum := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	for bound, want := range map[float64]uint64{0.001: 0, 0.005: 5, 1: 5, 2.5: 6, 10: 6} {
		if cum[bound] != want {
			t.Errorf("api bucket le=%v = %d, want %d", bound, cum[bound], want)
		}
	}
	if len(h.GetBucket()) != len(upstreamBuckets)+1 { // and +Inf
		t.Errorf("%d buckets, want %d and +Inf", len(h.GetBucket()), len(upstreamBuckets))
	}
	for _, r := range []string{"web", "admin"} {
		if find(fams, "jwtgate_upstream_duration_seconds", labels{"route": r}) == nil {
			t.Errorf("no upstream histogram for route %q", r)
		}
	}
	if got := find(fams, "jwtgate_upstream_duration_seconds", labels{"route": "admin"}).GetHistogram().GetSampleCount(); got != 1 {
		t.Errorf("admin upstream count = %d, want 1", got)
	}
	if find(fams, "jwtgate_upstream_duration_seconds", labels{"route": ""}) != nil {
		t.Error("upstream histogram exported for NoRoute")
	}

	an := func(p, o, r string) labels { return labels{"provider": p, "outcome": o, "reason": r} }
	expect(t, fams, "jwtgate_authn_total", an("idp", "verified", "none"), 3)
	expect(t, fams, "jwtgate_authn_total", an("idp", "missing", "jwt_missing"), 1)
	expect(t, fams, "jwtgate_authn_total", an("idp", "invalid", "jwt_expired"), 2)
	expect(t, fams, "jwtgate_authn_total", an("idp", "invalid", "other"), 1)
	expect(t, fams, "jwtgate_authn_total", an("idp", "other", "jwt_verification_fails"), 1)
	expect(t, fams, "jwtgate_authn_total", an("legacy", "invalid", "jwks_fetch_failed"), 1)
	if n := series(fams, "jwtgate_authn_total"); n != 6 {
		t.Errorf("jwtgate_authn_total: %d series, want 6", n)
	}

	az := func(p, a, d string) labels { return labels{"policy": p, "action": a, "decision": d} }
	expect(t, fams, "jwtgate_authz_decisions_total", az("admins-only", "ALLOW", "allow"), 3)
	expect(t, fams, "jwtgate_authz_decisions_total", az("block-bots", "DENY", "deny"), 2)
	expect(t, fams, "jwtgate_authz_decisions_total", az("", "", "deny"), 1)
	expect(t, fams, "jwtgate_authz_decisions_total", az("", "", "allow"), 2)
	if n := series(fams, "jwtgate_authz_decisions_total"); n != 4 {
		t.Errorf("jwtgate_authz_decisions_total: %d series, want 4", n)
	}

	expect(t, fams, "jwtgate_config_reloads_total", labels{"result": "success"}, 1)
	expect(t, fams, "jwtgate_config_reloads_total", labels{"result": "failure"}, 2)
	expect(t, fams, "jwtgate_config_last_reload_success_timestamp_seconds", labels{}, 1700000000.5)
	expect(t, fams, "jwtgate_config_last_reload_successful", labels{}, 0)

	// The standard collectors are there too.
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if fams[name] == nil {
			t.Errorf("%s not exported", name)
		}
	}
}

func TestFreshRegistry(t *testing.T) {
	fams := scrape(t, New())
	// Series that exist before anything is recorded.
	expect(t, fams, "jwtgate_config_reloads_total", labels{"result": "success"}, 0)
	expect(t, fams, "jwtgate_config_reloads_total", labels{"result": "failure"}, 0)
	for _, name := range []string{"jwtgate_requests_total", "jwtgate_authn_total", "jwtgate_keyset_fetches_total"} {
		if n := series(fams, name); n != 0 {
			t.Errorf("%s: %d series before any request", name, n)
		}
	}
	// Two Metrics share nothing.
	a, b := New(), New()
	a.Route("l", "r").Observe(200, NoUpstream)
	if n := series(scrape(t, b), "jwtgate_requests_total"); n != 0 {
		t.Errorf("second Metrics sees %d request series of the first", n)
	}
}

func TestProviderStats(t *testing.T) {
	m := New()
	now := time.Unix(1700000100, 0)
	m.providers.now = func() time.Time { return now }
	calls := 0
	m.SetProviders(func() []ProviderStats {
		calls++
		return []ProviderStats{
			{Name: "idp", KeySetFetches: 7, KeySetFailures: 2, KeysLoadedAt: now.Add(-90 * time.Second), CacheHits: 1000, CacheMisses: 40},
			{Name: "local"},                  // no keys yet: no age
			{Name: "idp", KeySetFetches: 99}, // duplicate: ignored
		}
	})
	fams := scrape(t, m)
	if calls != 1 {
		t.Errorf("source called %d times per scrape, want 1", calls)
	}
	ks := func(p, r string) labels { return labels{"provider": p, "result": r} }
	expect(t, fams, "jwtgate_keyset_fetches_total", ks("idp", "success"), 7)
	expect(t, fams, "jwtgate_keyset_fetches_total", ks("idp", "failure"), 2)
	expect(t, fams, "jwtgate_keyset_fetches_total", ks("local", "success"), 0)
	expect(t, fams, "jwtgate_keyset_fetches_total", ks("local", "failure"), 0)
	expect(t, fams, "jwtgate_token_cache_lookups_total", ks("idp", "hit"), 1000)
	expect(t, fams, "jwtgate_token_cache_lookups_total", ks("idp", "miss"), 40)
	expect(t, fams, "jwtgate_keyset_age_seconds", labels{"provider": "idp"}, 90)
	if find(fams, "jwtgate_keyset_age_seconds", labels{"provider": "local"}) != nil {
		t.Error("age exported for a provider without keys")
	}
	if n := series(fams, "jwtgate_keyset_fetches_total"); n != 4 {
		t.Errorf("jwtgate_keyset_fetches_total: %d series, want 4", n)
	}

	// A reload replaces the set of providers: what the source returns is
	// what is reported.
	m.SetProviders(func() []ProviderStats { return []ProviderStats{{Name: "next", CacheHits: 3}} })
	fams = scrape(t, m)
	if find(fams, "jwtgate_keyset_fetches_total", ks("idp", "success")) != nil {
		t.Error("a provider no longer returned is still reported")
	}
	expect(t, fams, "jwtgate_token_cache_lookups_total", ks("next", "hit"), 3)

	m.SetProviders(nil)
	if n := series(scrape(t, m), "jwtgate_keyset_fetches_total"); n != 0 {
		t.Errorf("%d series without a source", n)
	}
}

func TestCardinality(t *testing.T) {
	m := New()
	r := m.Route("l", "r")
	// 10,000 distinct status codes: 100-599 each once, the rest outside.
	for code := -5000; code < 5000; code++ {
		r.Observe(code, NoUpstream)
	}
	fams := scrape(t, m)
	if n := series(fams, "jwtgate_requests_total"); n > 501 {
		t.Fatalf("jwtgate_requests_total: %d series, more than 500 codes and other", n)
	}
	expect(t, fams, "jwtgate_requests_total", labels{"listener": "l", "route": "r", "code": "100"}, 1)
	expect(t, fams, "jwtgate_requests_total", labels{"listener": "l", "route": "r", "code": "599"}, 1)
	expect(t, fams, "jwtgate_requests_total", labels{"listener": "l", "route": "r", "code": "other"}, 10000-500)

	// Outcomes and reasons are fixed sets whatever is passed.
	p := m.Provider("p")
	for i := range 10000 {
		s := strconv.Itoa(i)
		p.Outcome(s, s)
		p.Outcome(OutcomeInvalid, "Bearer eyJ"+s)
	}
	fams = scrape(t, m)
	if n := series(fams, "jwtgate_authn_total"); n != 2 {
		t.Errorf("jwtgate_authn_total: %d series, want 2 (other/other, invalid/other)", n)
	}
	for _, mt := range fams["jwtgate_authn_total"].GetMetric() {
		for _, l := range mt.GetLabel() {
			if strings.Contains(l.GetValue(), "eyJ") {
				t.Errorf("label %s=%q holds request data", l.GetName(), l.GetValue())
			}
		}
	}

	// Unknown policy actions are folded too.
	m.Policy("x", "maybe").Allow()
	m.Policy("x", "allow").Allow() // any case
	fams = scrape(t, m)
	expect(t, fams, "jwtgate_authz_decisions_total", labels{"policy": "x", "action": "other", "decision": "allow"}, 1)
	expect(t, fams, "jwtgate_authz_decisions_total", labels{"policy": "x", "action": "ALLOW", "decision": "allow"}, 1)

	if got := len(Reasons()); got != len(reasons) {
		t.Errorf("Reasons() has %d codes, want %d", got, len(reasons))
	}
	seen := map[string]bool{}
	for _, r := range Reasons() {
		if seen[r] {
			t.Errorf("reason %q listed twice", r)
		}
		seen[r] = true
		if r != strings.ToLower(r) || strings.ContainsAny(r, " -.") {
			t.Errorf("reason %q is not snake_case", r)
		}
	}
}

func TestHandlesAreShared(t *testing.T) {
	m := New()
	if m.Route("l", "r") != m.Route("l", "r") {
		t.Error("Route returns a new handle for the same pair")
	}
	if m.Route("l", "r") == m.Route("l2", "r") {
		t.Error("Route shares a handle between listeners")
	}
	if m.Listener("l") != m.Listener("l") {
		t.Error("Listener returns a new handle for the same name")
	}
	if m.Provider("p") != m.Provider("p") {
		t.Error("Provider returns a new handle for the same name")
	}
	if m.Policy("p", "ALLOW") != m.Policy("p", "allow") {
		t.Error("Policy returns a new handle for the same pair")
	}
	// A reload that keeps a route keeps counting on the same series.
	m.Route("l", "r").Observe(200, NoUpstream)
	m.Route("l", "r").Observe(200, NoUpstream)
	expect(t, scrape(t, m), "jwtgate_requests_total", labels{"listener": "l", "route": "r", "code": "200"}, 2)
}

func TestNil(t *testing.T) {
	var m *Metrics
	m.Route("l", "r").Observe(200, time.Millisecond)
	m.Listener("l").InFlight()()
	m.Provider("p").Outcome(OutcomeVerified, ReasonNone)
	pol := m.Policy("p", ActionAllow)
	pol.Allow()
	pol.Deny()
	pol.Decide(true)
	m.ReloadSucceeded(time.Now())
	m.ReloadFailed()
	m.SetProviders(func() []ProviderStats { return nil })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Metrics handler: %d, want 404", rec.Code)
	}
}

func TestConcurrent(t *testing.T) {
	m := New()
	r := m.Route("l", "r")
	p := m.Provider("p")
	pol := m.Policy("p", ActionDeny)
	l := m.Listener("l")
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range each {
				done := l.InFlight()
				r.Observe(200+i%3, time.Duration(i)*time.Microsecond)
				p.Outcome(OutcomeInvalid, ReasonJWTExpired)
				pol.Deny()
				done()
			}
		})
	}
	wg.Wait()
	fams := scrape(t, m)
	total := 0.0
	for _, mt := range fams["jwtgate_requests_total"].GetMetric() {
		total += mt.GetCounter().GetValue()
	}
	if total != workers*each {
		t.Errorf("requests = %v, want %d", total, workers*each)
	}
	expect(t, fams, "jwtgate_authn_total", labels{"provider": "p", "outcome": "invalid", "reason": "jwt_expired"}, workers*each)
	expect(t, fams, "jwtgate_authz_decisions_total", labels{"policy": "p", "action": "DENY", "decision": "deny"}, workers*each)
	expect(t, fams, "jwtgate_requests_in_flight", labels{"listener": "l"}, 0)
}

// TestConventions checks the exported jwtgate metrics against the naming
// conventions, and that docs/operations.md lists every one of them.
func TestConventions(t *testing.T) {
	m := New()
	m.Route("l", "r").Observe(200, time.Millisecond)
	m.Listener("l")
	m.Provider("p").Outcome(OutcomeVerified, ReasonNone)
	m.Policy("p", ActionAllow).Allow()
	m.SetProviders(func() []ProviderStats {
		return []ProviderStats{{Name: "p", KeysLoadedAt: time.Now()}}
	})
	fams := scrape(t, m)
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name, f := range fams {
		if !strings.HasPrefix(name, "jwtgate_") {
			continue
		}
		names = append(names, name)
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
		isCounter := f.GetType() == dto.MetricType_COUNTER
		if isCounter != strings.HasSuffix(name, "_total") {
			t.Errorf("%s: type %v, and _total is for counters only", name, f.GetType())
		}
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("%s is not listed in docs/operations.md", name)
		}
	}
	for _, r := range Reasons() {
		if !strings.Contains(string(doc), "| `"+r+"` |") {
			t.Errorf("reason %q is not listed in docs/operations.md", r)
		}
	}
	sort.Strings(names)
	if len(names) != 11 {
		t.Errorf("exported %d jwtgate metrics, want 11: %v", len(names), names)
	}
}
