package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/waittest"
)

// TestReloadKeepsUnchangedProvider: a reload that leaves a provider's
// settings alone keeps it (no key set fetch, the verified token still in
// its cache); one that changes them builds it anew (a cold cache), with
// the key set it had when its key source is unchanged (no fetch), with a
// new one (a fetch) when it changed.
func TestReloadKeepsUnchangedProvider(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(yaml string) string
		kept    bool
		fetches int64 // key set fetches in all, when not kept
	}{
		{"a policy added", func(y string) string {
			return strings.Replace(y, `paths: ["/admin/*"]`, `paths: ["/admin/*", "/private/*"]`, 1)
		}, true, 1},
		{"a route's match changed", func(y string) string {
			return strings.Replace(y, `match: {paths: ["/api/*", "/admin/*"]}`, `match: {paths: ["/api/*", "/admin/*", "/v2/*"]}`, 1)
		}, true, 1},
		{"the provider's audiences changed", func(y string) string {
			return strings.Replace(y, "    jwks:\n", "    audiences: [api]\n    jwks:\n", 1)
		}, false, 1},
		{"the provider's key source changed", func(y string) string {
			return strings.Replace(y, "    jwks:\n", "    jwks:\n      cacheDuration: 9m\n", 1)
		}, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := newIssuer(t)
			jwks := serveJWKS(t, jwksDoc(is.jwks))
			up := httptest.NewServer(demo.Echo())
			t.Cleanup(up.Close)
			yaml := metricsConfig(jwks.URL, up.URL)
			h := gatewaytest.Start(t, yaml, gatewaytest.Admin())
			waitStatus(t, h.AdminURL()+"/readyz", 200)
			tok := is.token(t, jwt.MapClaims{"iss": metricsIss, "sub": "alice", "aud": "api"})
			if code, body := httpGet(t, http.DefaultClient, h.URL("web")+"/api/x", tok); code != 200 {
				t.Fatalf("before the reload: %d %q", code, body)
			}

			changed := tc.change(yaml)
			if changed == yaml {
				t.Fatal("the change changed nothing")
			}
			h.Write(changed)
			if err := h.Reload(); err != nil {
				t.Fatal(err)
			}
			if code, body := httpGet(t, http.DefaultClient, h.URL("web")+"/api/x", tok); code != 200 {
				t.Fatalf("after the reload: %d %q", code, body)
			}
			m := scrapeMetrics(t, h.AdminURL())
			hits, _ := m.value("jwtgate_token_cache_lookups_total", "provider", "corp", "result", "hit")
			misses, _ := m.value("jwtgate_token_cache_lookups_total", "provider", "corp", "result", "miss")
			fetches := jwks.fetches.Load()
			if tc.kept {
				if fetches != 1 || hits != 1 || misses != 1 {
					t.Errorf("kept provider: %d key set fetches, cache %v hits %v misses; want 1 fetch, the second request a hit", fetches, hits, misses)
				}
			} else if fetches != tc.fetches || hits != 0 || misses > 1 {
				// A rebuilt provider reports from zero: at most its own
				// miss (none when the token came before its keys did).
				t.Errorf("rebuilt provider: %d key set fetches, cache %v hits %v misses; want %d fetches, a cold cache", fetches, hits, misses, tc.fetches)
			}
		})
	}
}

// TestWatchedKeyFile: editing a key file the configuration names reloads
// the gateway (no signal, no edit of the configuration itself), and the
// provider verifies with the new key.
func TestWatchedKeyFile(t *testing.T) {
	before, after := newIssuer(t), newIssuer(t)
	keys := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keys, []byte(before.jwks), 0o600); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	reloads := make(chan error, 8)
	h := gatewaytest.Start(t, `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:0}]
providers:
  - name: files
    jwks: {file: `+keys+`}
routes:
  - name: api
    backend: {url: `+up.URL+`}
    jwt: {providers: [files]}
`, gatewaytest.Watch(50*time.Millisecond), gatewaytest.OnReload(func(err error) { reloads <- err }))
	oldTok, newTok := before.token(t, jwt.MapClaims{"sub": "a"}), after.token(t, jwt.MapClaims{"sub": "b"})
	url := h.URL("web") + "/x"
	if code, _ := httpGet(t, http.DefaultClient, url, oldTok); code != 200 {
		t.Fatalf("the first key: %d", code)
	}
	if code, _ := httpGet(t, http.DefaultClient, url, newTok); code != 401 {
		t.Fatalf("a key not yet in the file: %d", code)
	}

	if err := os.WriteFile(keys, []byte(after.jwks), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-reloads:
		if err != nil {
			t.Fatalf("the reload after the key file changed failed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload after the key file changed")
	}
	waittest.Until(t, 10*time.Second, "the new key", func() bool {
		code, _ := httpGet(t, http.DefaultClient, url, newTok)
		return code == 200
	})
	if code, _ := httpGet(t, http.DefaultClient, url, oldTok); code != 401 {
		t.Errorf("the replaced key still verifies: %d", code)
	}
	if v := h.Gateway.Snapshot().Version; v != h.Snapshot.Version {
		t.Errorf("the configuration's version changed (%s to %s) though only a key file did", h.Snapshot.Version, v)
	}
}
