package authn

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/waittest"
)

// sharedProvider compiles mp with the pinned clock and the registry reg.
func sharedProvider(t *testing.T, reg *KeySets, mp model.Provider) *Provider {
	t.Helper()
	return newTestProvider(t, mp, func(o *Options) { o.KeySets = reg })
}

// audProvider is provider i of a sharing test: named p<i>, with the
// audience aud-<i>, keys from ks.
func audProvider(i int, ks model.KeySource) model.Provider {
	return model.Provider{Name: fmt.Sprintf("p%d", i), Issuer: testIssuer, Audiences: []string{fmt.Sprintf("aud-%d", i)}, JWKS: ks}
}

// TestSharedKeySetOneFetch: providers with the same key source share one
// key set, so that many concurrent tokens through each of them make one
// fetch in all; each provider still applies its own audience, and keeps
// its own verified-token cache.
func TestSharedKeySetOneFetch(t *testing.T) {
	keys(t)
	for _, tc := range []struct {
		providers int
		start     bool // the first fetch comes from Start, not from a token
	}{{2, false}, {2, true}, {3, false}, {3, true}} {
		t.Run(fmt.Sprintf("%d providers, start=%v", tc.providers, tc.start), func(t *testing.T) {
			srv := newGatedJWKS(t, jwksOf(t, jwk(&ecKey.PublicKey, "e1", "ES256")))
			srv.hold() // the first fetch waits until every token is on its way
			reg := NewKeySets()
			var ps []*Provider
			for i := range tc.providers {
				ps = append(ps, sharedProvider(t, reg, audProvider(i, model.KeySource{URI: srv.URL})))
			}
			if reg.Len() != 1 {
				t.Fatalf("%d key sets for %d providers of one URI, want 1", reg.Len(), tc.providers)
			}
			if tc.start {
				for _, p := range ps {
					startProvider(t, p)
				}
			}
			const perProvider = 50
			toks := make([][]string, len(ps))
			for i := range ps {
				for j := range perProvider {
					toks[i] = append(toks[i], mint(t, "ES256", "e1", ecKey, claims("aud", fmt.Sprintf("aud-%d", i), "jti", fmt.Sprint(j)), nil))
				}
			}
			var wg, onTheirWay sync.WaitGroup
			var failed atomic.Int32
			for i, p := range ps {
				for _, tok := range toks[i] {
					wg.Add(1)
					onTheirWay.Add(1)
					go func() {
						defer wg.Done()
						onTheirWay.Done()
						id, err := p.Verify(context.Background(), tok)
						if err != nil || id.Provider != p.Name() {
							failed.Add(1)
						}
					}()
				}
			}
			onTheirWay.Wait()
			waittest.Until(t, 5*time.Second, "the first fetch", func() bool { return srv.held.Load() == 1 })
			srv.release()
			wg.Wait()
			if n := failed.Load(); n != 0 {
				t.Fatalf("%d of %d tokens did not verify with their own provider", n, perProvider*len(ps))
			}
			if n := srv.hits.Load(); n != 1 {
				t.Fatalf("%d fetches for %d tokens through %d providers, want 1", n, perProvider*len(ps), len(ps))
			}
			for i, p := range ps {
				if _, err := p.Verify(context.Background(), toks[i][0]); err != nil {
					t.Fatalf("%s: a verified token again: %v", p.Name(), err)
				}
				if st := p.Stats(); st.KeySetFetches != 1 || st.CacheHits != 1 {
					t.Errorf("%s: stats %+v, want the shared key set's one fetch and its own cache hit", p.Name(), st)
				}
				ks := p.KeySetState()
				var others []string
				for j, q := range ps {
					if j != i {
						others = append(others, q.Name())
					}
				}
				if !slices.Equal(ks.SharedWith, others) || len(ks.Keys) != 1 || ks.Keys[0].Kid != "e1" || ks.URI != srv.URL {
					t.Errorf("%s: key set state %+v, want key e1 shared with %v", p.Name(), ks, others)
				}
			}
			// A token p0 verified (and cached) is still p1's to check:
			// the audience is p0's, not p1's.
			_, err := ps[1].Verify(context.Background(), toks[0][0])
			wantErr(t, err, ErrAudience)
			if n := srv.hits.Load(); n != 1 {
				t.Fatalf("%d fetches after the audience check, want 1", n)
			}
		})
	}
}

