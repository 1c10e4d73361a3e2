// Package metrics exposes the gateway's Prometheus metrics.
//
// A Metrics owns its own registry (no global state): New builds one with
// the Go runtime and process collectors and the gateway's own metrics, and
// Handler serves it in the Prometheus text format, for the admin listener.
//
// The request pipeline records through pre-resolved handles: Route,
// Listener, Provider and Policy are called once per compiled route,
// listener, provider and policy when a configuration is built, and the
// handles' methods (RouteMetrics.Observe, ListenerMetrics.InFlight,
// ProviderMetrics.Outcome, PolicyMetrics.Allow and Deny) then record a
// request without allocating. Label values only ever come from
// configuration names and from fixed sets (status codes 100-599, the
// outcome and reason codes of this package): nothing a request carries (its
// path, host, token, claims or client address) can create a series.
//
// A nil *Metrics is valid and records nothing; its handles are nil, and
// every method of a nil handle is a no-op. A pipeline built without metrics
// therefore needs no checks of its own.
package metrics

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NoRoute is the route label of requests that matched no route of their
// listener. Configuration names are never empty, so it cannot be confused
// with a route.
const NoRoute = ""

// NoUpstream, passed to RouteMetrics.Observe, says the gateway answered
// the request itself (a rejection, or no route) and no upstream response
// time is to be recorded.
const NoUpstream time.Duration = -1

// upstreamBuckets are the upper bounds, in seconds, of the upstream
// response time histogram: 0.5ms to 10s.
var upstreamBuckets = []float64{
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Metric names. Every metric of the gateway has the jwtgate_ prefix.
const (
	namespace = "jwtgate"

	nameRequests      = namespace + "_requests_total"
	nameInFlight      = namespace + "_requests_in_flight"
	nameUpstream      = namespace + "_upstream_duration_seconds"
	nameAuthn         = namespace + "_authn_total"
	nameAuthz         = namespace + "_authz_decisions_total"
	nameReloads       = namespace + "_config_reloads_total"
	nameLastReload    = namespace + "_config_last_reload_success_timestamp_seconds"
	nameLastReloadOK  = namespace + "_config_last_reload_successful"
	nameKeySetFetches = namespace + "_keyset_fetches_total"
	nameKeySetAge     = namespace + "_keyset_age_seconds"
	nameTokenCache    = namespace + "_token_cache_lookups_total"
)

// Metrics is the gateway's set of metrics and the registry that serves
// them. It is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec   // listener, route, code
	inFlight *prometheus.GaugeVec     // listener
	upstream *prometheus.HistogramVec // route
	authn    *prometheus.CounterVec   // provider, outcome, reason
	authz    *prometheus.CounterVec   // policy, action, decision

	reloadOK     prometheus.Counter
	reloadFailed prometheus.Counter
	lastReload   prometheus.Gauge
	lastReloadOK prometheus.Gauge

	providers *providerCollector

	// mu guards the handle caches: asking twice for the same labels
	// returns the same handle, so a reload that keeps a route keeps its
	// counters.
	mu        sync.Mutex
	routes    map[routeKey]*RouteMetrics
	listeners map[string]*ListenerMetrics
	provs     map[string]*ProviderMetrics
	policies  map[policyKey]*PolicyMetrics
}

type routeKey struct{ listener, route string }

type policyKey struct{ policy, action string }

// New returns a Metrics with its own registry, holding the Go runtime and
// process collectors and every gateway metric.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: nameRequests,
			Help: "Requests answered, by listener, route (empty when no route matched) and HTTP status code.",
		}, []string{"listener", "route", "code"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: nameInFlight,
			Help: "Requests being served, by listener.",
		}, []string{"listener"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    nameUpstream,
			Help:    "Time from sending a request upstream to receiving the response headers, by route.",
			Buckets: upstreamBuckets,
		}, []string{"route"}),
		authn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: nameAuthn,
			Help: "Authentication outcomes, by provider, outcome (verified, missing, invalid) and reason code.",
		}, []string{"provider", "outcome", "reason"}),
		authz: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: nameAuthz,
			Help: "Authorization decisions, by deciding policy, its action (ALLOW, DENY) and decision (allow, deny).",
		}, []string{"policy", "action", "decision"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: nameLastReload,
			Help: "Unix time of the last successful configuration load.",
		}),
		lastReloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: nameLastReloadOK,
			Help: "Whether the last configuration load succeeded (1) or failed (0).",
		}),
		providers: &providerCollector{now: time.Now},
		routes:    map[routeKey]*RouteMetrics{},
		listeners: map[string]*ListenerMetrics{},
		provs:     map[string]*ProviderMetrics{},
		policies:  map[policyKey]*PolicyMetrics{},
	}
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameReloads,
		Help: "Configuration loads, by result (success, failure).",
	}, []string{"result"})
	m.reloadOK = reloads.WithLabelValues("success")
	m.reloadFailed = reloads.WithLabelValues("failure")

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.inFlight, m.upstream, m.authn, m.authz,
		reloads, m.lastReload, m.lastReloadOK,
		m.providers,
	)
	return m
}

// Handler serves the registry in the Prometheus exposition format (the
// text format unless the scraper negotiates another). A collector that
// fails does not fail the scrape: the other metrics are served and
// promhttp_metric_handler_errors_total counts the failure.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	})
}

// ReloadSucceeded records a successful configuration load (the initial
// one included) that took effect at the given time.
func (m *Metrics) ReloadSucceeded(at time.Time) {
	if m == nil {
		return
	}
	m.reloadOK.Inc()
	m.lastReload.Set(float64(at.UnixNano()) / 1e9)
	m.lastReloadOK.Set(1)
}

// ReloadFailed records a configuration load that failed; the
// configuration in use, and the time of the last success, are unchanged.
func (m *Metrics) ReloadFailed() {
	if m == nil {
		return
	}
	m.reloadFailed.Inc()
	m.lastReloadOK.Set(0)
}

// labelValue makes s safe as a label value: Prometheus requires UTF-8,
// and configuration names are validated to be UTF-8 already, so this only
// guards against a caller that skipped validation.
func labelValue(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// counterRef boxes a counter so that it can be published with an
// atomic.Pointer.
type counterRef struct{ c prometheus.Counter }
