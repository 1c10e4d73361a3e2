package istio_test

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

// goldenCase is one input file read with one selection.
type goldenCase struct {
	name, file string
	sel        dialect.Selection
}

// goldenCases are every input under testdata, some with several
// selections.
var goldenCases = []goldenCase{
	{name: "seed003", file: "seed003.yaml"},
	{name: "select-none", file: "select.yaml"},
	{name: "select-shop-api", file: "select.yaml", sel: dialect.Selection{
		WorkloadNamespace: "shop", WorkloadLabels: map[string]string{"app": "api", "version": "v1", "pod-template-hash": "x"}}},
	{name: "select-shop-labels-missing", file: "select.yaml", sel: dialect.Selection{
		WorkloadNamespace: "shop", WorkloadLabels: map[string]string{"app": "api"}}},
	{name: "select-ingress", file: "select.yaml", sel: dialect.Selection{
		WorkloadNamespace: "istio-system", WorkloadLabels: map[string]string{"istio": "ingressgateway"}}},
	{name: "select-gateway", file: "select.yaml", sel: dialect.Selection{Gateway: "shop/shop-gw"}},
	{name: "actions", file: "actions.yaml"},
	{name: "fields", file: "fields.yaml"},
	{name: "requestauth", file: "requestauth.yaml"},
	{name: "errors", file: "errors.yaml"},
	{name: "errors-model", file: "errors-model.yaml"},
	{name: "noname", file: "noname.yaml"},
}

// golden is what a golden file holds: every diagnostic (file:line: field:
// message), the status of every resource, and the model pieces the
// dialect made.
type golden struct {
	Diagnostics []string          `yaml:"diagnostics,omitempty"`
	Resources   []string          `yaml:"resources"`
	Providers   []model.Provider  `yaml:"providers,omitempty"`
	JWTPolicies []model.JWTPolicy `yaml:"jwtPolicies,omitempty"`
	Policies    []model.Policy    `yaml:"policies,omitempty"`
}

// read loads a case the way serve and validate do.
func read(t testing.TB, c goldenCase) (*config.Loaded, model.Issues, []model.Status) {
	t.Helper()
	ld := config.ReadSelected(c.sel, filepath.Join("testdata", c.file))
	cfg, issues := ld.Validated()
	notes := append(slices.Clone(ld.Notes), ld.Config.Notes()...)
	return ld, issues, model.Statuses(ld.Resources, issues, notes, cfg != nil)
}

// TestGolden reads each input with its selection and compares the
// result with testdata/golden/NAME.golden. Regenerate with -update.
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
			g.Providers, g.JWTPolicies, g.Policies = ld.Config.Providers, ld.Config.JWTPolicies, ld.Config.Policies
			var b bytes.Buffer
			enc := yaml.NewEncoder(&b)
			enc.SetIndent(2)
			if err := enc.Encode(g); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", c.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/dialect/istio -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from %s (run go test ./internal/dialect/istio -update and review the diff):\n%s", c.file, path, b.Bytes())
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
			want := documents(t, filepath.Join("testdata", c.file))
			var got []model.Ref
			for _, st := range statuses {
				got = append(got, st.Ref)
			}
			for _, ref := range want {
				if !slices.Contains(got, ref) {
					t.Errorf("%s has no status (statuses: %v)", ref, got)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d statuses for %d resources: %v", len(got), len(want), got)
			}
		})
	}
}

// documents lists the resources of a file as its documents name them
// (native documents: their listeners and routes).
func documents(t *testing.T, file string) []model.Ref {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []model.Ref
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name, Namespace string
			}
			Listeners []struct{ Name string }
			Routes    []struct{ Name string }
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if doc.Kind == "Config" {
			for _, l := range doc.Listeners {
				out = append(out, model.Ref{APIVersion: doc.APIVersion, Kind: "Listener", Namespace: model.DefaultNamespace, Name: l.Name})
			}
			for _, r := range doc.Routes {
				out = append(out, model.Ref{APIVersion: doc.APIVersion, Kind: "Route", Namespace: model.DefaultNamespace, Name: r.Name})
			}
			continue
		}
		ns := doc.Metadata.Namespace
		if ns == "" {
			ns = model.DefaultNamespace
		}
		ref := model.Ref{APIVersion: doc.APIVersion, Kind: doc.Kind, Namespace: ns, Name: doc.Metadata.Name}
		if !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
}
