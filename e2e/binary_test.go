package e2e

import (
	"fmt"
	"io"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/waittest"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinaryServeSignals builds the real binary and runs `jwtgate serve`:
// real signals, a real config file, net/http and curl as clients. SIGHUP
// with a broken file keeps the old config; SIGHUP with a good one applies
// it; SIGTERM lets a request in flight finish, then the process exits 0.
func TestBinaryServeSignals(t *testing.T) {
	jwtgateBinary(t) // skips with -short
	dir := t.TempDir()

	released := make(chan struct{})
	started := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-released
		}
		fmt.Fprintf(w, "upstream saw %s", r.URL.Path)
	}))
	defer slow.Close()
	defer func() {
		select {
		case <-released:
		default:
			close(released)
		}
	}()

	addr := gatewaytest.FreeAddr(t)
	cfgPath := filepath.Join(dir, "gateway.yaml")
	writeConfig := func(body string) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config := func(jwksInline string) string {
		return `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: ` + addr + `
providers:
  - name: selfminted
    issuer: solo.io
    jwks:
      inline: '` + jwksInline + `'
routes:
  - name: open
    match: {paths: ["/slow", "/open/*"]}
    backend: {url: ` + slow.URL + `}
  - name: protected
    backend: {url: ` + slow.URL + `}
    jwt: {providers: [selfminted]}
`
	}
	jwks := testdata(t, "seed004-jwks.json")
	writeConfig(config(jwks))

	proc := startBinary(t, "serve", "-c", cfgPath, "--admin", gatewaytest.FreeAddr(t))

	base := "http://" + addr
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	waittest.Until(t, 10*time.Second, "the gateway to listen", func() bool { s, _ := get("/open/x", ""); return s == 200 })

	token := testdata(t, "seed004-alice.jwt")
	if s, b := get("/headers", token); s != 200 {
		t.Fatalf("with the seed token: %d %q", s, b)
	}

	// curl, as the walkthroughs use it.
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-s", "-i", base+"/headers", "-H", "host: www.example.com:8080").CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		text := string(out)
		for _, want := range []string{"HTTP/1.1 401 Unauthorized", `Www-Authenticate: Bearer realm="http://www.example.com:8080/headers"`, "\r\n\r\nJwt is missing"} {
			if !strings.Contains(text, want) {
				t.Errorf("curl output lacks %q:\n%s", want, text)
			}
		}
	}

	// A broken file on SIGHUP: logged, the old config keeps serving.
	writeConfig(config(jwks) + "bogus: true\n")
	proc.signal(syscall.SIGHUP)
	waittest.Until(t, 10*time.Second, "the reload error in the log", func() bool { return strings.Contains(proc.output(), `unknown field \"bogus\"`) })
	if s, b := get("/headers", token); s != 200 {
		t.Fatalf("after a bad reload the old config must serve: %d %q", s, b)
	}

	// A good file on SIGHUP: an empty key set now rejects the seed token.
	writeConfig(config(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"other","x":"GGsZR3N0a7oyZparsLTnWqDooeDkRdtE2ZVz5mP6Fwc"}]}`))
	proc.signal(syscall.SIGHUP)
	waittest.Until(t, 10*time.Second, "the new config", func() bool { s, _ := get("/headers", token); return s == 401 })
	if !strings.Contains(proc.output(), `"msg":"reloaded"`) {
		t.Errorf("the log does not say the config was reloaded:\n%s", proc.output())
	}

	// SIGTERM while a request is in flight: it completes, then exit 0.
	type result struct {
		status int
		body   string
	}
	inflight := make(chan result, 1)
	go func() { s, b := get("/slow", ""); inflight <- result{s, b} }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached the upstream")
	}
	proc.signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	if s, _ := get("/open/x", ""); s != 0 {
		t.Errorf("a new request after SIGTERM got %d; the listener should be closed", s)
	}
	close(released)
	r := <-inflight
	if r.status != 200 || r.body != "upstream saw /slow" {
		t.Errorf("in-flight request: %d %q, want 200 from the upstream", r.status, r.body)
	}
	if code := proc.exitCode(10 * time.Second); code != 0 {
		t.Errorf("exit %d after draining, want 0\n%s", code, proc.output())
	}
	if strings.Contains(proc.output(), token) {
		t.Error("the token appears in the logs")
	}
}
