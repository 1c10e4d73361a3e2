package authn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/waittest"
)

// statusJWKS serves a JWKS document with a status the test sets, and
// counts the answers by outcome: 200 with the document, or an error
// status.
type statusJWKS struct {
	*httptest.Server
	body     string
	status   atomic.Int32
	ok, fail atomic.Uint64
}

func newStatusJWKS(t *testing.T, body string, status int) *statusJWKS {
	s := &statusJWKS{body: body}
	s.status.Store(int32(status))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := int(s.status.Load())
		if st == http.StatusOK {
			s.ok.Add(1)
		} else {
			s.fail.Add(1)
		}
		w.WriteHeader(st)
		_, _ = w.Write([]byte(s.body))
	}))
	t.Cleanup(s.Close)
	return s
}

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestFetched: the readiness channel, for local key sets and for a remote
// one whose first fetch succeeds, fails with a status, or cannot connect.
func TestFetched(t *testing.T) {
	keys(t)
	doc := jwksOf(t, jwk(&rsaKey.PublicKey, "k1", ""))
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()

	cases := []struct {
		name string
		// ks returns the key source; remote ones get a test server.
		ks func(t *testing.T) model.KeySource
		// closedAtOnce: closed before Start.
		closedAtOnce bool
		ready        bool // Ready once Fetched is closed
		fetches      uint64
		failures     uint64
	}{
		{"inline", func(*testing.T) model.KeySource { return model.KeySource{Inline: doc} }, true, true, 0, 0},
		{"pem", func(*testing.T) model.KeySource { return model.KeySource{PEM: pemPublic(t, &rsaKey.PublicKey)} }, true, true, 0, 0},
		{"remote, first fetch succeeds", func(t *testing.T) model.KeySource {
			return model.KeySource{URI: newStatusJWKS(t, doc, 200).URL, CacheDuration: time.Hour}
		}, false, true, 1, 0},
		{"remote, first fetch answered 500", func(t *testing.T) model.KeySource {
			return model.KeySource{URI: newStatusJWKS(t, "oops", 500).URL, CacheDuration: time.Hour}
		}, false, false, 0, 1},
		{"remote, server gone", func(*testing.T) model.KeySource {
			return model.KeySource{URI: goneURL, Timeout: time.Second, CacheDuration: time.Hour}
		}, false, false, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newTestProvider(t, model.Provider{Name: "f", JWKS: c.ks(t)})
			if got := isClosed(p.Fetched()); got != c.closedAtOnce {
				t.Fatalf("closed before Start: %v, want %v", got, c.closedAtOnce)
			}
			if p.Fetched() != p.Fetched() {
				t.Fatal("Fetched returns a new channel each call")
			}
			startProvider(t, p)
			select {
			case <-p.Fetched():
			case <-time.After(5 * time.Second):
				t.Fatal("Fetched not closed after the first fetch")
			}
			if p.Ready() != c.ready {
				t.Fatalf("Ready %v after Fetched, want %v", p.Ready(), c.ready)
			}
			// The first fetch is counted before Fetched is closed. After a
			// failure the background loop retries (250ms later), so more
			// failures may have been counted by now.
			st := p.Stats()
			if st.KeySetFetches != c.fetches || st.KeySetFailures < c.failures || c.failures == 0 && st.KeySetFailures != 0 {
				t.Fatalf("fetches %d, failures %d; want %d, %d", st.KeySetFetches, st.KeySetFailures, c.fetches, c.failures)
			}
			if st.KeysLoadedAt.IsZero() != !c.ready {
				t.Fatalf("KeysLoadedAt %v with Ready %v", st.KeysLoadedAt, c.ready)
			}
		})
	}
}

