package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
	"jwtgate.dev/jwtgate/internal/waittest"
)

// gate is a switch a handler waits on until the test opens it (or the
// test ends).
type gate struct {
	once sync.Once
	ch   chan struct{}
}

func newGate(t *testing.T) *gate {
	g := &gate{ch: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

// wait blocks until the gate opens or r is cancelled; it reports whether
// the gate opened.
func (g *gate) wait(r *http.Request) bool {
	select {
	case <-g.ch:
		return true
	case <-r.Context().Done():
		return false
	}
}

// statusNow is the status of GET url; a transport error fails the test.
func statusNow(t *testing.T, url string) int {
	t.Helper()
	code, _ := httpGet(t, http.DefaultClient, url, "")
	return code
}

// TestReadyzAndKeySetFetch: /readyz is 503 until every remote key set's
// first fetch has ended, however it ended, or until the ready timeout;
// /healthz is 200 all along.
func TestReadyzAndKeySetFetch(t *testing.T) {
	for _, tc := range []struct {
		name string
		// jwks answers the key set requests; release lets a held answer go.
		jwks         func(is *issuer, release *gate) http.HandlerFunc
		readyTimeout time.Duration
		// open: the test opens the gate once it has seen 503.
		open bool
		// tokenStatus is what a valid token gets once ready; 0: not
		// tried (it would wait for the held fetch, up to its timeout).
		tokenStatus int
		log         string
	}{
		{
			name: "a key set that answers late",
			jwks: func(is *issuer, release *gate) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					if release.wait(r) {
						jwksDoc(is.jwks)(w, r)
					}
				}
			},
			readyTimeout: time.Minute, open: true, tokenStatus: 200,
		},
		{
			name: "a key set that fails",
			jwks: func(_ *issuer, release *gate) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					if release.wait(r) {
						http.Error(w, "down", http.StatusInternalServerError)
					}
				}
			},
			readyTimeout: time.Minute, open: true, tokenStatus: 401,
		},
		{
			name: "a key set that never answers",
			jwks: func(_ *issuer, release *gate) http.HandlerFunc {
				return func(_ http.ResponseWriter, r *http.Request) { release.wait(r) }
			},
			readyTimeout: time.Second,
			log:          "ready before every key set was fetched",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := newIssuer(t)
			release := newGate(t)
			jwks := serveJWKS(t, tc.jwks(is, release))
			up := httptest.NewServer(demo.Echo())
			t.Cleanup(up.Close)
			// A fetch timeout far beyond the test: the first fetch ends
			// when the gate opens, not before.
			yaml := strings.Replace(metricsConfig(jwks.URL, up.URL), "      uri: "+jwks.URL,
				"      uri: "+jwks.URL+"\n      timeout: 5m", 1)
			h := gatewaytest.Start(t, yaml, gatewaytest.Admin(), gatewaytest.ReadyTimeout(tc.readyTimeout))
			admin := h.AdminURL()

			waittest.Until(t, 10*time.Second, "the first key set request", func() bool { return jwks.fetches.Load() > 0 })
			// Without the gate opening only the ready timeout (whose
			// log line the case checks) makes it ready.
			if tc.open {
				for range 3 {
					if code := statusNow(t, admin+"/readyz"); code != 503 {
						t.Fatalf("/readyz = %d while the first fetch is held, want 503", code)
					}
					if h.Gateway.Ready() {
						t.Fatal("Gateway.Ready while the first fetch is held")
					}
					time.Sleep(50 * time.Millisecond)
				}
				release.open()
			}
			if code := statusNow(t, admin+"/healthz"); code != 200 {
				t.Errorf("/healthz = %d, want 200", code)
			}
			waitStatus(t, admin+"/readyz", 200)

			if tc.tokenStatus != 0 {
				tok := is.token(t, jwt.MapClaims{"iss": metricsIss, "sub": "alice"})
				if code, body := httpGet(t, http.DefaultClient, h.URL("web")+"/api/x", tok); code != tc.tokenStatus {
					t.Errorf("a valid token once ready: %d %q, want %d", code, body, tc.tokenStatus)
				}
			}
			if tc.log != "" && !strings.Contains(h.Logs.String(), tc.log) {
				t.Errorf("the log lacks %q:\n%s", tc.log, h.Logs.String())
			}
		})
	}
}

