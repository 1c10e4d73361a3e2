package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/logtest"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// fixture is a token issuer and an upstream with a /slow endpoint that
// holds requests until release is closed.
type fixture struct {
	iss      *demo.Issuer
	token    string
	upstream *httptest.Server
	arrived  chan struct{} // a /slow request reached the upstream
	release  chan struct{}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	iss, err := demo.NewIssuer("https://issuer.test")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.MintFor("alice", time.Hour, map[string]any{"team": "dev"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{iss: iss, token: tok, arrived: make(chan struct{}, 16), release: make(chan struct{})}
	f.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			f.arrived <- struct{}{}
			<-f.release
		}
		fmt.Fprintf(w, "upstream %s team=%s", r.URL.Path, r.Header.Get("X-Team"))
	}))
	t.Cleanup(func() {
		select {
		case <-f.release:
		default:
			close(f.release)
		}
		f.upstream.Close()
	})
	return f
}

// config renders a native configuration: listener at addr, one route to
// the upstream; required makes the route require a token.
func (f *fixture) config(addr string, required bool) string {
	jwt := ""
	if required {
		jwt = "    jwt:\n      providers: [test]\n"
	}
	return fmt.Sprintf(`apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: %q
providers:
  - name: test
    issuer: https://issuer.test
    jwks:
      inline: %q
    claimsToHeaders:
      - claim: team
        header: x-team
routes:
  - name: all
    backend:
      url: %q
%s`, addr, f.iss.JWKS(), f.upstream.URL, jwt)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeReloadAndDrain(t *testing.T) {
	f := newFixture(t)
	cfgPath := filepath.Join(t.TempDir(), "gw.yaml")
	writeFile(t, cfgPath, f.config("127.0.0.1:0", true))

	signals := make(chan os.Signal, 1)
	started := make(chan [2]net.Addr, 1)
	reloaded := make(chan error, 1)
	var stderr logtest.Buffer
	done := make(chan int, 1)
	go func() {
		done <- serve(context.Background(),
			[]string{"-c", cfgPath, "--admin", "127.0.0.1:0", "--drain-timeout", "10s"}, &stderr,
			serveHooks{
				signals:  signals,
				started:  func(srv *proxy.Server, admin net.Addr) { started <- [2]net.Addr{srv.Addr("web"), admin} },
				reloaded: func(err error) { reloaded <- err },
			})
	}()
	var gw, adminURL string
	select {
	case a := <-started:
		gw, adminURL = "http://"+a[0].String(), "http://"+a[1].String()
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}

	if code, body := get(t, gw+"/x", ""); code != 401 || body != "Jwt is missing" {
		t.Errorf("no token: %d %q", code, body)
	}
	if code, body := get(t, gw+"/x", f.token); code != 200 || body != "upstream /x team=dev" {
		t.Errorf("token: %d %q", code, body)
	}
	if code, body := get(t, adminURL+"/readyz", ""); code != 200 || body != "ready\n" {
		t.Errorf("readyz: %d %q", code, body)
	}

	// A bad configuration: the old one keeps serving, every error is logged.
	writeFile(t, cfgPath, "apiVersion: jwtgate.dev/v1alpha1\nkind: Config\nroutes:\n  - name: a\n    backend: {url: ftp://x}\n  - name: a\n    backend: {url: http://127.0.0.1:1}\n")
	signals <- syscall.SIGHUP
	if err := <-reloaded; err == nil {
		t.Fatal("reload of a bad config succeeded")
	}
	logs := stderr.String()
	for _, want := range []string{`"msg":"configuration error"`, `scheme must be http or https`, `duplicate route name`, `reload failed; keeping the previous configuration`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if code, _ := get(t, gw+"/x", ""); code != 401 {
		t.Errorf("after a failed reload, no token: %d, want the old 401", code)
	}

	// A good configuration: the route opens.
	writeFile(t, cfgPath, f.config("127.0.0.1:0", false))
	signals <- syscall.SIGHUP
	if err := <-reloaded; err != nil {
		t.Fatalf("reload: %v\n%s", err, stderr.String())
	}
	if code, body := get(t, gw+"/x", ""); code != 200 || body != "upstream /x team=" {
		t.Errorf("after reload, no token: %d %q", code, body)
	}

	// Shutdown drains a request in flight.
	slow := make(chan string, 1)
	go func() {
		code, body := get(t, gw+"/slow", "")
		slow <- fmt.Sprintf("%d %s", code, body)
	}()
	<-f.arrived
	signals <- syscall.SIGTERM
	time.Sleep(100 * time.Millisecond) // shutdown has begun; the request still waits
	select {
	case code := <-done:
		t.Fatalf("serve returned %d before the request in flight finished", code)
	default:
	}
	close(f.release)
	if got := <-slow; got != "200 upstream /slow team=" {
		t.Errorf("in-flight request: %q", got)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit %d, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after SIGTERM")
	}
	if _, err := http.Get(gw + "/x"); err == nil {
		t.Error("gateway still accepts connections after shutdown")
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("log lacks stopped:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), f.token) {
		t.Error("a token was logged")
	}
}

func TestServeContextCancel(t *testing.T) {
	f := newFixture(t)
	cfgPath := filepath.Join(t.TempDir(), "gw.yaml")
	writeFile(t, cfgPath, f.config("127.0.0.1:0", true))
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan int, 1)
	var stderr logtest.Buffer
	go func() {
		done <- serve(ctx, []string{"-c", cfgPath, "--admin", "off"}, &stderr, serveHooks{
			signals: make(chan os.Signal),
			started: func(_ *proxy.Server, admin net.Addr) {
				if admin != nil {
					t.Error("admin listener started with --admin off")
				}
				close(started)
			},
		})
	}()
	<-started
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}

func TestServeBadConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "apiVersion: jwtgate.dev/v1alpha1\nkind: Config\nroutes:\n  - name: a\n    backend: {url: ftp://x}\n    jwt: {providers: [nobody]}\n")
	code, out, errOut := runCmd(t, "serve", "-c", bad, "--admin", "off")
	if code != exitError || out != "" {
		t.Errorf("exit %d stdout %q", code, out)
	}
	for _, want := range []string{bad + ":5: routes[0].backend.url", bad + ":6: routes[0].jwt.providers[0]: unknown provider", "not starting"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	for _, args := range [][]string{{}, {"-c", bad, "--log-level", "loud"}, {"--nope"}} {
		if code, _, _ := runCmd(t, append([]string{"serve"}, args...)...); code != exitUsage {
			t.Errorf("serve %q: exit %d, want %d", args, code, exitUsage)
		}
	}
}
