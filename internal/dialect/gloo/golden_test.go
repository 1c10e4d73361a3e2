package gloo_test

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

// goldenCase is one input (a file or a folder) read with one selection.
type goldenCase struct {
	name, path string
	sel        dialect.Selection
}

// examples is the folder of the runnable example, seed 001's resources.
const examples = "../../../examples/gloo"

var bind = "127.0.0.1"

// goldenCases are every input under testdata, some with several
// selections.
var goldenCases = []goldenCase{
	{name: "seed001", path: examples},
	{name: "conflict", path: "testdata/conflict.yaml"},
	{name: "gateway", path: "testdata/gateway.yaml", sel: dialect.Selection{BindAddress: bind}},
	{name: "actions", path: "testdata/actions.yaml", sel: dialect.Selection{BindAddress: bind}},
	{name: "unsupported", path: "testdata/unsupported.yaml"},
	{name: "errors", path: "testdata/errors.yaml"},
	{name: "select-none", path: "testdata/select.yaml"},
	{name: "select-gateway", path: "testdata/select.yaml", sel: dialect.Selection{Gateway: "gateways/north", BindAddress: bind}},
	{name: "select-gateway-name", path: "testdata/select.yaml", sel: dialect.Selection{Gateway: "east", BindAddress: bind}},
	{name: "select-gateway-workload", path: "testdata/select.yaml", sel: dialect.Selection{
		WorkloadNamespace: "gateways", WorkloadLabels: map[string]string{"istio": "ingressgateway", "pod-template-hash": "x"}, BindAddress: bind}},
	{name: "select-mesh-labels", path: "testdata/select.yaml", sel: dialect.Selection{
		WorkloadNamespace: "apps", WorkloadLabels: map[string]string{"app": "sleep"}}},
	{name: "select-mesh-namespace", path: "testdata/select.yaml", sel: dialect.Selection{WorkloadNamespace: "apps"}},
	{name: "select-nomatch", path: "testdata/select.yaml", sel: dialect.Selection{Gateway: "gateways/ghost"}},
}

// golden is what a golden file holds: every diagnostic (file:line: field:
// message), the status of every resource, and the model pieces read.
type golden struct {
	Diagnostics []string            `yaml:"diagnostics,omitempty"`
	Resources   []string            `yaml:"resources"`
	Listeners   []model.Listener    `yaml:"listeners,omitempty"`
	Providers   []model.Provider    `yaml:"providers,omitempty"`
	Routes      []model.Route       `yaml:"routes,omitempty"`
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
			g.Listeners, g.Providers, g.Routes, g.JWTPolicies, g.Policies = cfg.Listeners, cfg.Providers, cfg.Routes, cfg.JWTPolicies, cfg.Policies
			for _, r := range cfg.Routes {
				eff := cfg.EffectiveJWT(r)
				if eff.Requirement == nil {
					continue
				}
				if g.Effective == nil {
					g.Effective = map[string][]string{}
				}
				g.Effective[r.Name] = append([]string{eff.From}, eff.NotApplied...)
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
				t.Fatalf("%v (run go test ./internal/dialect/gloo -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from %s (run go test ./internal/dialect/gloo -update and review the diff):\n%s", c.path, path, b.Bytes())
			}
		})
	}
}

// TestEveryResourceHasAStatus checks that every document of every input
// gets exactly one status.
func TestEveryResourceHasAStatus(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			ld, _, statuses := read(t, c)
			refs := map[model.Ref]bool{}
			for _, o := range ld.Resources {
				refs[o.Ref] = true
			}
			if len(statuses) != len(refs) {
				t.Errorf("%d statuses for %d resources", len(statuses), len(refs))
			}
			for _, st := range statuses {
				if len(st.Conditions) != 1 || st.Conditions[0].Reason == "" {
					t.Errorf("%s: conditions %+v", st.Ref, st.Conditions)
				}
			}
		})
	}
}
