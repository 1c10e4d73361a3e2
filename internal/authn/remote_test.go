package authn

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/waittest"
)

// jwksServer serves a JWKS document that tests can change, and counts
// the requests for it.
type jwksServer struct {
	body   atomic.Value // string
	status atomic.Int32
	hits   atomic.Int32
	*httptest.Server
}

func newJWKSServer(t *testing.T, body string) *jwksServer {
	s := &jwksServer{}
	s.body.Store(body)
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(s.status.Load()))
		_, _ = w.Write([]byte(s.body.Load().(string)))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(status int, body string) {
	s.body.Store(body)
	s.status.Store(int32(status))
}

func remoteProvider(t *testing.T, ks model.KeySource, mod ...func(*model.Provider)) *Provider {
	mp := model.Provider{Name: "remote", Issuer: testIssuer, JWKS: ks}
	for _, f := range mod {
		f(&mp)
	}
	return newTestProvider(t, mp)
}

func startProvider(t *testing.T, p *Provider) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.Start(ctx)
}

func TestRemoteRotation(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "RS256")))
	p := remoteProvider(t, model.KeySource{URI: srv.URL + "/jwks", Timeout: 2 * time.Second})
	startProvider(t, p)
	ctx := context.Background()
	tok1 := mint(t, "RS256", "k1", rsaKey, claims(), nil)
	tok2 := mint(t, "RS256", "k2", rsaKey2, claims(), nil)

	_, err := p.Verify(ctx, tok1)
	wantErr(t, err, nil)
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches after the first token, want 1", n)
	}
	srv.set(200, jwksOf(t, jwk(&rsaKey2.PublicKey, "k2", "RS256")))
	_, err = p.Verify(ctx, tok2)
	wantErr(t, err, nil)
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after rotation, want 2", n)
	}
	// tok1's key is gone, and the on-demand gap (a second, here a minute
	// so that a slow machine cannot outlast it) holds back another fetch.
	p.remote.mu.Lock()
	p.remote.gap = time.Minute
	p.remote.mu.Unlock()
	_, err = p.Verify(ctx, tok1)
	wantErr(t, err, ErrKidAlgMismatch)
	_, err = p.Verify(ctx, tok2)
	wantErr(t, err, nil)
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

func TestRemoteKeepsLastGoodKeys(t *testing.T) {
	keys(t)
	for _, c := range []struct {
		name   string
		status int
		body   string
	}{
		{"server error", 500, "oops"},
		{"not found", 404, ""},
		{"garbage body", 200, "<html>garbage</html>"},
		{"empty key set", 200, `{"keys":[]}`},
		{"only unusable keys", 200, `{"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`},
		{"too large", 200, `{"pad":"` + strings.Repeat("x", maxRemoteBody) + `",` + strings.TrimPrefix(jwksOf(t, jwk(&rsaKey2.PublicKey, "zz", "")), "{")},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")))
			p := remoteProvider(t, model.KeySource{URI: srv.URL, CacheDuration: 20 * time.Millisecond, RefetchInterval: time.Millisecond})
			startProvider(t, p)
			ctx := context.Background()
			_, err := p.Verify(ctx, mint(t, "RS256", "k1", rsaKey, claims(), nil))
			wantErr(t, err, nil)
			srv.set(c.status, c.body)
			deadline := time.Now().Add(5 * time.Second)
			for srv.hits.Load() < 4 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if srv.hits.Load() < 4 {
				t.Fatal("background refresh did not run")
			}
			// A new token (not cached) still verifies with the last good key,
			// also after an on-demand refetch for an unknown kid fails.
			_, err = p.Verify(ctx, mint(t, "RS256", "k1", rsaKey, claims("sub", "bob"), nil))
			wantErr(t, err, nil)
			_, err = p.Verify(ctx, mint(t, "RS256", "zz", rsaKey, claims(), nil))
			wantErr(t, err, ErrKidAlgMismatch)
			_, err = p.Verify(ctx, mint(t, "RS256", "k1", rsaKey, claims("sub", "carol"), nil))
			wantErr(t, err, nil)
		})
	}
}

