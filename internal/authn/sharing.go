package authn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"
)

// KeySets lets the providers built with it (Options.KeySets) share remote
// key sets: providers whose keys come from the same source, fetched the
// same way, hold one key set between them, with one fetch in flight, one
// refresh schedule, one memory of unknown kids and one copy of the keys.
// Each provider still applies its own checks (issuer, audiences,
// algorithms, times), keeps its own verified-token cache and its own
// unknownKidWait, and answers as if the key set were its own.
//
// Two providers share a key set when all of these are equal: the JWKS
// URI (or, with no URI, the issuer's discovery document URL), the fetch
// timeout, the cacheDuration, the refetchInterval, the contents of the CA
// file (none: the system roots) and Options.HTTPClient. Providers that
// differ in any of them each have their own: no provider's settings are
// changed by another's.
//
// A key set lives as long as one provider holds it: Provider.Close lets
// go of it, and the last to let go stops its fetches. A KeySets holds no
// goroutine and needs no closing; the zero value is not usable, use
// NewKeySets. It is safe for concurrent use.
type KeySets struct {
	mu   sync.Mutex
	sets map[keySetKey]*remote
}

// NewKeySets returns an empty registry of shared key sets.
func NewKeySets() *KeySets {
	return &KeySets{sets: map[keySetKey]*remote{}}
}

// Len is the number of key sets held right now.
func (s *KeySets) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sets)
}

// keySetKey is what two providers must have in common to share a remote
// key set.
type keySetKey struct {
	// uri is the configured JWKS URI; discovery, when uri is empty, the
	// URL of the issuer's discovery document.
	uri, discovery                          string
	timeout, cacheDuration, refetchInterval time.Duration
	// ca is the SHA-256 (hex) of the CA file's contents, empty for the
	// system roots or when client is set.
	ca string
	// client is Options.HTTPClient, nil when the key set builds its own.
	client *http.Client
}

// remoteSource is everything a remote key set is built from.
type remoteSource struct {
	key    keySetKey
	issuer string
	caPEM  []byte // the CA file's contents, nil for the system roots
	log    *slog.Logger
}

// newRemoteSource reads the CA file (unless client is set, which is then
// used as it is) and returns the source of a remote key set.
func newRemoteSource(uri, issuer string, t keySourceTimeouts, client *http.Client, log *slog.Logger) (remoteSource, error) {
	src := remoteSource{issuer: issuer, log: log, key: keySetKey{
		uri: uri, timeout: t.timeout, cacheDuration: t.cacheDuration, refetchInterval: t.refetchInterval, client: client,
	}}
	if uri == "" {
		src.key.discovery = discoveryURL(issuer)
	}
	if client == nil && t.caFile != "" {
		pemData, err := os.ReadFile(t.caFile)
		if err != nil {
			return remoteSource{}, fmt.Errorf("reading jwks ca file: %w", err)
		}
		sum := sha256.Sum256(pemData)
		src.caPEM, src.key.ca = pemData, hex.EncodeToString(sum[:])
	}
	return src, nil
}

