package authn

import "time"

// Stats are a provider's counters since it was built, for metrics. Every
// field is read from atomics: taking Stats never blocks a request.
type Stats struct {
	// KeySetFetches counts successful fetches of a remote key set (or
	// discovery document followed by its key set).
	KeySetFetches uint64
	// KeySetFailures counts fetches that failed.
	KeySetFailures uint64
	// KeysLoadedAt is when the key set in use was fetched (remote) or read
	// (local); zero while there is none.
	KeysLoadedAt time.Time
	// CacheHits and CacheMisses count verified-token cache lookups.
	CacheHits   uint64
	CacheMisses uint64
}

// Stats returns the provider's counters. (Filled in by the provider; the
// zero value until then.)
func (p *Provider) Stats() Stats { return Stats{} }