// TestKeySetSharingRule: which settings two providers must have in common
// to share a key set. Both verify a token; a shared key set is fetched
// once, separate ones once each.
func TestKeySetSharingRule(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, jwksOf(t, jwk(&ecKey.PublicKey, "e1", "ES256")))
	for _, tc := range []struct {
		name   string
		second func(*model.Provider)
		shared bool
	}{
		{"other audience, issuer, algorithms, cache size", func(p *model.Provider) {
			p.Issuer, p.Audiences, p.Algorithms, p.CacheSize = "https://other.test", []string{"aud-0"}, []string{"ES256"}, 10
		}, true},
		{"other unknownKidWait", func(p *model.Provider) { p.JWKS.UnknownKidWait = 3 * time.Second }, true},
		{"defaults written out", func(p *model.Provider) {
			p.JWKS.Timeout, p.JWKS.CacheDuration = model.DefaultJWKSTimeout, model.DefaultJWKSCacheDuration
			p.JWKS.RefetchInterval = model.DefaultJWKSRefetchInterval
		}, true},
		{"other timeout", func(p *model.Provider) { p.JWKS.Timeout = 2 * time.Second }, false},
		{"other cacheDuration", func(p *model.Provider) { p.JWKS.CacheDuration = time.Minute }, false},
		{"other refetchInterval", func(p *model.Provider) { p.JWKS.RefetchInterval = 2 * time.Second }, false},
		{"other URI", func(p *model.Provider) { p.JWKS.URI = srv.URL + "/?other" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.hits.Load()
			reg := NewKeySets()
			first := audProvider(0, model.KeySource{URI: srv.URL})
			second := audProvider(1, model.KeySource{URI: srv.URL})
			tc.second(&second)
			p0, p1 := sharedProvider(t, reg, first), sharedProvider(t, reg, second)
			wantSets, wantFetches := 2, int32(2)
			if tc.shared {
				wantSets, wantFetches = 1, 1
			}
			if reg.Len() != wantSets || (p0.remote == p1.remote) != tc.shared {
				t.Fatalf("%d key sets, shared=%v; want %d", reg.Len(), p0.remote == p1.remote, wantSets)
			}
			_, err := p0.Verify(context.Background(), mint(t, "ES256", "e1", ecKey, claims("aud", "aud-0"), nil))
			wantErr(t, err, nil)
			_, err = p1.Verify(context.Background(), mint(t, "ES256", "e1", ecKey, claims("iss", second.Issuer, "aud", second.Audiences[0]), nil))
			wantErr(t, err, nil)
			if n := srv.hits.Load() - before; n != wantFetches {
				t.Fatalf("%d fetches, want %d", n, wantFetches)
			}
		})
	}

	// Discovery is shared by issuer (its discovery document's URL), and
	// never with a key set named by URI.
	reg := NewKeySets()
	d0 := sharedProvider(t, reg, model.Provider{Name: "d0", Issuer: "https://issuer.test"})
	d1 := sharedProvider(t, reg, model.Provider{Name: "d1", Issuer: "https://issuer.test/"})
	u := sharedProvider(t, reg, model.Provider{Name: "u", Issuer: "https://issuer.test", JWKS: model.KeySource{URI: "https://issuer.test/.well-known/openid-configuration"}})
	if d0.remote != d1.remote || d0.remote == u.remote || reg.Len() != 2 {
		t.Fatalf("discovery: %d key sets, d0/d1 shared=%v, d0/u shared=%v; want 2, true, false", reg.Len(), d0.remote == d1.remote, d0.remote == u.remote)
	}
}

