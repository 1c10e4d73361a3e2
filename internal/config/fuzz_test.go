package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadBytes checks that no input panics the loader and that every
// result is either a configuration without errors or nil with errors.
func FuzzLoadBytes(f *testing.F) {
	seeds, _ := filepath.Glob("../../examples/*.yaml")
	more, _ := filepath.Glob("testdata/golden/*.yaml")
	for _, p := range append(append(seeds, more...), "testdata/design.yaml") {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(head + route))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("---\n---\n- x\n"))
	f.Add([]byte("apiVersion: jwtgate.dev/v1alpha1\nkind: Config\nroutes: [{name: r, jwt: {providers: [p], bypassIfMatched: {paths: ['*']}}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, is := LoadBytes("fuzz.yaml", data)
		errs := len(is.Errors())
		if cfg == nil && errs == 0 {
			t.Fatalf("nil config without errors; issues: %v", issueTexts(is))
		}
		if cfg != nil && errs > 0 {
			t.Fatalf("config with errors: %v", issueTexts(is))
		}
		for _, i := range is {
			if i.Msg == "" {
				t.Fatalf("issue without message: %#v", i)
			}
		}
	})
}
