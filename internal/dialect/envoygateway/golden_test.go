package envoygateway_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// examples is the folder of the runnable example.
const examples = "../../../examples/envoygateway"

// goldenCase is one input (a file or a folder) read with one selection.
type goldenCase struct {
	name, path string
	sel        dialect.Selection
}

// goldenCases are every input under testdata, some with several
// selections, and the example.
var goldenCases = []goldenCase{
	{name: "example", path: examples},
	{name: "basic", path: "testdata/basic.yaml"},
	{name: "attach", path: "testdata/attach.yaml"},
	{name: "select-a", path: "testdata/select.yaml", sel: dialect.Selection{Gateway: "team-a/gw"}},
	{name: "select-b", path: "testdata/select.yaml", sel: dialect.Selection{Gateway: "team-b/gw"}},
	{name: "select-other", path: "testdata/select.yaml", sel: dialect.Selection{Gateway: "istio-system/ingress"}},
	{name: "unsupported", path: "testdata/unsupported.yaml"},
	{name: "errors", path: "testdata/errors.yaml"},
	{name: "policies-only", path: "testdata/policies-only.yaml"},
}

// golden is what a golden file holds: every diagnostic (file:line:
// field: message), the status of every resource, the model pieces this
// dialect makes, and what applies to each route.
type golden struct {
	Diagnostics []string            `yaml:"diagnostics,omitempty"`
	Resources   []string            `yaml:"resources"`
	Providers   []model.Provider    `yaml:"providers,omitempty"`
	JWTPolicies []model.JWTPolicy   `yaml:"jwtPolicies,omitempty"`
	Policies    []model.Policy      `yaml:"policies,omitempty"`
	Effective   map[string][]string `yaml:"effective,omitempty"`
}

// read loads a case the way serve and validate do.
func read(t testing.TB, c goldenCase) (*config.Loaded, model.Issues, []model.Status) {
	t.Helper()
	ld := config.ReadSelected(c.sel, c.path)
	cfg, issues := ld.Validated()
	notes := append(slices.Clone(ld.Notes), ld.Config.Notes()...)
	return ld, issues, model.Statuses(ld.Resources, issues, notes, cfg != nil)
}

// TestGolden reads each input with its selection and compares the result
// with testdata/golden/NAME.golden. Regenerate with -update.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			ld, issues, statuses := read(t, c)
			var g golden
			for _, is := range issues {
				g.Diagnostics = append(g.Diagnostics, is.Error())
			}
			for _, st := range statuses {
				g.Resources = append(g.Resources, st.String())
			}
			cfg := ld.Config
			g.Providers, g.JWTPolicies, g.Policies = cfg.Providers, cfg.JWTPolicies, cfg.Policies
			for _, r := range cfg.Routes {
				var e []string
				if eff := cfg.EffectiveJWT(r); eff.Requirement != nil {
					e = append(e, "jwt: "+eff.From+" ("+string(eff.Requirement.Mode)+")")
				}
				for _, p := range cfg.PoliciesFor(r) {
					e = append(e, string(p.Action)+" policy "+p.Name)
				}
				if g.Effective == nil {
					g.Effective = map[string][]string{}
				}
				g.Effective[r.Name] = e
			}
			var b bytes.Buffer
			enc := yaml.NewEncoder(&b)
			enc.SetIndent(2)
			if err := enc.Encode(g); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", c.name+".golden")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/dialect/envoygateway -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from %s (run go test ./internal/dialect/envoygateway -update and review the diff):\n%s", c.path, path, b.Bytes())
			}
		})
	}
}

// TestEveryResourceHasAStatus checks that every document of every input
// gets exactly one status.
func TestEveryResourceHasAStatus(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			_, _, statuses := read(t, c)
			seen := map[model.Ref]int{}
			for _, st := range statuses {
				seen[st.Ref]++
				if len(st.Conditions) != 1 {
					t.Errorf("%s: %d conditions", st.Ref, len(st.Conditions))
				}
			}
			for ref, n := range seen {
				if n != 1 {
					t.Errorf("%s: %d statuses", ref, n)
				}
			}
			if len(statuses) == 0 {
				t.Error("no status")
			}
		})
	}
}
