package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/waittest"
)

// keySetIssuer signs ES256 tokens with a key made for the test.
type keySetIssuer struct {
	iss, jwks string
	key       *ecdsa.PrivateKey
}

func newKeySetIssuer(t *testing.T, iss string) *keySetIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return &keySetIssuer{iss: iss, jwks: string(b), key: key}
}

// token signs a token for sub with the audience aud, valid for an hour.
func (is *keySetIssuer) token(t *testing.T, sub, aud string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": is.iss, "sub": sub, "aud": aud, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(is.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// countingJWKS serves body at any path and counts the requests.
func countingJWKS(t *testing.T, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s, &hits
}

// sharedKeySetConfig has one route per audience, each with a provider of
// its own, all fetching their keys from uri.
func sharedKeySetConfig(backend, iss, uri string, cacheDuration time.Duration, auds ...string) *model.Config {
	cfg := &model.Config{Listeners: []model.Listener{{Name: "web", Address: "127.0.0.1:0"}}}
	for _, aud := range auds {
		cfg.Providers = append(cfg.Providers, model.Provider{
			Name: "p-" + aud, Issuer: iss, Audiences: []string{aud},
			JWKS: model.KeySource{URI: uri, CacheDuration: cacheDuration},
		})
		cfg.Routes = append(cfg.Routes, model.Route{
			Name: "r-" + aud, Listener: "web", Backend: model.Backend{URL: backend},
			Match: model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/" + aud}}},
			JWT:   &model.JWTRequirement{Providers: []string{"p-" + aud}, Mode: model.AuthRequired},
		})
	}
	return cfg
}

// TestRuntimeSharesKeySets: the providers of one Runtime that fetch the
// same JWKS URI fetch it once, and each still checks its own audience; a
// reload that rebuilds one of them keeps the shared key set, which stops
// fetching once the last Runtime holding it is closed.
func TestRuntimeSharesKeySets(t *testing.T) {
	echo := newEcho(t)
	is := newKeySetIssuer(t, "https://idp.test")
	jwks, hits := countingJWKS(t, is.jwks)
	const refresh = 100 * time.Millisecond
	rt1 := build(t, sharedKeySetConfig(echo.URL, is.iss, jwks.URL, refresh, "a", "b", "c"), Options{})
	rt1.start(context.Background())
	for _, p := range rt1.Providers() {
		select {
		case <-p.Fetched():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no fetch", p.Name())
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d fetches for three providers of one URI, want 1", n)
	}
	for _, tc := range []struct {
		path, aud string
		want      int
	}{{"/a", "a", 200}, {"/b", "b", 200}, {"/c", "c", 200}, {"/a", "b", 403}, {"/c", "a", 403}} {
		tok := is.token(t, "alice", tc.aud)
		res := do(t, rt1.Handler("web"), "GET", "http://example.com"+tc.path, map[string]string{"Authorization": "Bearer " + tok})
		if res.status != tc.want {
			t.Errorf("GET %s with aud %s: %d %q, want %d", tc.path, tc.aud, res.status, res.body, tc.want)
		}
	}
	for _, p := range rt1.Providers() {
		st := p.KeySetState()
		if len(st.Keys) != 1 || len(st.SharedWith) != 2 || slices.Contains(st.SharedWith, p.Name()) {
			t.Errorf("%s: key set state %+v, want one key shared with the two others", p.Name(), st)
		}
	}

	// Reload: p-c changes (another audience), p-a and p-b are borrowed;
	// the new p-c joins the key set the others hold, with its keys at once.
	rt2 := build(t, sharedKeySetConfig(echo.URL, is.iss, jwks.URL, refresh, "a", "b", "d"), Options{Previous: rt1})
	rt2.start(context.Background())
	for _, p := range rt2.Providers() {
		if !p.Ready() {
			t.Errorf("%s: no keys after the reload", p.Name())
		}
	}
	tok := is.token(t, "alice", "d")
	if res := do(t, rt2.Handler("web"), "GET", "http://example.com/d", map[string]string{"Authorization": "Bearer " + tok}); res.status != 200 {
		t.Errorf("after the reload, GET /d: %d %q", res.status, res.body)
	}
	rt1.Close()
	n := hits.Load()
	waittest.Until(t, 5*time.Second, "refreshes after the old Runtime closed", func() bool { return hits.Load() >= n+2 })

	rt2.Close()
	n = hits.Load()
	time.Sleep(4 * refresh)
	if got := hits.Load(); got != n {
		t.Fatalf("%d fetches after the last Runtime closed", got-n)
	}
	if rt2.keySets.Len() != 0 {
		t.Fatalf("%d key sets still held after the last Runtime closed", rt2.keySets.Len())
	}
}
