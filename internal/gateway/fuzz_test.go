package gateway

import (
	"os"
	"path/filepath"
	"testing"

	"jwtgate.dev/jwtgate/internal/proxy"
)

// FuzzCompile feeds raw bytes through the whole compile step (reading,
// every dialect, validation, building, statuses). It must never panic,
// every issue must carry a message, every resource a status, and a
// snapshot without errors must have a runtime.
func FuzzCompile(f *testing.F) {
	seeds, _ := filepath.Glob("../../examples/*.yaml")
	more, _ := filepath.Glob("testdata/compile/*.yaml")
	// Every dialect: each example folder's files, one seed per folder.
	entries, _ := os.ReadDir("../../examples")
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		files, _ := filepath.Glob(filepath.Join("../../examples", e.Name(), "*.yaml"))
		var all []byte
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil {
				all = append(append(all, "\n---\n"...), b...)
			}
		}
		if len(all) > 0 {
			f.Add(all)
		}
	}
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: jwtgate.dev/v1alpha1\nkind: Config\nroutes: [{name: a, match: {paths: 7}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		snap := CompileBytes("fuzz.yaml", data, proxy.Options{})
		if snap.Runtime != nil {
			defer snap.Runtime.Close()
		}
		for _, is := range snap.Issues {
			if is.Msg == "" {
				t.Fatalf("issue without a message: %+v", is)
			}
		}
		for _, st := range snap.Statuses {
			if len(st.Conditions) != 1 || st.Conditions[0].Reason == "" {
				t.Fatalf("status without a reason: %+v", st)
			}
		}
		if (len(snap.Issues.Errors()) == 0) != snap.OK() {
			t.Fatalf("errors %d but runtime %v", len(snap.Issues.Errors()), snap.Runtime != nil)
		}
	})
}