// TestReadyzDuringShutdown: once Shutdown starts /readyz answers 503
// while the requests in flight drain (and /healthz still 200); when they
// are done the admin listener closes too.
func TestReadyzDuringShutdown(t *testing.T) {
	arrived, release := make(chan struct{}, 1), newGate(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			release.wait(r)
		}
		fmt.Fprint(w, "done")
	}))
	t.Cleanup(up.Close)
	h := gatewaytest.Start(t, `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: open
    backend: {url: `+up.URL+`}
`, gatewaytest.Admin())
	admin := h.AdminURL()
	waitStatus(t, admin+"/readyz", 200)

	slow := make(chan string, 1)
	go func() {
		res, err := http.Get(h.URL("web") + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		slow <- fmt.Sprintf("%d %s", res.StatusCode, b.String())
	}()
	<-arrived

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		stopped <- h.Gateway.Shutdown(ctx)
	}()
	waitStatus(t, admin+"/readyz", 503)
	if code := statusNow(t, admin+"/healthz"); code != 200 {
		t.Errorf("/healthz while draining = %d, want 200", code)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) before the request in flight finished", err)
	default:
	}
	release.open()
	if got := <-slow; got != "200 done" {
		t.Errorf("the request in flight got %q, want 200 done", got)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown did not return after the drain")
	}
	if res, err := http.Get(admin + "/readyz"); err == nil {
		res.Body.Close()
		t.Errorf("the admin listener still answers after Shutdown: %d", res.StatusCode)
	}
}

// configDump is the documented shape of GET /config, decoded strictly.
type configDump struct {
	Version   string                   `json:"version"`
	Files     []string                 `json:"files"`
	LoadedAt  time.Time                `json:"loadedAt"`
	Resources []model.Status           `json:"resources"`
	Routes    []proxy.RouteExplanation `json:"routes"`
	Warnings  []string                 `json:"warnings"`
}

func getConfig(t *testing.T, adminURL string) (configDump, string) {
	t.Helper()
	code, body := httpGet(t, http.DefaultClient, adminURL+"/config", "")
	if code != 200 {
		t.Fatalf("GET /config: %d %q", code, body)
	}
	var d configDump
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("GET /config is not the documented shape: %v\n%s", err, body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "files", "loadedAt", "resources", "routes", "warnings"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("GET /config lacks %q", k)
		}
	}
	return d, body
}

// secretConfig holds key material of every kind a configuration can
// hold (an inline key set with a public EC key and an HMAC secret, a PEM
// key) and a backend URL with an API key in its query.
type secretConfig struct {
	yaml string
	// keys are strings of the key material, which must not leave the
	// process; apiKey is the backend's credential.
	keys   []string
	apiKey string
}

func newSecretConfig(t *testing.T, upstream string) secretConfig {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecdh, err := key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	point := ecdh.Bytes() // 0x04 || X || Y
	x := base64.RawURLEncoding.EncodeToString(point[1:33])
	y := base64.RawURLEncoding.EncodeToString(point[33:])
	hmac := base64.RawURLEncoding.EncodeToString([]byte("hmac-" + randomHex(t, 16)))
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","kid":"ec","alg":"ES256","x":"` + x + `","y":"` + y +
		`"},{"kty":"oct","kid":"mac","alg":"HS256","k":"` + hmac + `"}]}`
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	pemBody := strings.Join(strings.Split(strings.TrimSpace(pemKey), "\n")[1:2], "")
	apiKey := "apikey-" + randomHex(t, 12)
	yaml := `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:0}]
providers:
  - name: inline-keys
    issuer: https://inline.example.com
    jwks:
      inline: '` + jwks + `'
  - name: pem-key
    issuer: https://pem.example.com
    jwks:
      pem: |
        ` + strings.ReplaceAll(strings.TrimSpace(pemKey), "\n", "\n        ") + `
routes:
  - name: api
    match: {paths: ["/api/*"]}
    backend: {url: "` + upstream + `/base?api_key=` + apiKey + `"}
    jwt: {providers: [inline-keys, pem-key]}
  - name: shadowed
    match: {paths: ["/api/x"]}
    backend: {url: "` + upstream + `"}
`
	return secretConfig{yaml: yaml, keys: []string{jwks, x, y, hmac, pemBody, "BEGIN PUBLIC KEY"}, apiKey: apiKey}
}

