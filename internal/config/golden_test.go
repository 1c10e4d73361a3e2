package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGolden loads each example and test input and compares the model,
// printed as YAML after its warnings, with a golden file.
func TestGolden(t *testing.T) {
	type gcase struct{ in, golden string }
	var cases []gcase
	examples, _ := filepath.Glob("../../examples/*.yaml")
	for _, in := range examples {
		cases = append(cases, gcase{in, filepath.Join("testdata/examples", strings.TrimSuffix(filepath.Base(in), ".yaml")+".golden")})
	}
	cases = append(cases, gcase{"../../examples/multi", "testdata/examples/multi.golden"})
	inputs, _ := filepath.Glob("testdata/golden/*.yaml")
	inputs = append(inputs, "testdata/design.yaml")
	for _, in := range inputs {
		cases = append(cases, gcase{in, strings.TrimSuffix(in, ".yaml") + ".golden"})
	}
	if len(cases) < 6 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			cfg, is := Load(c.in)
			if len(is.Errors()) > 0 {
				t.Fatalf("errors:\n%s", strings.Join(issueTexts(is), "\n"))
			}
			var b bytes.Buffer
			for _, i := range is {
				b.WriteString("# " + i.Error() + "\n")
			}
			enc := yaml.NewEncoder(&b)
			enc.SetIndent(2)
			if err := enc.Encode(cfg); err != nil {
				t.Fatal(err)
			}
			got := b.Bytes()
			if *update {
				if err := os.MkdirAll(filepath.Dir(c.golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(c.golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(c.golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/config -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run go test ./internal/config -update and review the diff):\n%s", c.in, c.golden, got)
			}
		})
	}
}
