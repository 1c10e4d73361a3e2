package authn

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestRemoteAttacks: what a hostile or broken JWKS endpoint can do.
func TestRemoteAttacks(t *testing.T) {
	keys(t)
	good := jwksOf(t, jwk(&rsaKey.PublicKey, "k1", ""))
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		_, _ = w.Write([]byte(good))
	}))
	t.Cleanup(other.Close)
	// big is a valid JWKS padded to exactly n bytes.
	big := func(n int) string {
		s := `{"keys":[` + strings.TrimPrefix(good, `{"keys":[`)
		pad := n - len(s) - len(`,"pad":""`)
		return strings.TrimSuffix(s, "}") + `,"pad":"` + strings.Repeat("x", pad) + `"}`
	}
	if len(big(maxRemoteBody)) != maxRemoteBody {
		t.Fatal("padding")
	}

	for _, c := range []struct {
		name    string
		handler http.HandlerFunc
		want    *Error
		other   bool // the redirect target must not be asked
	}{
		{"status 500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500); _, _ = w.Write([]byte(good)) }, ErrJwksFetch, false},
		{"status 204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, ErrJwksFetch, false},
		{"301 to another host", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, other.URL+"/jwks", 301) }, ErrJwksFetch, true},
		{"302 to another host", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, other.URL+"/jwks", 302) }, ErrJwksFetch, true},
		{"307 on the same host", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/moved" {
				_, _ = w.Write([]byte(good))
				return
			}
			http.Redirect(w, r, "/moved", 307)
		}, ErrJwksFetch, false},
		{"body of exactly 1 MiB", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(big(maxRemoteBody))) }, nil, false},
		{"body of 1 MiB + 1", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(big(maxRemoteBody + 1))) }, ErrJwksFetch, false},
		{"body of 5 MiB", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(big(5 << 20))) }, ErrJwksFetch, false},
		{"only an oct key", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","k":"` + b64s(hmacKey) + `"}]}`))
		}, ErrJwksFetch, false},
		{"HTML", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html></html>")) }, ErrJwksFetch, false},
		{"keys not a list", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"keys":{}}`)) }, ErrJwksFetch, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			otherHits.Store(0)
			srv := httptest.NewServer(c.handler)
			t.Cleanup(srv.Close)
			p := remoteProvider(t, model.KeySource{URI: srv.URL + "/jwks", Timeout: 2 * time.Second})
			_, err := p.Verify(context.Background(), mint(t, "RS256", "k1", rsaKey, claims(), nil))
			wantErr(t, err, c.want)
			if c.other && otherHits.Load() != 0 {
				t.Fatalf("the redirect was followed to another host (%d requests)", otherHits.Load())
			}
		})
	}
}

// TestRemoteOctNeverVerifies: an HS token signed with a secret published
// in a remote set, beside an RSA key, fails as having no fitting key.
func TestRemoteOctNeverVerifies(t *testing.T) {
	keys(t)
	doc := `{"keys":[{"kty":"oct","kid":"k1","k":"` + b64s(hmacKey) + `"},{"kty":"oct","k":"` + b64s(hmacKey) + `"},` + strings.TrimPrefix(jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")), `{"keys":[`)
	srv := newJWKSServer(t, doc)
	p := remoteProvider(t, model.KeySource{URI: srv.URL})
	for _, kid := range []string{"k1", ""} {
		_, err := p.Verify(context.Background(), mint(t, "HS256", kid, hmacKey, claims(), nil))
		wantErr(t, err, ErrKidAlgMismatch)
	}
}

// TestRemoteSlow: the fetch timeout bounds both the wait of a token and
// the fetch itself.
func TestRemoteSlow(t *testing.T) {
	keys(t)
	release := make(chan struct{})
	var cancelled atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cancelled.Store(true)
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	p := remoteProvider(t, model.KeySource{URI: srv.URL, Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := p.Verify(context.Background(), mint(t, "RS256", "k1", rsaKey, claims(), nil))
	wantErr(t, err, ErrJwksFetch)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("token waited %v for a 200ms timeout", d)
	}
	deadline := time.Now().Add(3 * time.Second)
	for !cancelled.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !cancelled.Load() {
		t.Fatal("the slow fetch was not abandoned at the timeout")
	}
}

// TestRemoteSlowBody: a server that sends headers at once and then trickles
// the body is cut off at the timeout too.
func TestRemoteSlowBody(t *testing.T) {
	keys(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[`))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	p := remoteProvider(t, model.KeySource{URI: srv.URL, Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := p.Verify(context.Background(), mint(t, "RS256", "k1", rsaKey, claims(), nil))
	wantErr(t, err, ErrJwksFetch)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("token waited %v", d)
	}
}

// TestRemoteRefreshAndCache: an unchanged document keeps the cache; a
// changed one empties it, so a removed key stops verifying.
func TestRemoteRefreshAndCache(t *testing.T) {
	keys(t)
	doc := jwksOf(t, jwk(&rsaKey.PublicKey, "k1", ""), jwk(&rsaKey2.PublicKey, "k2", ""))
	srv := newJWKSServer(t, doc)
	p := remoteProvider(t, model.KeySource{URI: srv.URL, CacheDuration: 30 * time.Millisecond})
	startProvider(t, p)
	ctx := context.Background()
	tok := mint(t, "RS256", "k1", rsaKey, claims(), nil)
	id1, err := p.Verify(ctx, tok)
	wantErr(t, err, nil)
	waitHits := func(n int32) {
		deadline := time.Now().Add(5 * time.Second)
		for srv.hits.Load() < n && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if srv.hits.Load() < n {
			t.Fatalf("only %d fetches", srv.hits.Load())
		}
	}
	waitHits(srv.hits.Load() + 3)
	id2, err := p.Verify(ctx, tok)
	wantErr(t, err, nil)
	if id1 != id2 {
		t.Fatal("an unchanged refresh emptied the verified-token cache")
	}
	// k1 removed: the cached token stops verifying after the next refresh.
	srv.set(200, jwksOf(t, jwk(&rsaKey2.PublicKey, "k2", "")))
	waitHits(srv.hits.Load() + 2)
	_, err = p.Verify(ctx, tok)
	wantErr(t, err, ErrKidAlgMismatch)
}

// TestRemoteInitialBackoff: a failing first fetch is retried after 250ms,
// 500ms, 1s, ...
func TestRemoteInitialBackoff(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, "")
	srv.set(503, "down")
	p := remoteProvider(t, model.KeySource{URI: srv.URL, RefetchInterval: time.Hour})
	startProvider(t, p)
	time.Sleep(1200 * time.Millisecond)
	// Fetches at 0, 0.25, 0.75 s; the next is due at 1.75 s.
	if n := srv.hits.Load(); n < 2 || n > 4 {
		t.Fatalf("%d fetches in 1.2s, want about 3", n)
	}
}

// TestDiscoveryAttacks: the discovery document cannot downgrade the key
// fetch to plain http, and is not followed through redirects.
func TestDiscoveryAttacks(t *testing.T) {
	keys(t)
	plain := newJWKSServer(t, jwksOf(t, jwk(&ecKey.PublicKey, "e1", "")))
	var jwksURI atomic.Value
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"jwks_uri": jwksURI.Load().(string)})
	}))
	t.Cleanup(tlsSrv.Close)
	client := tlsSrv.Client()
	issuer := tlsSrv.URL
	tok := mint(t, "ES256", "e1", ecKey, claims("iss", issuer), nil)

	jwksURI.Store(plain.URL)
	p := newTestProvider(t, model.Provider{Name: "d", Issuer: issuer, JWKS: model.KeySource{Timeout: time.Second}}, func(o *Options) { o.HTTPClient = client })
	_, err := p.Verify(context.Background(), tok)
	wantErr(t, err, ErrJwksFetch)
	if plain.hits.Load() != 0 {
		t.Fatal("an https issuer's discovery sent the key fetch to plain http")
	}

	// An http issuer may name an http jwks_uri (loopback tests, for one).
	httpIssuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"jwks_uri": plain.URL})
	}))
	t.Cleanup(httpIssuer.Close)
	p2 := newTestProvider(t, model.Provider{Name: "d2", Issuer: httpIssuer.URL, JWKS: model.KeySource{Timeout: time.Second}})
	_, err = p2.Verify(context.Background(), mint(t, "ES256", "e1", ecKey, claims("iss", httpIssuer.URL), nil))
	wantErr(t, err, nil)

	// A discovery document behind a redirect is not followed.
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, httpIssuer.URL+r.URL.Path, http.StatusMovedPermanently)
	}))
	t.Cleanup(moved.Close)
	p3 := newTestProvider(t, model.Provider{Name: "d3", Issuer: moved.URL, JWKS: model.KeySource{Timeout: time.Second}})
	_, err = p3.Verify(context.Background(), mint(t, "ES256", "e1", ecKey, claims("iss", moved.URL), nil))
	wantErr(t, err, ErrJwksFetch)
}

// TestDemandAfterFetch: a token that found no keys while the first fetch
// was ending joins that fetch's result rather than fetching again.
func TestDemandAfterFetch(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "")))
	p := remoteProvider(t, model.KeySource{URI: srv.URL})
	startProvider(t, p)
	deadline := time.Now().Add(5 * time.Second)
	for !p.Ready() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	n := p.remote.fetchCount()
	// The caller saw no keys (nil); they have arrived since.
	if ks := p.use.demand(context.Background(), nil); ks == nil {
		t.Fatal("no keys")
	}
	if p.remote.fetchCount() != n || srv.hits.Load() != 1 {
		t.Fatalf("a second fetch started: %d fetches, %d hits", p.remote.fetchCount(), srv.hits.Load())
	}
}
