package watch

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// kubelet writes a folder the way the kubelet's atomic writer updates a
// ConfigMap or Secret volume: the new version's files go into a new
// hidden timestamped directory; a ..data_tmp link to it is renamed over
// ..data (the one atomic step); each key gets a link KEY -> ..data/KEY
// if it has none; links of keys no longer there are removed; and the
// previous timestamped directory is deleted.
type kubelet struct {
	dir     string
	n       int
	current string
	keys    map[string]bool
}

func (k *kubelet) write(t *testing.T, files map[string]string) {
	t.Helper()
	k.n++
	ts := fmt.Sprintf("..2026_03_01_12_00_%02d.%09d", k.n, 100000000+k.n)
	if err := os.Mkdir(filepath.Join(k.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		write(t, filepath.Join(k.dir, ts, name), data)
	}
	tmp := filepath.Join(k.dir, "..data_tmp")
	symlink(t, ts, tmp)
	if err := os.Rename(tmp, filepath.Join(k.dir, dataLink)); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		if !k.keys[name] {
			symlink(t, filepath.Join(dataLink, name), filepath.Join(k.dir, name))
		}
	}
	for name := range k.keys {
		if _, ok := files[name]; !ok {
			if err := os.Remove(filepath.Join(k.dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if k.current != "" {
		if err := os.RemoveAll(filepath.Join(k.dir, k.current)); err != nil {
			t.Fatal(err)
		}
	}
	k.current = ts
	k.keys = map[string]bool{}
	for name := range files {
		k.keys[name] = true
	}
}

// readYAML reads what the config loader would read at path: the file, or
// a folder's *.yaml and *.yml files that are not hidden, by name.
func readYAML(path string) map[string]string {
	out := map[string]string{}
	fi, err := os.Stat(path)
	if err != nil {
		return out
	}
	if !fi.IsDir() {
		if data, err := os.ReadFile(path); err == nil {
			out[filepath.Base(path)] = string(data)
		}
		return out
	}
	entries, _ := os.ReadDir(path)
	for _, e := range entries {
		if !isConfigName(e.Name()) {
			continue
		}
		if data, err := os.ReadFile(filepath.Join(path, e.Name())); err == nil {
			out[e.Name()] = string(data)
		}
	}
	return out
}

// A ConfigMap volume updated by the kubelet, as `serve -c DIR` (the
// folder) or `serve -c DIR/KEY` (one key) watches it: after every update
// (a changed key, a new key, a removed key, each also deleting the
// previous version's directory) the function is called and, reading the
// path then, finds the new contents.
func TestKubeletConfigMapUpdates(t *testing.T) {
	versions := []struct {
		name  string
		files map[string]string
	}{
		{"initial", map[string]string{"00-listeners.yaml": "listeners: v1\n", "10-routes.yaml": "routes: v1\n"}},
		{"a key changed", map[string]string{"00-listeners.yaml": "listeners: v1\n", "10-routes.yaml": "routes: v2\n"}},
		{"a key added", map[string]string{"00-listeners.yaml": "listeners: v1\n", "10-routes.yaml": "routes: v2\n", "20-extra.yaml": "extra: v1\n"}},
		{"a key removed", map[string]string{"10-routes.yaml": "routes: v3\n", "20-extra.yaml": "extra: v1\n"}},
		{"changed again", map[string]string{"10-routes.yaml": "routes: v4\n", "20-extra.yaml": "extra: v2\n"}},
	}
	for _, mode := range []string{"folder", "file"} {
		t.Run(mode, func(t *testing.T) {
			k := &kubelet{dir: realTempDir(t)}
			k.write(t, versions[0].files)
			path := k.dir
			if mode == "file" {
				path = filepath.Join(k.dir, "10-routes.yaml")
			}
			seen := make(chan map[string]string, 100)
			w, err := New([]string{path}, testDebounce, func() { seen <- readYAML(path) })
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = w.Close() })
			for _, v := range versions[1:] {
				k.write(t, v.files)
				want := v.files
				if mode == "file" {
					want = map[string]string{"10-routes.yaml": v.files["10-routes.yaml"]}
				}
				// The call that follows the update reads it whole; a
				// burst may be split in two calls, the last one counts.
				deadline := time.After(wait)
				var last map[string]string
				for !maps.Equal(last, want) {
					select {
					case last = <-seen:
					case <-deadline:
						t.Fatalf("%s: the last call read %s, want %s", v.name, show(last), show(want))
					}
				}
			}
			// With the old version directories gone, a further update
			// is still seen.
			k.write(t, map[string]string{"10-routes.yaml": "routes: final\n"})
			deadline := time.After(wait)
			for {
				select {
				case got := <-seen:
					if got["10-routes.yaml"] == "routes: final\n" {
						return
					}
				case <-deadline:
					t.Fatal("the update after the removals was not seen")
				}
			}
		})
	}
}

// show prints files in name order.
func show(files map[string]string) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(&b, "%s=%q ", name, files[name])
	}
	return "{" + strings.TrimSpace(b.String()) + "}"
}
