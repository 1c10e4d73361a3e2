package e2e

import (
	"fmt"
	"io"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/waittest"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// loadResult is what the traffic of TestBinaryReloadUnderLoad saw.
type loadResult struct {
	mu       sync.Mutex
	answers  map[string]int // body -> count, for the expected bodies
	failures []string       // anything else
}

func (r *loadResult) record(body string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ok {
		r.answers[body]++
	} else if len(r.failures) < 1000 {
		r.failures = append(r.failures, body)
	}
}

// TestBinaryReloadUnderLoad runs the real binary under steady traffic
// with a valid token while its configuration changes: a SIGHUP every
// second alternating two valid configurations (they differ in a route's
// backend and in another provider's claim header), then a broken one
// (logged as failed, the old one keeps serving), then a file edit with
// no signal (applied within 2 seconds). No request fails, and the
// provider that never changed fetched its key set exactly once.
func TestBinaryReloadUnderLoad(t *testing.T) {
	jwtgateBinary(t) // skips with -short
	const stableIss, rotatingIss = "https://stable.example.com", "https://rotating.example.com"
	stable, rotating := newIssuer(t), newIssuer(t)
	stableJWKS, rotatingJWKS := serveJWKS(t, jwksDoc(stable.jwks)), serveJWKS(t, jwksDoc(rotating.jwks))
	upstreams := map[string]string{}
	for _, color := range []string{"blue", "green"} {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s user=%s", color, r.Header.Get("X-User"))
		}))
		t.Cleanup(up.Close)
		upstreams[color] = up.URL
	}
	addr, adminAddr := gatewaytest.FreeAddr(t), gatewaytest.FreeAddr(t)
	config := func(color string) string {
		return `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: ` + addr + `
providers:
  - name: stable
    issuer: ` + stableIss + `
    jwks:
      uri: ` + stableJWKS.URL + `
    claimsToHeaders:
      - {claim: sub, header: x-user}
  - name: rotating
    issuer: ` + rotatingIss + `
    jwks:
      uri: ` + rotatingJWKS.URL + `
      cacheDuration: ` + map[string]string{"blue": "10m", "green": "9m"}[color] + `
    claimsToHeaders:
      - {claim: sub, header: x-rotating-` + color + `}
routes:
  - name: rotating
    match: {paths: ["/rotating/*"]}
    backend: {url: ` + upstreams[color] + `}
    jwt: {providers: [rotating]}
  - name: api
    backend: {url: ` + upstreams[color] + `}
    jwt: {providers: [stable]}
`
	}
	cfgPath := filepath.Join(t.TempDir(), "gateway.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(config("blue"))
	proc := startBinary(t, "serve", "-c", cfgPath, "--admin", adminAddr, "--drain-timeout", "10s")
	base, admin := "http://"+addr, "http://"+adminAddr
	waittest.Until(t, 10*time.Second, "the gateway to be ready", func() bool {
		res, err := http.Get(admin + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})

	token := stable.token(t, jwt.MapClaims{"iss": stableIss, "sub": "alice"})
	expected := map[string]bool{"blue user=alice": true, "green user=alice": true}
	client := &http.Client{Timeout: 30 * time.Second}
	get := func() string {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/x", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			return err.Error()
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			return err.Error()
		}
		if res.StatusCode != 200 {
			return fmt.Sprintf("%d %s", res.StatusCode, b)
		}
		return string(b)
	}
	// probe waits until the traffic's answer is want's, for up to within.
	probe := func(want string, within time.Duration) bool {
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if get() == want+" user=alice" {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return false
	}
	if !probe("blue", 10*time.Second) {
		t.Fatalf("the gateway does not serve the first configuration:\n%s", proc.output())
	}

	// Steady traffic: three clients, each at most 20,000 requests, until
	// stopped.
	res := &loadResult{answers: map[string]int{}}
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for range 20000 {
				select {
				case <-stop:
					return
				default:
				}
				body := get()
				sent.Add(1)
				res.record(body, expected[body])
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	stopTraffic := func() {
		select {
		case <-stop:
		default:
			close(stop)
			wg.Wait()
		}
	}
	t.Cleanup(stopTraffic)

	// A SIGHUP every second, alternating the two configurations; each is
	// seen serving before the next.
	color := "blue"
	for i := range 6 {
		start := time.Now()
		color = map[string]string{"blue": "green", "green": "blue"}[color]
		write(config(color))
		proc.signal(syscall.SIGHUP)
		if !probe(color, 10*time.Second) {
			t.Fatalf("reload %d: the %s configuration never served:\n%s", i+1, color, proc.output())
		}
		time.Sleep(time.Until(start.Add(time.Second)))
	}

	// A broken configuration (it would switch colour): logged as failed,
	// the running one keeps serving.
	failedBefore := strings.Count(proc.output(), "reload failed; keeping the previous configuration")
	other := map[string]string{"blue": "green", "green": "blue"}[color]
	write(config(other) + "bogus: true\n")
	proc.signal(syscall.SIGHUP)
	waittest.Until(t, 10*time.Second, "the failed reload in the log", func() bool {
		return strings.Count(proc.output(), "reload failed; keeping the previous configuration") > failedBefore
	})
	if !strings.Contains(proc.output(), `unknown field \"bogus\"`) {
		t.Errorf("the log does not name the error:\n%s", proc.output())
	}
	for range 50 {
		if got := get(); got != color+" user=alice" {
			t.Fatalf("after a failed reload the gateway answered %q, want the running %s configuration", got, color)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// An edit with no signal: the watcher applies it within 2 seconds.
	write(config(other))
	edited := time.Now()
	if !probe(other, 2*time.Second) {
		t.Fatalf("a file edit was not applied within 2s of %v:\n%s", edited, proc.output())
	}
	time.Sleep(500 * time.Millisecond) // traffic across the last swap
	stopTraffic()

	res.mu.Lock()
	defer res.mu.Unlock()
	if len(res.failures) > 0 {
		t.Errorf("%d of %d requests failed during the reloads; the first: %q", len(res.failures), sent.Load(), res.failures[:min(5, len(res.failures))])
	}
	if res.answers["blue user=alice"] == 0 || res.answers["green user=alice"] == 0 {
		t.Errorf("the traffic did not see both configurations: %v", res.answers)
	}
	t.Logf("%d requests: %v; key set fetches: stable %d, rotating %d", sent.Load(), res.answers, stableJWKS.fetches.Load(), rotatingJWKS.fetches.Load())
	if n := stableJWKS.fetches.Load(); n != 1 {
		t.Errorf("the unchanged provider's key set was fetched %d times, want 1", n)
	}
	// The counter does see refetches: the provider whose key source
	// changed at each reload (its cacheDuration) got a new key set, fetched
	// anew each time.
	if n := rotatingJWKS.fetches.Load(); n < 2 {
		t.Errorf("the changed provider's key set was fetched %d times, want a fetch per change", n)
	}

	m := scrapeMetrics(t, admin)
	if v, _ := m.value("jwtgate_keyset_fetches_total", "provider", "stable", "result", "success"); v != 1 {
		t.Errorf("jwtgate_keyset_fetches_total{provider=stable,success} = %v, want 1", v)
	}
	if v, _ := m.value("jwtgate_config_reloads_total", "result", "success"); v < 1+6+1 {
		t.Errorf("jwtgate_config_reloads_total{success} = %v, want at least 8", v)
	}
	if v, _ := m.value("jwtgate_config_reloads_total", "result", "failure"); v < 1 {
		t.Errorf("jwtgate_config_reloads_total{failure} = %v, want at least 1", v)
	}
	if v, _ := m.value("jwtgate_config_last_reload_successful"); v != 1 {
		t.Errorf("jwtgate_config_last_reload_successful = %v, want 1", v)
	}

	proc.signal(syscall.SIGTERM)
	if code := proc.exitCode(30 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
	if strings.Contains(proc.output(), token) {
		t.Error("the token appears in the log")
	}
}