// newRemote builds the key set src describes, with no provider holding
// it yet.
func newRemote(src remoteSource, caFile string) (*remote, error) {
	var client *http.Client
	if src.key.client != nil {
		c := *src.key.client
		c.CheckRedirect = noRedirects
		client = &c
	} else {
		var err error
		if client, err = newHTTPClient(src.caPEM, caFile, src.key.timeout); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &remote{
		uri:             src.key.uri,
		issuer:          src.issuer,
		client:          client,
		ownClient:       src.key.client == nil,
		timeout:         src.key.timeout,
		cacheDuration:   src.key.cacheDuration,
		refetchInterval: src.key.refetchInterval,
		ctx:             ctx,
		cancel:          cancel,
		done:            make(chan struct{}),
		log:             src.log,
	}, nil
}

// use returns a hold on the key set src describes for the provider named
// name: the one already in s when there is one, else a new one (put in s
// when s is not nil; a nil s gives the provider a key set of its own).
func (s *KeySets) use(src remoteSource, caFile, name string, unknownKidWait time.Duration) (*keySetUse, error) {
	ctx, cancel := context.WithCancel(context.Background())
	u := &keySetUse{provider: name, unknownKidWait: unknownKidWait, fetched: make(chan struct{}), ctx: ctx, cancel: cancel, reg: s}
	if s == nil {
		r, err := newRemote(src, caFile)
		if err != nil {
			cancel()
			return nil, err
		}
		u.r = r
		r.attach(u)
		return u, nil
	}
	u.key = src.key
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.sets[src.key]
	if r == nil {
		var err error
		if r, err = newRemote(src, caFile); err != nil {
			cancel()
			return nil, err
		}
		s.sets[src.key] = r
	}
	u.r = r
	r.attach(u)
	return u, nil
}

// release lets go of u's key set; the last hold closes it.
func (s *KeySets) release(u *keySetUse) {
	if s == nil {
		if u.r.detach(u) == 0 {
			u.r.close()
		}
		return
	}
	s.mu.Lock()
	last := u.r.detach(u) == 0
	if last && s.sets[u.key] == u.r {
		delete(s.sets, u.key)
	}
	s.mu.Unlock()
	if last {
		u.r.close()
	}
}

// keySetUse is one provider's hold on a remote key set, shared or not:
// what is the provider's own (its name, its unknown-kid wait, its
// Fetched channel, its closing) around what is shared.
type keySetUse struct {
	r              *remote
	reg            *KeySets // nil: r is the provider's alone
	key            keySetKey
	provider       string
	unknownKidWait time.Duration

	// fetched is the provider's Fetched channel, closed once by
	// markFetched.
	fetched     chan struct{}
	fetchedOnce sync.Once

	// ctx is cancelled when the provider is closed: its tokens stop
	// waiting and start no fetch, whoever else holds the key set.
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
}

// markFetched closes the Fetched channel, once.
func (u *keySetUse) markFetched() {
	u.fetchedOnce.Do(func() { close(u.fetched) })
}

// close lets go of the key set: tokens of this provider waiting for a
// fetch are let go at once, and the last provider to let go stops the
// key set's fetches. It is idempotent.
func (u *keySetUse) close() {
	u.closeOnce.Do(func() {
		u.cancel()
		u.markFetched()
		u.reg.release(u)
	})
}

// demand fetches on behalf of a token that found no keys (none fetched
// yet) and waits for the result up to the fetch timeout. have is the key
// set the token was checked against (nil): when a fetch has brought one
// meanwhile, that fetch counts and none is started. It returns the key
// set current afterwards, nil if there is none.
func (u *keySetUse) demand(ctx context.Context, have *keySet) *keySet {
	r := u.r
	if u.ctx.Err() == nil {
		if c := r.begin(true, have, false); c != nil {
			u.wait(ctx, c, r.timeout)
		}
	}
	return r.keys.Load()
}

// unknownKid is demand for a token whose kid is in no key of have, the
// key set it was checked against. A kid that a fetch did not find a moment
// ago (see unknownKids) is answered at once; otherwise the token joins the
// fetch in progress, or starts one if none started in the last
// gapOnDemand, and waits for it at most the provider's unknownKidWait. It
// returns the key set current afterwards.
func (u *keySetUse) unknownKid(ctx context.Context, have *keySet, kid string) *keySet {
	r := u.r
	if u.ctx.Err() != nil {
		return r.keys.Load()
	}
	now := time.Now()
	r.mu.Lock()
	h := r.unknown.hash(kid)
	if r.unknown.has(h, now) {
		r.mu.Unlock()
		return r.keys.Load()
	}
	c := r.beginLocked(true, have, false)
	if c != nil {
		if c.kids == nil {
			c.kids = make(map[uint64]struct{})
		}
		if len(c.kids) < maxUnknownKids {
			c.kids[h] = struct{}{}
		}
	}
	r.mu.Unlock()
	if c != nil {
		u.wait(ctx, c, u.unknownKidWait)
	}
	return r.keys.Load()
}

// wait waits for c to end, at most d, and no longer than the request
// (ctx), the provider (Close) or the key set lasts.
func (u *keySetUse) wait(ctx context.Context, c *fetchCall, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	case <-ctx.Done():
	case <-u.ctx.Done():
	case <-u.r.ctx.Done():
	}
}
