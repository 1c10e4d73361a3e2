package kubernetes

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// wait bounds anything expected to happen in these tests.
const wait = 15 * time.Second

// kubeletVolume writes files the way the kubelet writes a ConfigMap
// volume (its atomic writer): each version in a new hidden timestamped
// directory, a ..data link to it swapped in by a rename, every key a
// link NAME -> ..data/NAME, and the previous version removed.
type kubeletVolume struct {
	dir     string
	version int
	current string // the timestamped directory ..data points at
}

func (v *kubeletVolume) write(t *testing.T, files map[string]string) {
	t.Helper()
	v.version++
	ts := fmt.Sprintf("..2026_01_01_00_00_%02d.%09d", v.version, v.version)
	if err := os.Mkdir(filepath.Join(v.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(v.dir, ts, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(v.dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
	if v.current != "" {
		if err := os.RemoveAll(filepath.Join(v.dir, v.current)); err != nil {
			t.Fatal(err)
		}
	}
	v.current = ts
}

// mountConfigMap writes the ConfigMap's data, each value passed through
// edit, as a kubelet volume in a new folder.
func mountConfigMap(t *testing.T, m manifests, edit func(string) string) *kubeletVolume {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v := &kubeletVolume{dir: dir}
	v.write(t, editData(m, edit))
	return v
}

func editData(m manifests, edit func(string) string) map[string]string {
	files := map[string]string{}
	for k, data := range m.configMap.Data {
		files[k] = edit(data)
	}
	return files
}

// compileMounted compiles the folder as `jwtgate validate -c DIR` does.
func compileMounted(t *testing.T, dir string) *gateway.Snapshot {
	t.Helper()
	snap := gateway.Compile([]string{dir}, proxy.Options{})
	if snap.Runtime != nil {
		t.Cleanup(snap.Runtime.Close)
	}
	return snap
}

// The ConfigMap's configuration, mounted as the kubelet mounts it,
// validates with the real loader without an error or a warning; its
// listener serves the container's http port on every address, and every
// route requires a token.
func TestConfigMapValidates(t *testing.T) {
	m := load(t)
	if len(m.configMap.Data) == 0 || len(m.configMap.BinaryData) > 0 {
		t.Fatalf("ConfigMap data %v: want YAML files", m.configMap.Data)
	}
	for name := range m.configMap.Data {
		if ext := filepath.Ext(name); ext != ".yaml" && ext != ".yml" {
			t.Errorf("ConfigMap key %q: a folder's files are read only when named *.yaml or *.yml", name)
		}
	}
	v := mountConfigMap(t, m, func(s string) string { return s })
	snap := compileMounted(t, v.dir)
	if len(snap.Issues) > 0 {
		t.Fatalf("the ConfigMap's configuration has issues:\n%v", snap.Issues.Err())
	}
	if len(snap.Files) != len(m.configMap.Data) {
		t.Errorf("read files %q, want the ConfigMap's %d keys (and not the kubelet's hidden entries)", snap.Files, len(m.configMap.Data))
	}
	c := container(t, m)
	cfg := snap.Config
	if len(cfg.Listeners) != 1 {
		t.Fatalf("listeners %+v, want one", cfg.Listeners)
	}
	host, port, err := net.SplitHostPort(cfg.Listeners[0].Address)
	if err != nil {
		t.Fatal(err)
	}
	if host != "0.0.0.0" || port != strconv.Itoa(int(containerPort(c, "http"))) {
		t.Errorf("listener address %s, want 0.0.0.0:%d (the container's http port)", cfg.Listeners[0].Address, containerPort(c, "http"))
	}
	if len(cfg.Routes) == 0 {
		t.Fatal("no routes")
	}
	for _, r := range cfg.Routes {
		if r.JWT == nil {
			t.Errorf("route %s requires no token", r.Name)
		}
	}
}

// local stands in for the cluster: the listener on a free loopback port,
// the key set served by a local issuer, the backends by local servers.
type local struct {
	listen  string
	issuer  *demo.Issuer
	jwks    string
	backend map[string]string // the ConfigMap's backend URL -> a local one
}

// newLocal starts the issuer of cfg's first provider and one upstream per
// backend, answering with its index.
func newLocal(t *testing.T, cfg *model.Config) *local {
	t.Helper()
	if len(cfg.Providers) == 0 || cfg.Providers[0].JWKS.URI == "" {
		t.Fatalf("providers %+v: want a remote key set first", cfg.Providers)
	}
	iss, err := demo.NewIssuer(cfg.Providers[0].Issuer)
	if err != nil {
		t.Fatal(err)
	}
	idp := httptest.NewServer(iss.Handler())
	t.Cleanup(idp.Close)
	l := &local{listen: freeAddr(t), issuer: iss, jwks: idp.URL + demo.JWKSPath, backend: map[string]string{}}
	for i, r := range cfg.Routes {
		body := strconv.Itoa(i)
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, body)
		}))
		t.Cleanup(up.Close)
		l.backend[r.Backend.URL] = up.URL
	}
	return l
}

