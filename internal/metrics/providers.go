package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ProviderStats are one provider's counters as its authn.Provider reports
// them (Name and the fields of authn.Stats), read at scrape time.
type ProviderStats struct {
	// Name is the provider's configuration name.
	Name string
	// KeySetFetches counts successful key set fetches; KeySetFailures
	// counts failed ones. Providers that share one remote key set (same
	// URI and fetch settings, see authn.KeySets) each report the shared
	// key set's counts, so the same fetch shows under each of them.
	KeySetFetches  uint64
	KeySetFailures uint64
	// KeysLoadedAt is when the key set in use was fetched, or last
	// confirmed by a fetch that returned the same document, or read;
	// zero while there is none. The age metric is taken from it.
	KeysLoadedAt time.Time
	// CacheHits and CacheMisses count verified-token cache lookups.
	CacheHits   uint64
	CacheMisses uint64
}

// SetProviders sets the function a scrape calls for the providers of the
// configuration in use; nil reports none. source must be safe to call
// concurrently with requests and reloads, and cheap: it runs on every
// scrape. Its values are reported as they are: a provider rebuilt by a
// reload starts again from zero, which Prometheus treats as a counter
// reset. A name reported twice is reported once, with its first values.
func (m *Metrics) SetProviders(source func() []ProviderStats) {
	if m == nil {
		return
	}
	if source == nil {
		m.providers.source.Store(nil)
		return
	}
	m.providers.source.Store(&source)
}

var (
	descKeySetFetches = prometheus.NewDesc(nameKeySetFetches,
		"Key set fetches, by provider and result (success, failure).",
		[]string{"provider", "result"}, nil)
	descKeySetAge = prometheus.NewDesc(nameKeySetAge,
		"Age of the key set in use, by provider: seconds since it was last fetched or confirmed by a fetch (remote) or read (local); absent while a provider has none.",
		[]string{"provider"}, nil)
	descTokenCache = prometheus.NewDesc(nameTokenCache,
		"Verified-token cache lookups, by provider and result (hit, miss).",
		[]string{"provider", "result"}, nil)
)

// providerCollector reports the providers' stats as const metrics, taken
// from the source function at each scrape.
type providerCollector struct {
	source atomic.Pointer[func() []ProviderStats]
	now    func() time.Time
}

// Describe sends the descriptors of the provider metrics.
func (c *providerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descKeySetFetches
	ch <- descKeySetAge
	ch <- descTokenCache
}

// Collect calls the source and sends its providers' metrics.
func (c *providerCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.source.Load()
	if src == nil {
		return
	}
	stats := (*src)()
	if len(stats) == 0 {
		return
	}
	now := c.now()
	seen := make(map[string]bool, len(stats))
	for _, s := range stats {
		name := labelValue(s.Name)
		if seen[name] {
			continue
		}
		seen[name] = true
		ch <- prometheus.MustNewConstMetric(descKeySetFetches, prometheus.CounterValue, float64(s.KeySetFetches), name, "success")
		ch <- prometheus.MustNewConstMetric(descKeySetFetches, prometheus.CounterValue, float64(s.KeySetFailures), name, "failure")
		ch <- prometheus.MustNewConstMetric(descTokenCache, prometheus.CounterValue, float64(s.CacheHits), name, "hit")
		ch <- prometheus.MustNewConstMetric(descTokenCache, prometheus.CounterValue, float64(s.CacheMisses), name, "miss")
		if !s.KeysLoadedAt.IsZero() {
			age := max(now.Sub(s.KeysLoadedAt).Seconds(), 0)
			ch <- prometheus.MustNewConstMetric(descKeySetAge, prometheus.GaugeValue, age, name)
		}
	}
}