// TestConfigEndpoint: GET /config describes the running configuration
// (version, files, load time, every resource's status, the routes, the
// warnings) and holds none of its key material; after a failed reload it
// still describes the configuration that serves.
func TestConfigEndpoint(t *testing.T) {
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	sc := newSecretConfig(t, up.URL)
	h := gatewaytest.Start(t, sc.yaml, gatewaytest.Admin())
	d, body := getConfig(t, h.AdminURL())

	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(d.Version) || d.Version != h.Snapshot.Version {
		t.Errorf("version = %q, want the snapshot's %q (SHA-256 hex)", d.Version, h.Snapshot.Version)
	}
	if len(d.Files) != 1 || d.Files[0] != h.Path {
		t.Errorf("files = %q, want [%s]", d.Files, h.Path)
	}
	if !d.LoadedAt.Equal(h.Snapshot.LoadedAt) || d.LoadedAt.Location() != time.UTC {
		t.Errorf("loadedAt = %v, want %v in UTC", d.LoadedAt, h.Snapshot.LoadedAt)
	}
	var got []string
	for _, st := range d.Resources {
		got = append(got, st.String())
	}
	want := []string{
		"Listener default/web (" + h.Path + ":3): Accepted=True Accepted",
		"Provider default/inline-keys (" + h.Path + ":5): Accepted=True Accepted",
		"Provider default/pem-key (" + h.Path + ":9): Accepted=True Accepted",
	}
	if len(got) != 5 || strings.Join(got[:3], "\n") != strings.Join(want, "\n") ||
		!strings.HasPrefix(got[3], "Route default/api (") || !strings.HasSuffix(got[3], ": Accepted=True Accepted") ||
		!strings.HasPrefix(got[4], "Route default/shadowed (") || !strings.Contains(got[4], "Accepted=True Accepted: ") ||
		!strings.Contains(got[4], "never matches") {
		t.Errorf("resources:\n%s\nwant the listener, both providers and both routes, accepted:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(d.Routes) != 2 || d.Routes[0].Route != "api" || d.Routes[1].Route != "shadowed" ||
		d.Routes[0].JWT == nil || strings.Join(d.Routes[0].JWT.Providers, ",") != "inline-keys,pem-key" {
		t.Errorf("routes = %+v", d.Routes)
	}
	if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "never matches") {
		t.Errorf("warnings = %q, want the shadowed route's", d.Warnings)
	}
	for _, s := range sc.keys {
		if strings.Contains(body, s) {
			t.Errorf("GET /config holds %q:\n%s", s, body)
		}
	}

	// A failed reload: /config still describes what serves.
	h.Write(sc.yaml + "bogus: true\n")
	if err := h.Reload(); err == nil {
		t.Fatal("a reload of a broken file succeeded")
	}
	if d2, _ := getConfig(t, h.AdminURL()); d2.Version != d.Version || !d2.LoadedAt.Equal(d.LoadedAt) {
		t.Errorf("after a failed reload /config has version %s loaded at %v, want the running %s at %v", d2.Version, d2.LoadedAt, d.Version, d.LoadedAt)
	}
	// A good one: a new version.
	h.Write(strings.Replace(sc.yaml, "name: shadowed", "name: renamed", 1))
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	d3, body3 := getConfig(t, h.AdminURL())
	if d3.Version == d.Version || d3.Version != h.Gateway.Snapshot().Version || d3.LoadedAt.Before(d.LoadedAt) || d3.Routes[1].Route != "renamed" {
		t.Errorf("after a reload /config has version %s (was %s), routes %+v", d3.Version, d.Version, d3.Routes)
	}
	for _, s := range sc.keys {
		if strings.Contains(body3, s) {
			t.Errorf("GET /config after a reload holds %q", s)
		}
	}
}

// TestConfigEndpointHidesBackendCredentials: docs/operations.md says
// /config "holds no key material, token or secret"; a credential in a
// backend URL's query (api_key=...) is one, and must not be shown.
func TestConfigEndpointHidesBackendCredentials(t *testing.T) {
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	sc := newSecretConfig(t, up.URL)
	h := gatewaytest.Start(t, sc.yaml, gatewaytest.Admin())
	if _, body := getConfig(t, h.AdminURL()); strings.Contains(body, sc.apiKey) {
		t.Errorf("GET /config shows the backend's API key %q (routes[].backend is the configured URL verbatim)", sc.apiKey)
	}
}
