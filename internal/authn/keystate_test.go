package authn

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestKeySetStateLocal: a local key set lists its keys by kid, alg, type
// and curve, loaded when the provider was built, with no fetch.
func TestKeySetStateLocal(t *testing.T) {
	keys(t)
	p := newTestProvider(t, model.Provider{JWKS: model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "r1", "RS256"), jwk(&ecKey.PublicKey, "", ""), jwk(edKey.Public(), "ed", ""))}})
	s := p.KeySetState()
	if s.Remote || s.URI != "" || s.LoadedAt.IsZero() || !s.LastFetch.IsZero() || s.LastError != "" {
		t.Errorf("state %+v", s)
	}
	want := []KeyInfo{{Kid: "r1", Alg: "RS256", Type: "RSA"}, {Type: "EC", Curve: "P-256"}, {Kid: "ed", Type: "OKP"}}
	if len(s.Keys) != len(want) {
		t.Fatalf("keys %+v, want %+v", s.Keys, want)
	}
	for i := range want {
		if s.Keys[i] != want[i] {
			t.Errorf("key %d: %+v, want %+v", i, s.Keys[i], want[i])
		}
	}
}

// TestKeySetStateRemote: a remote key set reports its URI, the failed
// fetch's error until a fetch succeeds, the time of the last failure
// after that, and the keys once fetched.
func TestKeySetStateRemote(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, "down")
	srv.set(http.StatusServiceUnavailable, "down")
	p := remoteProvider(t, model.KeySource{URI: srv.URL + "/jwks", CacheDuration: 50 * time.Millisecond, RefetchInterval: time.Millisecond})
	startProvider(t, p)
	s := waitState(t, p, func(s KeySetState) bool { return s.Failures > 0 })
	if !s.Remote || s.URI != srv.URL+"/jwks" || s.Keys != nil || !s.LoadedAt.IsZero() {
		t.Errorf("after a failure: %+v", s)
	}
	if !strings.Contains(s.LastError, "status 503") || s.LastErrorAt.IsZero() || s.LastFetch.IsZero() {
		t.Errorf("after a failure: error %q at %v, last fetch %v", s.LastError, s.LastErrorAt, s.LastFetch)
	}
	failedAt := s.LastErrorAt
	srv.set(http.StatusOK, jwksOf(t, jwk(&rsaKey.PublicKey, "k1", "RS256")))
	s = waitState(t, p, func(s KeySetState) bool { return s.Fetches > 0 })
	if s.LastError != "" || s.LastErrorAt.Before(failedAt) || s.LoadedAt.IsZero() || s.LastFetch.Before(s.LastErrorAt) {
		t.Errorf("after a success: %+v", s)
	}
	if len(s.Keys) != 1 || s.Keys[0] != (KeyInfo{Kid: "k1", Alg: "RS256", Type: "RSA"}) {
		t.Errorf("keys %+v", s.Keys)
	}
}

func waitState(t *testing.T, p *Provider, ok func(KeySetState) bool) KeySetState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := p.KeySetState()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("state never reached: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
