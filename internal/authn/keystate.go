package authn

import (
	"time"
)

// KeyInfo describes one verification key of a key set by its public
// attributes only: never its material.
type KeyInfo struct {
	// Kid is the key's id, empty for a key without one (PEM keys).
	Kid string
	// Alg is the JWK's alg, empty when the key does not restrict it.
	Alg string
	// Type is the key family (JWK kty): RSA, EC, OKP or oct.
	Type string
	// Curve is the EC curve (P-256, P-384, P-521), empty for others.
	Curve string
}

// KeySetState is what a provider's key set looks like right now, for the
// admin console: where it comes from, its keys, and how its fetches went.
// It holds no key material and no token.
type KeySetState struct {
	// Remote is true for a key set fetched from a JWKS URI or through
	// OIDC discovery, false for a local one (inline, file).
	Remote bool
	// URI is the configured JWKS URI; Issuer is the issuer discovery
	// starts from when URI is empty. Both are empty for local key sets.
	URI    string
	Issuer string
	// Keys are the keys in use, in key set order; nil while there are
	// none (a remote set not fetched yet).
	Keys []KeyInfo
	// LoadedAt is when the key set in use was fetched (remote) or read
	// (local); zero while there is none.
	LoadedAt time.Time
	// LastFetch is when the last fetch of a remote key set ended,
	// successfully or not; zero before the first.
	LastFetch time.Time
	// LastError is the last fetch's error, empty when it succeeded or
	// none ended yet; LastErrorAt is when the most recent failed fetch
	// ended (it stays set after a later success).
	LastError   string
	LastErrorAt time.Time
	// Fetches and Failures count successful and failed fetches.
	Fetches  uint64
	Failures uint64
	// SharedWith names the other providers that hold the same remote key
	// set (see KeySets), in the order they came; the fetch fields above
	// are then the shared key set's. Empty when the key set is the
	// provider's alone.
	SharedWith []string
}

// fetchOutcome is how the most recent remote fetch ended; it is
// replaced, never modified, so that it is read without a lock.
type fetchOutcome struct {
	at  time.Time
	err string
	// lastErrAt is when the most recent failed fetch ended (this one's
	// at when it failed), zero if none has failed.
	lastErrAt time.Time
}

// noteFetch records how a fetch ended, for KeySetState. It is safe
// when fetches end concurrently: the last to store wins, and the time of
// the most recent failure is carried over.
func (c *counters) noteFetch(err error, at time.Time) {
	o := &fetchOutcome{at: at}
	if err != nil {
		o.err = err.Error()
		o.lastErrAt = at
	}
	for {
		prev := c.last.Load()
		if prev != nil && err == nil {
			o.lastErrAt = prev.lastErrAt
		}
		if c.last.CompareAndSwap(prev, o) {
			return
		}
	}
}

// KeySetState describes the provider's key set. Like Stats it takes no
// lock on the request path and may be called at any rate.
func (p *Provider) KeySetState() KeySetState {
	st := p.Stats()
	s := KeySetState{LoadedAt: st.KeysLoadedAt, Fetches: st.KeySetFetches, Failures: st.KeySetFailures}
	if r := p.remote; r != nil {
		s.Remote, s.URI, s.Issuer = true, r.uri, p.issuer
		if o := r.stats.last.Load(); o != nil {
			s.LastFetch, s.LastError, s.LastErrorAt = o.at, o.err, o.lastErrAt
		}
		for _, n := range r.names() {
			if n != p.name {
				s.SharedWith = append(s.SharedWith, n)
			}
		}
	}
	if ks := p.keys.Load(); ks != nil {
		s.Keys = make([]KeyInfo, len(ks.keys))
		for i, k := range ks.keys {
			s.Keys[i] = KeyInfo{Kid: k.kid, Alg: k.alg, Type: k.kty, Curve: k.crv}
		}
	}
	return s
}