func TestRemoteServerGone(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")))
	p := remoteProvider(t, model.KeySource{URI: srv.URL, CacheDuration: 20 * time.Millisecond, Timeout: 200 * time.Millisecond})
	startProvider(t, p)
	ctx := context.Background()
	_, err := p.Verify(ctx, mint(t, "RS256", "k1", rsaKey, claims(), nil))
	wantErr(t, err, nil)
	srv.Close()
	time.Sleep(100 * time.Millisecond)
	_, err = p.Verify(ctx, mint(t, "RS256", "k1", rsaKey, claims("sub", "dave"), nil))
	wantErr(t, err, nil)
}

func TestRemoteUnknownKidFlood(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")))
	p := remoteProvider(t, model.KeySource{URI: srv.URL, RefetchInterval: time.Minute}, func(mp *model.Provider) {})
	// The on-demand gap is a second; a minute here, so that a slow
	// machine taking more than a second over the flood counts the same.
	// TestRotationDuringFlood checks the gap itself.
	p.remote.gap = time.Minute
	startProvider(t, p)
	ctx := context.Background()
	_, err := p.Verify(ctx, mint(t, "RS256", "k1", rsaKey, claims(), nil))
	wantErr(t, err, nil)
	before := srv.hits.Load()

	toks := make([]string, 1000)
	for i := range toks {
		toks[i] = mint(t, "RS256", "", rsaKey2, claims("jti", strconv.Itoa(i)), map[string]any{"kid": "unknown-" + string(rune('a'+i%26)) + strings.Repeat("x", i%7)})
	}
	var wg sync.WaitGroup
	var wrong atomic.Int32
	for _, tok := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Verify(ctx, tok); err != ErrKidAlgMismatch {
				wrong.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d tokens did not fail with ErrKidAlgMismatch", n)
	}
	if n := srv.hits.Load() - before; n > 2 {
		t.Fatalf("%d fetches for 1000 unknown-kid tokens, want at most 2", n)
	}
}

func TestRemoteInitialFetchFailure(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, "")
	srv.set(503, "down")
	p := remoteProvider(t, model.KeySource{URI: srv.URL, Timeout: 300 * time.Millisecond, RefetchInterval: time.Millisecond})
	if p.Ready() {
		t.Fatal("ready before any fetch")
	}
	tok := mint(t, "RS256", "k1", rsaKey, claims(), nil)
	ctx := context.Background()

	// Before Start: an on-demand fetch, which fails.
	_, err := p.Verify(ctx, tok)
	wantErr(t, err, ErrJwksFetch)
	startProvider(t, p)
	_, err = p.Verify(ctx, tok)
	wantErr(t, err, ErrJwksFetch)

	// Malformed tokens are still answered with their own reason.
	_, err = p.Verify(ctx, "x.y")
	wantErr(t, err, ErrBadFormat)

	// The background loop retries; once the server is back, tokens verify.
	srv.set(200, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err = p.Verify(ctx, tok)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantErr(t, err, nil)
	if !p.Ready() {
		t.Fatal("not ready after a successful fetch")
	}
}

func TestRemoteNeverHS(t *testing.T) {
	keys(t)
	doc := `{"keys":[{"kty":"oct","kid":"h","k":"` + b64s(hmacKey) + `"},` + strings.TrimPrefix(jwksOf(t, jwk(&rsaKey.PublicKey, "r", "")), `{"keys":[`)
	srv := newJWKSServer(t, doc)
	p := remoteProvider(t, model.KeySource{URI: srv.URL})
	ctx := context.Background()
	_, err := p.Verify(ctx, mint(t, "HS256", "h", hmacKey, claims(), nil))
	wantErr(t, err, ErrKidAlgMismatch)
	_, err = p.Verify(ctx, mint(t, "RS256", "r", rsaKey, claims(), nil))
	wantErr(t, err, nil)
}