// TestSharedKeySetCAFile: the CA a key set trusts is part of what is
// shared: the same CA (even from another file) shares, another CA gets a
// key set of its own, which does not trust the server.
func TestSharedKeySetCAFile(t *testing.T) {
	keys(t)
	ca, other := certtest.NewCA(t), certtest.NewCA(t)
	_, _, cert := ca.Leaf(t, "jwks", []string{"localhost"})
	var hits atomic.Int32
	body := jwksOf(t, jwk(&ecKey.PublicKey, "e1", "ES256"))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(body))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)

	copyOfCA := filepath.Join(t.TempDir(), "same-ca.pem")
	data, err := os.ReadFile(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyOfCA, data, 0o600); err != nil {
		t.Fatal(err)
	}
	reg := NewKeySets()
	p0 := sharedProvider(t, reg, audProvider(0, model.KeySource{URI: srv.URL, CAFile: ca.File}))
	p1 := sharedProvider(t, reg, audProvider(1, model.KeySource{URI: srv.URL, CAFile: copyOfCA}))
	p2 := sharedProvider(t, reg, audProvider(2, model.KeySource{URI: srv.URL, CAFile: other.File, Timeout: time.Second}))
	p3 := sharedProvider(t, reg, audProvider(3, model.KeySource{URI: srv.URL, Timeout: time.Second})) // system roots
	if p0.remote != p1.remote || p2.remote == p0.remote || p3.remote == p0.remote || p2.remote == p3.remote || reg.Len() != 3 {
		t.Fatalf("%d key sets; want p0 and p1 sharing one, p2 and p3 one each", reg.Len())
	}
	for i, p := range []*Provider{p0, p1, p2, p3} {
		_, err := p.Verify(context.Background(), mint(t, "ES256", "e1", ecKey, claims("aud", fmt.Sprintf("aud-%d", i)), nil))
		want := (*Error)(nil)
		if i >= 2 {
			want = ErrJwksFetch // the server's CA is not theirs
		}
		wantErr(t, err, want)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d fetches answered, want 1 (p0 and p1 share it; p2 and p3 do not trust the server)", n)
	}
}

// TestSharedKeySetFlood: a flood of random kids through one provider, and
// unknown kids through the other, cost the identity provider at most
// about one fetch a second in all; the other provider's tokens keep
// verifying meanwhile, and a key published during the flood verifies
// through the other provider within about a second.
func TestSharedKeySetFlood(t *testing.T) {
	keys(t)
	srv := newGatedJWKS(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")))
	reg := NewKeySets()
	a := sharedProvider(t, reg, audProvider(0, model.KeySource{URI: srv.URL}))
	b := sharedProvider(t, reg, audProvider(1, model.KeySource{URI: srv.URL}))
	startProvider(t, a)
	startProvider(t, b)
	ctx := context.Background()
	bTok := mint(t, "RS256", "k1", rsaKey, claims("aud", "aud-1"), nil)
	_, err := b.Verify(ctx, bTok)
	wantErr(t, err, nil)
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches before the flood, want 1", n)
	}
	rotated := mint(t, "RS256", "k2", rsaKey2, claims("aud", "aud-1", "sub", "rotated"), nil)

	f := newFlood()
	defer f.end()
	random := func(aud string) func() string {
		return func() string { return audFloodToken(t, randomKid(t), aud) }
	}
	for range 6 {
		f.add(a, random("aud-0"), ErrKidAlgMismatch)
	}
	f.add(b, random("aud-1"), ErrKidAlgMismatch)
	f.add(b, func() string { return bTok }, nil)
	verifiedAfter := rotateDuring(t, srv, b, rotated)
	time.Sleep(time.Second) // keep flooding, to count fetches over a longer run
	dur := f.end()
	hits := srv.hits.Load() - 1
	t.Logf("flood: %d requests in %v, %d fetches; rotated key verified %v after publication",
		f.sent.Load(), dur.Round(time.Millisecond), hits, verifiedAfter.Round(time.Millisecond))
	if verifiedAfter > 2*time.Second {
		t.Errorf("the rotated key verified %v after publication, want about 1s", verifiedAfter)
	}
	if f.wrong.Load() != 0 {
		t.Errorf("%d flood or valid tokens got an unexpected answer", f.wrong.Load())
	}
	if limit := int32(dur/time.Second) + 2; hits > limit {
		t.Errorf("%d fetches in a %v flood through two providers, want at most one a second in all (%d)", hits, dur.Round(time.Millisecond), limit)
	}
}

// audFloodToken is floodToken for the audience aud.
func audFloodToken(t testing.TB, kid, aud string) string {
	t.Helper()
	h, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": kid})
	p, _ := json.Marshal(claims("aud", aud))
	return b64s(h) + "." + b64s(p) + "." + b64s([]byte("not a signature"))
}

