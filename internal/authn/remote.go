package authn

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// maxRemoteBody bounds a fetched JWKS or discovery document.
const maxRemoteBody = 1 << 20

// Backoff between failed background fetches.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// remote is a key set fetched from a JWKS URI, or from the jwks_uri of
// the issuer's OIDC discovery document. It is held by one provider, or
// shared by several through KeySets (each holding it with a keySetUse);
// it knows nothing of their checks.
//
// Fetches are single-flight: at most one is in progress, and every caller
// that needs keys joins it, whichever provider it comes through. Fetches
// on demand (a token whose kid is in no key, or keys needed before the
// first success) start at most once per on-demand gap (a second; see
// gapOnDemand), whatever the kids and the providers. A kid that a
// successful fetch did not find is remembered as unknown for the refetch
// interval (bounded, see unknownKids): tokens carrying it are answered at
// once. A token with an unknown kid waits for the fetch at most its
// provider's unknownKidWait; a token that finds no keys at all, at most
// the fetch timeout. Background refreshes come a little before each cache
// duration is up, at a random point so that replicas do not fetch in
// step, and after a failure with a capped, jittered exponential backoff.
// A failed fetch never replaces keys that were fetched before. close
// cancels the fetch in flight and lets every waiting token go.
type remote struct {
	// uri is the configured JWKS URI; empty means discovery from issuer.
	uri    string
	issuer string
	client *http.Client
	// ownClient: client was built for this key set alone, so close closes
	// its idle connections (and dials the transport finishes in the
	// background for requests given up on).
	ownClient bool

	timeout         time.Duration
	cacheDuration   time.Duration
	refetchInterval time.Duration
	// gap, when not zero, replaces gapOnDemand's value (tests). Read
	// under mu.
	gap   time.Duration
	keys  atomic.Pointer[keySet]
	stats counters // fetches only; cache lookups are the providers'

	// ctx bounds every fetch; close cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	started atomic.Bool
	done    chan struct{} // closed when the background loop exits

	mu           sync.Mutex
	call         *fetchCall  // the fetch in progress, if any
	lastOnDemand time.Time   // when the last on-demand fetch started
	jwksURI      string      // discovered jwks_uri, once known
	fetches      int         // fetch attempts, for tests
	unknown      unknownKids // kids that fetches did not find
	// uses are the providers' holds on the key set, in the order they
	// came; fetchedDone: markFetched ran, so a provider that comes later
	// finds its Fetched channel closed at once.
	uses        []*keySetUse
	fetchedDone bool
	// holders is a copy of uses, replaced whenever uses changes, read
	// without the lock (logs, KeySetState).
	holders atomic.Pointer[[]*keySetUse]

	log *slog.Logger // nil: no logging
}

// fetchCall is one fetch in progress; done is closed when it ends.
type fetchCall struct {
	done chan struct{}
	err  error
	// first: this is (or Start joined) the first fetch after Start, whose
	// end closes the Fetched channels whatever its outcome. Guarded by
	// remote.mu.
	first bool
	// before is the key set in use when the fetch started.
	before *keySet
	// kids are the hashes (see unknownKids) of the unknown kids of the
	// tokens that joined the fetch, at most maxUnknownKids. Guarded by
	// remote.mu.
	kids map[uint64]struct{}
}

// newHTTPClient builds the client of a remote key set: the CA bundle
// caPEM (read from caFile) as the only roots when set, the system roots
// otherwise.
func newHTTPClient(caPEM []byte, caFile string, timeout time.Duration) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("reading jwks ca file %s: no certificate found", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: noRedirects}, nil
}

// noRedirects makes a client return a redirect as it is, so that a 3xx
// answer is a failed fetch (as Envoy's JWKS fetcher, which follows no
// redirect, sees it): keys come from the configured host only, and never
// over a redirect from https down to http.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// keySourceTimeouts are the settings of a remote key source, defaults
// applied.
type keySourceTimeouts struct {
	timeout, cacheDuration, refetchInterval, unknownKidWait time.Duration
	caFile                                                  string
}