func TestDiscoveryTLS(t *testing.T) {
	keys(t)
	var srv *httptest.Server
	var jwksHits atomic.Int32
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/realm/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL + "/realm/", "jwks_uri": srv.URL + "/realm/certs"})
		case "/realm/certs":
			jwksHits.Add(1)
			_, _ = w.Write([]byte(jwksOf(t, jwk(&ecKey.PublicKey, "e1", "ES256"))))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	issuer := srv.URL + "/realm/"
	tok := mint(t, "ES256", "e1", ecKey, claims("iss", issuer), nil)
	ctx := context.Background()

	p := remoteProvider(t, model.KeySource{CAFile: caFile}, func(mp *model.Provider) { mp.Issuer = issuer })
	startProvider(t, p)
	id, err := p.Verify(ctx, tok)
	wantErr(t, err, nil)
	if id.Issuer != issuer {
		t.Fatalf("issuer %q", id.Issuer)
	}
	if jwksHits.Load() != 1 {
		t.Fatalf("%d jwks fetches", jwksHits.Load())
	}

	// Without the CA the server is not trusted: the key set never loads.
	untrusted := remoteProvider(t, model.KeySource{Timeout: time.Second}, func(mp *model.Provider) { mp.Issuer = issuer })
	_, err = untrusted.Verify(ctx, tok)
	wantErr(t, err, ErrJwksFetch)

	// A discovery document without jwks_uri is a failure too.
	nouri := remoteProvider(t, model.KeySource{CAFile: caFile, Timeout: time.Second}, func(mp *model.Provider) { mp.Issuer = srv.URL + "/other" })
	_, err = nouri.Verify(ctx, mint(t, "ES256", "e1", ecKey, claims("iss", srv.URL+"/other"), nil))
	wantErr(t, err, ErrJwksFetch)
}

func TestRemoteCloseStopsLoop(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")))
	p, err := NewProvider(model.Provider{Name: "c", JWKS: model.KeySource{URI: srv.URL, CacheDuration: 10 * time.Millisecond}}, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	p.Start(context.Background()) // idempotent
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	// A request written just before Close cancelled it may still reach
	// the handler a moment later (on a loaded machine, many milliseconds
	// later): let it land before counting. Refreshes every 10ms would
	// show many times over in the window that follows.
	time.Sleep(100 * time.Millisecond)
	n := srv.hits.Load()
	time.Sleep(200 * time.Millisecond)
	if srv.hits.Load() != n {
		t.Fatal("refreshes continued after Close")
	}
}

// TestCacheAcrossKeySetChange: when the key set changes, the tokens a
// key still in it verified stay cached (a rotation that adds a key costs
// no re-verification), while the tokens of a key that left, or whose
// material changed under the same kid, must verify again, and fail.
func TestCacheAcrossKeySetChange(t *testing.T) {
	keys(t)
	tests := []struct {
		name    string
		next    func() string
		wantErr *Error
		wantHit bool
	}{
		{"key kept, another added", func() string {
			return jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "RS256"), jwk(&rsaKey2.PublicKey, "k2", "RS256"))
		}, nil, true},
		{"key removed", func() string { return jwksOf(t, jwk(&rsaKey2.PublicKey, "k2", "RS256")) }, ErrKidAlgMismatch, false},
		{"other material under the same kid", func() string { return jwksOf(t, jwk(&rsaKey2.PublicKey, "k1", "RS256")) }, ErrVerificationFail, false},
		{"same material, other alg", func() string { return jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "RS384")) }, ErrKidAlgMismatch, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "RS256")))
			p := remoteProvider(t, model.KeySource{URI: srv.URL, CacheDuration: 20 * time.Millisecond, RefetchInterval: time.Millisecond})
			startProvider(t, p)
			waittest.Until(t, 5*time.Second, "the first fetch", p.Ready)
			ctx := context.Background()
			tok := mint(t, "RS256", "k1", rsaKey, claims(), nil)
			_, err := p.Verify(ctx, tok)
			wantErr(t, err, nil)

			before := p.keys.Load()
			srv.set(200, tc.next())
			waittest.Until(t, 5*time.Second, "the new key set", func() bool { return p.keys.Load() != before })
			hits := p.Stats().CacheHits
			_, err = p.Verify(ctx, tok)
			wantErr(t, err, tc.wantErr)
			if hit := p.Stats().CacheHits > hits; hit != tc.wantHit {
				t.Fatalf("cache hit %v, want %v", hit, tc.wantHit)
			}
		})
	}
}
