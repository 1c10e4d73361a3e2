package gateway

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/proxy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestCompileGolden compiles every example and each input under
// testdata/compile and compares the second half of the compiler, the
// model compiled into a runtime, with a golden file: the diagnostics, the
// status of every resource, and each compiled route's explanation.
// (The first half, YAML -> model, has its golden files in
// internal/config.) Regenerate with -update.
func TestCompileGolden(t *testing.T) {
	inputs, _ := filepath.Glob("../../examples/*.yaml")
	inputs = append(inputs, "../../examples/multi")
	more, _ := filepath.Glob("testdata/compile/*.yaml")
	inputs = append(inputs, more...)
	if len(inputs) < 6 {
		t.Fatalf("only %d inputs", len(inputs))
	}
	for _, in := range inputs {
		t.Run(in, func(t *testing.T) {
			snap := Compile([]string{in}, proxy.Options{})
			if snap.Runtime != nil {
				defer snap.Runtime.Close()
			}
			type out struct {
				Diagnostics []string                 `yaml:"diagnostics,omitempty"`
				Resources   []string                 `yaml:"resources"`
				Routes      []proxy.RouteExplanation `yaml:"routes,omitempty"`
			}
			var o out
			for _, is := range snap.Issues {
				o.Diagnostics = append(o.Diagnostics, is.Error())
			}
			for _, st := range snap.Statuses {
				o.Resources = append(o.Resources, st.String())
			}
			if snap.Runtime != nil {
				o.Routes = snap.Runtime.Explain()
			}
			var b bytes.Buffer
			enc := yaml.NewEncoder(&b)
			enc.SetIndent(2)
			if err := enc.Encode(o); err != nil {
				t.Fatal(err)
			}
			name := strings.TrimSuffix(filepath.Base(in), ".yaml")
			if strings.HasPrefix(in, "../../examples") {
				name = "example-" + name
			}
			golden := filepath.Join("testdata", "golden", name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/gateway -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from %s (run go test ./internal/gateway -update and review the diff):\n%s", in, golden, b.Bytes())
			}
		})
	}
}