// attach adds u to the holders of the key set; a provider that comes
// after the first fetch ended finds its Fetched channel closed.
func (r *remote) attach(u *keySetUse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.uses = append(r.uses, u)
	r.publishHolders()
	if r.fetchedDone {
		u.markFetched()
	}
}

// detach removes u from the holders and returns how many are left.
func (r *remote) detach(u *keySetUse) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.uses, u); i >= 0 {
		r.uses = slices.Delete(r.uses, i, i+1)
		r.publishHolders()
	}
	return len(r.uses)
}

// publishHolders replaces holders with a copy of uses. r.mu is held.
func (r *remote) publishHolders() {
	h := slices.Clone(r.uses)
	r.holders.Store(&h)
}

// names are the names of the providers holding the key set, each once,
// in the order they came.
func (r *remote) names() []string {
	var out []string
	if h := r.holders.Load(); h != nil {
		for _, u := range *h {
			if !slices.Contains(out, u.provider) {
				out = append(out, u.provider)
			}
		}
	}
	return out
}

// start begins the background loop once.
func (r *remote) start(ctx context.Context) {
	if !r.started.CompareAndSwap(false, true) {
		return
	}
	// The first fetch begins now, so that a token arriving before the
	// loop runs joins it rather than starting an on-demand fetch.
	first := r.begin(false, nil, true)
	go r.loop(ctx, first)
}

// close stops background work, cancels the fetch in progress and waits
// for it and the loop to end (cancelled, they end promptly); tokens
// waiting for the fetch are let go at once. It runs when the last
// provider holding the key set lets go of it. The idle connections of a
// client built for this key set are closed, together with any dial the
// transport was finishing in the background for a request given up on:
// left open, such a connection keeps the identity provider's server (in
// the demo, the same process) waiting seconds on Shutdown.
func (r *remote) close() {
	r.cancel()
	if r.started.Load() {
		<-r.done
	}
	r.mu.Lock()
	c := r.call
	r.mu.Unlock()
	if c != nil {
		<-c.done
	}
	if r.ownClient {
		r.client.CloseIdleConnections()
	}
	r.markFetched()
}

// markFetched closes the Fetched channel of every provider holding the
// key set, and of those that come later.
func (r *remote) markFetched() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fetchedDone = true
	for _, u := range r.uses {
		u.markFetched()
	}
}

// loop fetches now, then a little before each cache duration is up (see
// refreshAfter); after a failure it retries with a capped exponential
// backoff (see backoffAfter).
func (r *remote) loop(ctx context.Context, c *fetchCall) {
	defer close(r.done)
	backoff := minBackoff
	limit := max(min(maxBackoff, r.cacheDuration), minBackoff)
	for {
		if c == nil {
			if c = r.begin(false, nil, false); c == nil {
				return // closed
			}
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return
		case <-r.ctx.Done():
			return
		}
		var wait time.Duration
		if c.err != nil {
			wait = backoffAfter(backoff)
			backoff = min(backoff*2, limit)
		} else {
			wait = refreshAfter(r.cacheDuration)
			backoff = minBackoff
		}
		c = nil
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.ctx.Done():
			t.Stop()
			return
		}
	}
}

// gapOnDemand is the least time between the starts of two on-demand
// fetches: model.MinJWKSRefetchInterval (a second), or the refetch
// interval when that is shorter (only tests build one so).
func (r *remote) gapOnDemand() time.Duration {
	if r.gap > 0 {
		return r.gap
	}
	return min(r.refetchInterval, model.MinJWKSRefetchInterval)
}

// begin joins the fetch in progress or starts one. It returns nil, and
// starts nothing, once the key set is closed, and for an on-demand fetch
// when one started less than gapOnDemand ago or when have (the key set
// the caller looked at) is no longer the one in use. first marks the
// fetch (joined or started) as the first after Start.
func (r *remote) begin(onDemand bool, have *keySet, first bool) *fetchCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.beginLocked(onDemand, have, first)
}