// TestSharedKeySetRotation: a rotation one provider's token brings in is
// seen by every provider sharing the key set, with no fetch of theirs.
func TestSharedKeySetRotation(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "RS256")))
	reg := NewKeySets()
	var ps []*Provider
	for i := range 3 {
		ps = append(ps, sharedProvider(t, reg, audProvider(i, model.KeySource{URI: srv.URL})))
	}
	for _, p := range ps {
		startProvider(t, p) // the first fetch is not on demand: a refetch may come at once
	}
	waittest.Until(t, 5*time.Second, "the first fetch", ps[2].Ready)
	ctx := context.Background()
	for i, p := range ps {
		_, err := p.Verify(ctx, mint(t, "RS256", "k1", rsaKey, claims("aud", fmt.Sprintf("aud-%d", i)), nil))
		wantErr(t, err, nil)
	}
	srv.set(200, jwksOf(t, jwk(&rsaKey2.PublicKey, "k2", "RS256")))
	_, err := ps[0].Verify(ctx, mint(t, "RS256", "k2", rsaKey2, claims("aud", "aud-0"), nil))
	wantErr(t, err, nil)
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after the rotation, want 2", n)
	}
	for i, p := range ps[1:] {
		_, err := p.Verify(ctx, mint(t, "RS256", "k2", rsaKey2, claims("aud", fmt.Sprintf("aud-%d", i+1)), nil))
		wantErr(t, err, nil)
		// The old key is gone for every provider, cached tokens included.
		_, err = p.Verify(ctx, mint(t, "RS256", "k1", rsaKey, claims("aud", fmt.Sprintf("aud-%d", i+1)), nil))
		wantErr(t, err, ErrKidAlgMismatch)
		if ks := p.KeySetState(); len(ks.Keys) != 1 || ks.Keys[0].Kid != "k2" {
			t.Errorf("%s: keys %+v, want k2", p.Name(), ks.Keys)
		}
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after the other providers saw the rotation, want 2", n)
	}
}

// TestSharedKeySetClose: a shared key set keeps refreshing while one
// provider holds it, and the last Close stops its fetches. A closed
// provider starts no fetch, whoever else holds the key set.
func TestSharedKeySetClose(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")))
	reg := NewKeySets()
	ks := model.KeySource{URI: srv.URL, CacheDuration: 50 * time.Millisecond}
	a := sharedProvider(t, reg, audProvider(0, ks))
	b := sharedProvider(t, reg, audProvider(1, ks))
	startProvider(t, a)
	startProvider(t, b)
	waittest.Until(t, 5*time.Second, "refreshes", func() bool { return srv.hits.Load() >= 3 })

	a.Close()
	if !isClosed(a.Fetched()) || reg.Len() != 1 {
		t.Fatalf("after the first Close: Fetched closed=%v, %d key sets; want true, 1", isClosed(a.Fetched()), reg.Len())
	}
	n := srv.hits.Load()
	waittest.Until(t, 5*time.Second, "refreshes for the provider still open", func() bool { return srv.hits.Load() >= n+2 })
	_, err := b.Verify(context.Background(), mint(t, "RS256", "k1", rsaKey, claims("aud", "aud-1"), nil))
	wantErr(t, err, nil)

	b.Close()
	b.Close() // idempotent
	if reg.Len() != 0 || b.remote.ctx.Err() == nil {
		t.Fatalf("after the last Close: %d key sets, cancelled=%v; want 0, true", reg.Len(), b.remote.ctx.Err() != nil)
	}
	n = srv.hits.Load()
	time.Sleep(300 * time.Millisecond) // six refresh periods
	if got := srv.hits.Load(); got != n {
		t.Fatalf("%d fetches after the last Close", got-n)
	}

	// A provider built afterwards with the same source gets a new key set.
	c := sharedProvider(t, reg, audProvider(2, ks))
	if c.remote == b.remote || reg.Len() != 1 {
		t.Fatal("a closed key set was handed out again")
	}
}

// TestClosedProviderStartsNoFetch: once closed, a provider's tokens do not
// make the key set it shared fetch.
func TestClosedProviderStartsNoFetch(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")))
	reg := NewKeySets()
	a := sharedProvider(t, reg, audProvider(0, model.KeySource{URI: srv.URL}))
	b := sharedProvider(t, reg, audProvider(1, model.KeySource{URI: srv.URL}))
	a.Close()
	_, err := a.Verify(context.Background(), mint(t, "RS256", "k1", rsaKey, claims("aud", "aud-0"), nil))
	wantErr(t, err, ErrJwksFetch)
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("a closed provider's token fetched %d times", n)
	}
	_, err = b.Verify(context.Background(), mint(t, "RS256", "k1", rsaKey, claims("aud", "aud-1"), nil))
	wantErr(t, err, nil)
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for the open provider, want 1", n)
	}
}
