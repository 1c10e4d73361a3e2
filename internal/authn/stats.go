package authn

import (
	"sync/atomic"
	"time"
)

// Stats are a provider's counters since it was built, for metrics. Every
// field is read from atomics: taking Stats never blocks a request. The
// key set fields of a provider whose remote key set is shared with others
// (see KeySets) are the shared key set's, the same for all of them and
// counted since the key set was built; the cache fields are always the
// provider's own.
type Stats struct {
	// KeySetFetches counts successful fetches of a remote key set (or
	// discovery document followed by its key set). A fetch that returns
	// the document already in use counts too.
	KeySetFetches uint64
	// KeySetFailures counts fetches that failed (network error, timeout,
	// status other than 200, a body that is not a usable key set, or a
	// fetch cut short by Close).
	KeySetFailures uint64
	// KeysLoadedAt is when the key set in use was fetched (remote: the
	// last successful fetch, which replaced or confirmed it) or read
	// (local: when the provider was built); zero while there is none.
	KeysLoadedAt time.Time
	// CacheHits and CacheMisses count verified-token cache lookups: a hit
	// skips parsing and the signature check (the time checks still run).
	// A provider whose cache is disabled, or that has no key set yet,
	// counts neither.
	CacheHits   uint64
	CacheMisses uint64
}

// counters hold a provider's Stats: a provider's own counters hold its
// cache lookups (and, for a local key set, when it was read); a remote
// key set's hold its fetches. They are updated on the request path (cache
// hits and misses) and by fetches, with atomics only: no lock, no
// allocation.
type counters struct {
	fetches  atomic.Uint64
	failures atomic.Uint64
	// loadedAt is the UnixNano time of KeysLoadedAt, 0 while none.
	loadedAt atomic.Int64
	hits     atomic.Uint64
	misses   atomic.Uint64
	// last is how the most recent remote fetch ended (keystate.go).
	last atomic.Pointer[fetchOutcome]
}

// loaded records that a key set was read or fetched at t.
func (c *counters) loaded(t time.Time) { c.loadedAt.Store(t.UnixNano()) }

// fetchDone counts one finished fetch.
func (c *counters) fetchDone(err error, at time.Time) {
	c.noteFetch(err, at)
	if err != nil {
		c.failures.Add(1)
		return
	}
	c.fetches.Add(1)
	c.loaded(at)
}

// Stats returns the provider's counters. It takes no lock, so it may be
// called at any rate (a metrics scrape) without slowing requests down.
// The fields are read one by one: a fetch finishing meanwhile may show in
// one field and not yet in another.
func (p *Provider) Stats() Stats {
	c := &p.stats
	s := Stats{CacheHits: c.hits.Load(), CacheMisses: c.misses.Load()}
	if p.remote != nil {
		c = &p.remote.stats
	}
	s.KeySetFetches, s.KeySetFailures = c.fetches.Load(), c.failures.Load()
	if ns := c.loadedAt.Load(); ns != 0 {
		s.KeysLoadedAt = time.Unix(0, ns)
	}
	return s
}
