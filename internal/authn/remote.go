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
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// maxRemoteBody bounds a fetched JWKS or discovery document.
const maxRemoteBody = 1 << 20

// Backoff between failed background fetches.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// remote keeps a provider's key set fetched from a JWKS URI, or from the
// jwks_uri of the issuer's OIDC discovery document.
//
// Fetches are single-flight: at most one is in progress, and every caller
// that needs keys joins it. Fetches on demand (a token whose kid is in no
// key, or keys needed before the first success) happen at most once per
// refetch interval; background refreshes happen every cache duration, and
// after a failure with a capped exponential backoff. A failed fetch never
// replaces keys that were fetched before.
type remote struct {
	// uri is the configured JWKS URI; empty means discovery from issuer.
	uri    string
	issuer string
	client *http.Client

	timeout         time.Duration
	cacheDuration   time.Duration
	refetchInterval time.Duration
	cacheSize       int
	keys            *atomic.Pointer[keySet]
	stats           *counters // the provider's

	// fetched is the provider's Fetched channel, closed once by
	// markFetched.
	fetched     chan struct{}
	fetchedOnce sync.Once

	// ctx bounds every fetch; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	started atomic.Bool
	done    chan struct{} // closed when the background loop exits

	mu           sync.Mutex
	call         *fetchCall // the fetch in progress, if any
	lastOnDemand time.Time  // when the last on-demand fetch started
	jwksURI      string     // discovered jwks_uri, once known
	fetches      int        // fetch attempts, for tests

	log      *slog.Logger // nil: no logging
	provider string
}

// fetchCall is one fetch in progress; done is closed when it ends.
type fetchCall struct {
	done chan struct{}
	err  error
	// first: this is (or Start joined) the first fetch after Start, whose
	// end closes the Fetched channel whatever its outcome. Guarded by
	// remote.mu.
	first bool
}

func newHTTPClient(ks keySourceTimeouts) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if ks.caFile != "" {
		pemData, err := os.ReadFile(ks.caFile)
		if err != nil {
			return nil, fmt.Errorf("reading jwks ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("reading jwks ca file %s: no certificate found", ks.caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: ks.timeout, CheckRedirect: noRedirects}, nil
}

// noRedirects makes a client return a redirect as it is, so that a 3xx
// answer is a failed fetch (as Envoy's JWKS fetcher, which follows no
// redirect, sees it): keys come from the configured host only, and never
// over a redirect from https down to http.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// keySourceTimeouts are the settings of a remote key source, defaults
// applied.
type keySourceTimeouts struct {
	timeout, cacheDuration, refetchInterval time.Duration
	caFile                                  string
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

// close stops background work and waits for the loop and for the fetch
// in progress, if any, to end (cancelled, it ends promptly).
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
	r.markFetched()
}

// markFetched closes the Fetched channel, once.
func (r *remote) markFetched() {
	r.fetchedOnce.Do(func() { close(r.fetched) })
}

// loop fetches now, then every cache duration; after a failure it retries
// with a capped exponential backoff.
func (r *remote) loop(ctx context.Context, c *fetchCall) {
	defer close(r.done)
	backoff := minBackoff
	limit := max(min(maxBackoff, r.cacheDuration), minBackoff)
	for {
		if c == nil {
			c = r.begin(false, nil, false)
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return
		case <-r.ctx.Done():
			return
		}
		wait := r.cacheDuration
		failed := c.err != nil
		c = nil
		if failed {
			wait = backoff
			backoff = min(backoff*2, limit)
		} else {
			backoff = minBackoff
		}
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

// begin joins the fetch in progress or starts one. An on-demand fetch is
// not started when one started less than the refetch interval ago; begin
// then returns nil. first marks the fetch (joined or started) as the first
// after Start.
func (r *remote) begin(onDemand bool, have *keySet, first bool) *fetchCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.call != nil {
		if first {
			r.call.first = true
		}
		return r.call
	}
	if onDemand {
		// A fetch stores its keys before it clears r.call under r.mu, so a
		// fetch that ended after the caller looked is seen here.
		if r.keys.Load() != have {
			return nil
		}
		now := time.Now()
		if !r.lastOnDemand.IsZero() && now.Sub(r.lastOnDemand) < r.refetchInterval {
			return nil
		}
		r.lastOnDemand = now
	}
	c := &fetchCall{done: make(chan struct{}), first: first}
	r.call = c
	r.fetches++
	go func() {
		err := r.fetch()
		r.stats.fetchDone(err, time.Now())
		if r.log != nil {
			if err != nil {
				r.log.Warn("jwks fetch failed", "provider", r.provider, "err", err)
			} else {
				r.log.Debug("jwks fetched", "provider", r.provider)
			}
		}
		r.mu.Lock()
		r.call = nil
		first := c.first
		r.mu.Unlock()
		c.err = err
		if err == nil || first {
			r.markFetched()
		}
		close(c.done)
	}()
	return c
}

// demand fetches on behalf of a token (keys never fetched yet, or a kid
// in no key) and waits for the result up to the fetch timeout. have is
// the key set the token was checked against (nil if none): when another
// fetch has replaced it meanwhile, that fetch counts and none is started.
// It returns the key set current afterwards, nil if there is none.
func (r *remote) demand(ctx context.Context, have *keySet) *keySet {
	if c := r.begin(true, have, false); c != nil {
		t := time.NewTimer(r.timeout)
		select {
		case <-c.done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	return r.keys.Load()
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
	r.keys.Store(newKeySet(keys, r.cacheSize, body))
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