// edit returns the configuration text with the cluster's addresses
// replaced by the local ones.
func (l *local) edit(t *testing.T, cfg *model.Config) func(string) string {
	return func(s string) string {
		replace := func(old, new string) {
			if !strings.Contains(s, old) {
				t.Fatalf("the configuration text lacks %q", old)
			}
			s = strings.ReplaceAll(s, old, new)
		}
		replace(cfg.Listeners[0].Address, l.listen)
		replace(cfg.Providers[0].JWKS.URI, l.jwks)
		for from, to := range l.backend {
			replace(from, to)
		}
		return s
	}
}

// token mints a token the first provider accepts.
func (l *local) token(t *testing.T, cfg *model.Config) string {
	t.Helper()
	extra := map[string]any{}
	if aud := cfg.Providers[0].Audiences; len(aud) > 0 {
		extra["aud"] = aud[0]
	}
	tok, err := l.issuer.MintFor("k8s-test", time.Hour, extra)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// get sends a GET with an optional bearer token and returns the status
// and the body.
func get(url, token string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, strings.TrimSpace(string(body)), err
}

// eventually polls f until it returns "" (success) or wait passes, then
// fails with f's last complaint.
func eventually(t *testing.T, what string, f func() string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s after %s", what, msg, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The gateway as the pod runs it, in-process: the ConfigMap mounted as
// the kubelet mounts it, the admin listener up. The probe paths and the
// scrape path of the manifests answer 200, the route requires a token,
// and a ConfigMap update (the kubelet's ..data swap) is reloaded by the
// file watcher with no signal.
func TestPodServesProbesAndReloadsConfigMap(t *testing.T) {
	m := load(t)
	c := container(t, m)
	cfg := compileMounted(t, mountConfigMap(t, m, func(s string) string { return s }).dir).Config
	l := newLocal(t, cfg)
	v := mountConfigMap(t, m, l.edit(t, cfg))

	reloads := make(chan error, 16)
	gw, snap, err := gateway.Start(context.Background(), gateway.Options{
		Paths:        []string{v.dir},
		AdminAddress: "127.0.0.1:0",
		Watch:        true,
		Reloaded:     func(err error) { reloads <- err },
	})
	if err != nil {
		t.Fatalf("starting the gateway: %v (%v)", err, snap.Issues.Err())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	admin := "http://" + gw.AdminAddr().String()
	paths := map[string]string{
		"readiness probe": c.ReadinessProbe.HTTPGet.Path,
		"liveness probe":  c.LivenessProbe.HTTPGet.Path,
		"scrape":          m.deployment.Spec.Template.Annotations["prometheus.io/path"],
	}
	for what, path := range paths {
		eventually(t, what+" "+path, func() string {
			status, body, err := get(admin+path, "")
			if err != nil || status != http.StatusOK {
				return fmt.Sprintf("GET %s = %d %.60q, %v", path, status, body, err)
			}
			return ""
		})
	}

	web := "http://" + l.listen + "/"
	if status, body, err := get(web, ""); err != nil || status != http.StatusUnauthorized {
		t.Errorf("no token: %d %q, %v; want 401", status, body, err)
	}
	tok := l.token(t, cfg)
	if status, body, err := get(web, tok); err != nil || status != http.StatusOK || body != "0" {
		t.Fatalf("valid token: %d %q, %v; want 200 from the first backend", status, body, err)
	}

	// The ConfigMap changes: its first route now goes to another backend.
	if len(l.backend) < 1 {
		t.Fatal("no backend")
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "updated")
	}))
	t.Cleanup(other.Close)
	before := l.backend[cfg.Routes[0].Backend.URL]
	v.write(t, editData(m, func(s string) string {
		return strings.ReplaceAll(l.edit(t, cfg)(s), before, other.URL)
	}))
	select {
	case err := <-reloads:
		if err != nil {
			t.Fatalf("reload after the ConfigMap update: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("no reload after the ConfigMap update")
	}
	if status, body, err := get(web, tok); err != nil || status != http.StatusOK || body != "updated" {
		t.Errorf("after the update: %d %q, %v; want 200 from the new backend", status, body, err)
	}
}