// TestFetchedOnClose: a provider closed before any fetch does not leave a
// readiness check waiting.
func TestFetchedOnClose(t *testing.T) {
	srv := newStatusJWKS(t, "", 500)
	p, err := NewProvider(model.Provider{Name: "c", JWKS: model.KeySource{URI: srv.URL}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if isClosed(p.Fetched()) {
		t.Fatal("closed before anything happened")
	}
	p.Close()
	if !isClosed(p.Fetched()) {
		t.Fatal("still open after Close")
	}
	p.Close() // closing twice is harmless
}

// TestFetchedOnDemandBeforeStart: keys fetched for a token before Start
// are usable, so Fetched is closed; a failed on-demand fetch before Start
// does not close it (the first fetch after Start decides).
func TestFetchedOnDemandBeforeStart(t *testing.T) {
	keys(t)
	srv := newStatusJWKS(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")), 500)
	p := remoteProvider(t, model.KeySource{URI: srv.URL, RefetchInterval: time.Millisecond, CacheDuration: time.Hour})
	tok := mint(t, "RS256", "k1", rsaKey, claims(), nil)
	_, err := p.Verify(context.Background(), tok)
	wantErr(t, err, ErrJwksFetch)
	if isClosed(p.Fetched()) {
		t.Fatal("a failed fetch before Start closed Fetched")
	}
	srv.status.Store(200)
	time.Sleep(2 * time.Millisecond) // past the refetch interval
	_, err = p.Verify(context.Background(), tok)
	wantErr(t, err, nil)
	if !isClosed(p.Fetched()) {
		t.Fatal("usable keys, Fetched still open")
	}
}

// TestStatsFetchCounts: successful and failed fetches against a real
// server, and when the keys in use were loaded.
func TestStatsFetchCounts(t *testing.T) {
	keys(t)
	srv := newStatusJWKS(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")), 500)
	p := remoteProvider(t, model.KeySource{URI: srv.URL, CacheDuration: time.Hour, RefetchInterval: time.Millisecond})
	if st := p.Stats(); st != (Stats{}) {
		t.Fatalf("stats before anything: %+v", st)
	}
	startProvider(t, p)
	<-p.Fetched()
	// One failure; the background retry (250ms later) succeeds.
	before := time.Now()
	srv.status.Store(200)
	waittest.Until(t, 5*time.Second, "a successful fetch", func() bool { return p.Stats().KeySetFetches == 1 })
	st := p.Stats()
	if st.KeySetFailures == 0 || st.KeySetFailures != srv.fail.Load() || st.KeySetFetches != srv.ok.Load() {
		t.Fatalf("stats %+v; server answered %d ok, %d failed", st, srv.ok.Load(), srv.fail.Load())
	}
	loaded := st.KeysLoadedAt
	if loaded.Before(before) || loaded.After(time.Now()) {
		t.Fatalf("KeysLoadedAt %v not between %v and now", loaded, before)
	}

	// An unknown kid makes an on-demand fetch; a failed one counts and
	// leaves KeysLoadedAt alone (the keys in use stay).
	srv.status.Store(503)
	_, err := p.Verify(context.Background(), mint(t, "RS256", "k2", rsaKey2, claims(), nil))
	wantErr(t, err, ErrKidAlgMismatch)
	st = p.Stats()
	if st.KeySetFetches != 1 || st.KeySetFailures != srv.fail.Load() || !st.KeysLoadedAt.Equal(loaded) {
		t.Fatalf("after a failed refetch: %+v (server failures %d, loaded %v)", st, srv.fail.Load(), loaded)
	}

	// A successful one (the same document) counts and moves KeysLoadedAt.
	srv.status.Store(200)
	time.Sleep(2 * time.Millisecond)
	_, err = p.Verify(context.Background(), mint(t, "RS256", "k3", rsaKey2, claims(), nil))
	wantErr(t, err, ErrKidAlgMismatch)
	st = p.Stats()
	if st.KeySetFetches != 2 || st.KeySetFetches != srv.ok.Load() || !st.KeysLoadedAt.After(loaded) {
		t.Fatalf("after a good refetch: %+v (server ok %d, loaded before %v)", st, srv.ok.Load(), loaded)
	}
	if st.CacheHits != 0 || st.CacheMisses != 2 {
		t.Fatalf("cache hits %d misses %d, want 0 and 2", st.CacheHits, st.CacheMisses)
	}
}

// TestStatsLocal: a local key set was loaded when the provider was built,
// and is never fetched.
func TestStatsLocal(t *testing.T) {
	keys(t)
	before := time.Now()
	p := newTestProvider(t, model.Provider{JWKS: model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "", ""))}})
	st := p.Stats()
	if st.KeysLoadedAt.Before(before) || st.KeysLoadedAt.After(time.Now()) {
		t.Fatalf("KeysLoadedAt %v, built after %v", st.KeysLoadedAt, before)
	}
	if st.KeySetFetches != 0 || st.KeySetFailures != 0 {
		t.Fatalf("local key set counted fetches: %+v", st)
	}
	if n := testing.AllocsPerRun(100, func() { _ = p.Stats() }); n > 0 {
		t.Fatalf("Stats allocates %v times", n)
	}
}

// TestCacheSize: the provider's cacheSize bounds the verified-token
// cache, as the hit and miss counts show; the Options override wins.
func TestCacheSize(t *testing.T) {
	keys(t)
	toks := make([]string, 3)
	for i := range toks {
		toks[i] = mint(t, "RS256", "", rsaKey, claims("sub", string(rune('a'+i))), nil)
	}
	cases := []struct {
		name         string
		size, opts   int
		hits, misses uint64
	}{
		// t1 t2 t3 t3 t1: with room for two, t1 was evicted by t3.
		{"cacheSize 2 evicts", 2, 0, 1, 4},
		{"cacheSize 3 keeps all", 3, 0, 2, 3},
		{"default keeps all", 0, 0, 2, 3},
		{"cacheSize 1", 1, 0, 1, 4},
		{"Options override", 3, 2, 1, 4},
		{"Options disable", 3, -1, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newTestProvider(t, model.Provider{CacheSize: c.size, JWKS: model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "", ""))}},
				func(o *Options) { o.CacheSize = c.opts })
			for _, tok := range []string{toks[0], toks[1], toks[2], toks[2], toks[0]} {
				_, err := p.Verify(context.Background(), tok)
				wantErr(t, err, nil)
			}
			if st := p.Stats(); st.CacheHits != c.hits || st.CacheMisses != c.misses {
				t.Fatalf("hits %d, misses %d; want %d, %d", st.CacheHits, st.CacheMisses, c.hits, c.misses)
			}
		})
	}
	if _, err := NewProvider(model.Provider{Name: "neg", CacheSize: -1, JWKS: model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "", ""))}}, Options{}); err == nil {
		t.Fatal("negative cacheSize accepted")
	}
}
