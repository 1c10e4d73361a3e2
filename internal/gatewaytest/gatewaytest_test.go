package gatewaytest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// upstream answers "upstream PATH".
func upstream(t *testing.T) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream %s", r.URL.Path)
	}))
	t.Cleanup(up.Close)
	return up.URL
}

// config is one listener on 127.0.0.1:0 and one open route on paths.
func config(up, listener, paths string) string {
	return `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: ` + listener + `, address: 127.0.0.1:0}]
routes:
  - name: r
    match: {paths: [` + paths + `]}
    backend: {url: ` + up + `}
`
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestStart(t *testing.T) {
	up := upstream(t)
	yaml := config(up, "web", `"/a/*"`)
	h := gatewaytest.Start(t, yaml, gatewaytest.Admin())

	if code, body := get(t, h.URL("web")+"/a/1"); code != 200 || body != "upstream /a/1" {
		t.Errorf("GET /a/1: %d %q", code, body)
	}
	if code, _ := get(t, h.URL("web")+"/b/1"); code != 404 {
		t.Errorf("GET /b/1: %d, want 404", code)
	}
	if b, err := os.ReadFile(h.Path); err != nil || string(b) != yaml {
		t.Errorf("the configuration file %s holds %q (%v)", h.Path, b, err)
	}
	if !h.Snapshot.OK() || len(h.Snapshot.Files) != 1 || h.Snapshot.Files[0] != h.Path {
		t.Errorf("snapshot: ok %v, files %q", h.Snapshot.OK(), h.Snapshot.Files)
	}
	if code, body := get(t, h.AdminURL()+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("readyz: %d %q", code, body)
	}
	if !strings.Contains(h.Logs.String(), `"msg":"access"`) || !strings.Contains(h.Logs.String(), `"path":"/a/1"`) {
		t.Errorf("the access log was not captured:\n%s", h.Logs.String())
	}

	// Write and Reload: the new configuration serves, on the same port.
	addr := h.Addr("web")
	h.Write(config(up, "web", `"/b/*"`))
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if h.Addr("web") != addr {
		t.Errorf("the listener moved from %s to %s", addr, h.Addr("web"))
	}
	if code, _ := get(t, h.URL("web")+"/b/1"); code != 200 {
		t.Errorf("after the reload GET /b/1: %d, want 200", code)
	}
	if h.Gateway.Snapshot().Version == h.Snapshot.Version {
		t.Error("the reload did not change the running version")
	}
	h.Write("bogus: [")
	if err := h.Reload(); err == nil {
		t.Error("a reload of a broken file succeeded")
	}
}

func TestStartWarnings(t *testing.T) {
	up := upstream(t)
	h := gatewaytest.Start(t, config(up, "web", `"/a/*"`)+`  - name: shadowed
    match: {paths: ["/a/x"]}
    backend: {url: `+up+`}
`, gatewaytest.InMemory(), gatewaytest.Name("mem.yaml"))
	if h.Path != "" {
		t.Errorf("InMemory wrote %s", h.Path)
	}
	w := h.Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0].Error(), "mem.yaml:") || !strings.Contains(w[0].Error(), "never matches") {
		t.Errorf("warnings = %v", w)
	}
}

func TestWatch(t *testing.T) {
	up := upstream(t)
	reloads := make(chan error, 4)
	h := gatewaytest.Start(t, config(up, "web", `"/a/*"`), gatewaytest.Watch(20*time.Millisecond),
		gatewaytest.OnReload(func(err error) { reloads <- err }))
	h.Write(config(up, "web", `"/b/*"`))
	select {
	case err := <-reloads:
		if err != nil {
			t.Fatalf("the watched reload failed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload after the file changed")
	}
	if code, _ := get(t, h.URL("web")+"/b/1"); code != 200 {
		t.Errorf("after the watched reload GET /b/1: %d, want 200", code)
	}
}

// TestCleanupShutsDown: the gateway of a finished test is stopped.
func TestCleanupShutsDown(t *testing.T) {
	up := upstream(t)
	var url string
	t.Run("inner", func(t *testing.T) {
		url = gatewaytest.Start(t, config(up, "web", `"/a/*"`)).URL("web")
		if code, _ := get(t, url+"/a/1"); code != 200 {
			t.Fatalf("GET: %d", code)
		}
	})
	if res, err := http.Get(url + "/a/1"); err == nil {
		res.Body.Close()
		t.Errorf("the gateway still answers after its test ended: %d", res.StatusCode)
	}
}

func TestCompile(t *testing.T) {
	snap := gatewaytest.Compile(t, `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: r
    backend: {url: ftp://x}
`, gatewaytest.Name("gw.yaml"))
	err := snap.Issues.Err()
	if snap.OK() || err == nil || !strings.HasPrefix(err.Error(), "gw.yaml:6: routes[0].backend.url:") {
		t.Errorf("ok %v, errors %v", snap.OK(), err)
	}
	if len(snap.Statuses) != 2 {
		t.Errorf("statuses = %v", snap.Statuses)
	}
	good := gatewaytest.Compile(t, config("http://127.0.0.1:1", "web", `"/a"`))
	if !good.OK() || good.Runtime == nil {
		t.Errorf("a good configuration: %v", good.Issues.Err())
	}
	files := gatewaytest.CompileFiles(t, []string{"testdata/none.yaml"})
	if files.OK() || files.Issues.Err() == nil {
		t.Error("a missing file compiled")
	}
}

// fakeTB records what a helper reports and stops the goroutine on Fatal,
// as testing.T does.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	fatal    string
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }

func (f *fakeTB) Fatal(args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprint(args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// failure runs fn on its own goroutine with a fakeTB, runs its cleanups,
// and returns its Fatal message ("" when none).
func failure(t *testing.T, fn func(tb testing.TB)) string {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	return f.fatal
}

func TestFailures(t *testing.T) {
	up := upstream(t)
	for _, tc := range []struct {
		name string
		fn   func(tb testing.TB)
		want string
	}{
		{"a configuration with errors", func(tb testing.TB) {
			gatewaytest.Start(tb, "apiVersion: jwtgate.dev/v1alpha1\nkind: Config\nroutes:\n  - name: a\n    backend: {url: ftp://x}\n")
		}, "routes[0].backend.url"},
		{"an unknown listener", func(tb testing.TB) {
			gatewaytest.Start(tb, config(up, "web", `"/a"`)).URL("other")
		}, `no listener "other"`},
		{"no admin listener", func(tb testing.TB) {
			gatewaytest.Start(tb, config(up, "web", `"/a"`)).AdminURL()
		}, "no admin listener"},
		{"Write in memory", func(tb testing.TB) {
			gatewaytest.Start(tb, config(up, "web", `"/a"`), gatewaytest.InMemory()).Write("x")
		}, "InMemory"},
		{"an address in use", func(tb testing.TB) {
			h := gatewaytest.Start(tb, config(up, "web", `"/a"`))
			gatewaytest.Start(tb, strings.Replace(config(up, "web", `"/a"`), "127.0.0.1:0", h.Addr("web"), 1))
		}, "address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := failure(t, tc.fn); !strings.Contains(got, tc.want) {
				t.Errorf("failure %q, want one containing %q", got, tc.want)
			}
		})
	}
}