// beginLocked is begin with r.mu held.
func (r *remote) beginLocked(onDemand bool, have *keySet, first bool) *fetchCall {
	if r.call != nil {
		if first {
			r.call.first = true
		}
		return r.call
	}
	if r.ctx.Err() != nil {
		return nil
	}
	if onDemand {
		// A fetch stores its keys before it clears r.call under r.mu, so a
		// fetch that ended after the caller looked is seen here.
		if r.keys.Load() != have {
			return nil
		}
		now := time.Now()
		if !r.lastOnDemand.IsZero() && now.Sub(r.lastOnDemand) < r.gapOnDemand() {
			return nil
		}
		r.lastOnDemand = now
	}
	c := &fetchCall{done: make(chan struct{}), first: first, before: r.keys.Load()}
	r.call = c
	r.fetches++
	go r.run(c)
	return c
}

// run performs the fetch c, then records its outcome: the stats, the kids
// it did not find, and the end of the call.
func (r *remote) run(c *fetchCall) {
	err := r.fetch()
	now := time.Now()
	r.stats.fetchDone(err, now)
	if r.log != nil {
		if err != nil {
			r.log.Warn("jwks fetch failed", "provider", strings.Join(r.names(), ","), "err", err)
		} else {
			r.log.Debug("jwks fetched", "provider", strings.Join(r.names(), ","))
		}
	}
	r.mu.Lock()
	r.call = nil
	first := c.first
	if err == nil {
		r.rememberUnknown(c, now)
	}
	r.mu.Unlock()
	c.err = err
	if err == nil || first {
		r.markFetched()
	}
	close(c.done)
}

// rememberUnknown records, after the successful fetch c, the kids of the
// tokens that waited for it and are still in no key. A changed key set
// first forgets every kid remembered against the old one. r.mu is held.
func (r *remote) rememberUnknown(c *fetchCall, now time.Time) {
	cur := r.keys.Load()
	if cur != c.before {
		r.unknown.reset()
	}
	if len(c.kids) == 0 || cur == nil {
		return
	}
	known := make(map[uint64]bool, len(cur.kids))
	for kid := range cur.kids {
		known[r.unknown.hash(kid)] = true
	}
	until := now.Add(r.refetchInterval)
	for h := range c.kids {
		if !known[h] {
			r.unknown.add(h, until)
		}
	}
}

// refreshAfter is the wait before refreshing keys fetched for d: a random
// point between 85% and 95% of d, so that keys are refreshed before they
// are d old and replicas started together do not fetch in step.
func refreshAfter(d time.Duration) time.Duration {
	spread := d / 10
	if spread <= 0 {
		return d
	}
	return d - d/20 - rand.N(spread)
}

// backoffAfter is the wait before retrying after a failure, with backoff
// b: a random point between three quarters of b and b.
func backoffAfter(b time.Duration) time.Duration {
	spread := b / 4
	if spread <= 0 {
		return b
	}
	return b - rand.N(spread)
}

// fetchCount is the number of fetches started, for tests.
func (r *remote) fetchCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetches
}

// fetch gets the key set once and installs it when it parses to at least
// one usable key. An unchanged document keeps the current set (and its
// verified-token cache).
func (r *remote) fetch() error {
	uri := r.uri
	if uri == "" {
		r.mu.Lock()
		uri = r.jwksURI
		r.mu.Unlock()
		if uri == "" {
			var err error
			if uri, err = r.discover(); err != nil {
				return err
			}
			r.mu.Lock()
			r.jwksURI = uri
			r.mu.Unlock()
		}
	}
	body, err := r.get(uri)
	if err != nil {
		return fmt.Errorf("fetching jwks %s: %w", uri, err)
	}
	if cur := r.keys.Load(); cur != nil && bytes.Equal(cur.raw, body) {
		return nil
	}
	keys, err := parseJWKS(body, false)
	if err != nil {
		return fmt.Errorf("fetching jwks %s: %w", uri, err)
	}
	ks := newKeySet(keys, body)
	if cur := r.keys.Load(); cur != nil {
		ks.gen = cur.gen + 1
	}
	r.keys.Store(ks)
	return nil
}

// get fetches uri and returns its body: status 200 and at most
// maxRemoteBody bytes, within the fetch timeout.
func (r *remote) get(uri string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxRemoteBody {
		return nil, errors.New("body larger than 1 MiB")
	}
	return body, nil
}

// unknownLen is the number of kids remembered as unknown, for tests.
func (r *remote) unknownLen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unknown.len()
}
