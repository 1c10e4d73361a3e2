package istio_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	{name: "routing", file: "routing.yaml", sel: dialect.Selection{BindAddress: bind}},
	{name: "routing-errors", file: "routing-errors.yaml", sel: dialect.Selection{Gateway: "istio-system/gw", BindAddress: bind}},
	{name: "routing-errors-unselected", file: "routing-errors.yaml"},
	{name: "routing-select-none", file: "routing-select.yaml"},
	{name: "routing-select-name", file: "routing-select.yaml", sel: dialect.Selection{Gateway: "internal/internal", BindAddress: bind}},
	{name: "routing-select-labels", file: "routing-select.yaml", sel: dialect.Selection{
		WorkloadNamespace: "istio-system", WorkloadLabels: map[string]string{"istio": "ingressgateway", "app": "istio-ingressgateway"}, BindAddress: bind}},
	{name: "routing-select-ghost", file: "routing-select.yaml", sel: dialect.Selection{Gateway: "ghost/gw"}},
	{name: "routing-model", file: "routing-model.yaml", sel: dialect.Selection{BindAddress: bind}},
	{name: "asm", file: asmExamples, sel: dialect.Selection{BindAddress: bind}},
}

// bind is the bind address of the routing cases.
const bind = "127.0.0.1"

// asmExamples is the folder of seed 003 as Istio resources.
const asmExamples = "../../../examples/asm"

// inputPath is where a case's input is: under testdata, or the examples.
func inputPath(file string) string {
	if strings.HasPrefix(file, "../") {
		return file
	}
	return filepath.Join("testdata", file)
}

// golden is what a golden file holds: every diagnostic (file:line: field:
// message), the status of every resource, and the model pieces the
// dialect made.
type golden struct {
	Diagnostics []string          `yaml:"diagnostics,omitempty"`
	Resources   []string          `yaml:"resources"`
	Listeners   []model.Listener  `yaml:"listeners,omitempty"`
	Providers   []model.Provider  `yaml:"providers,omitempty"`
	Routes      []model.Route     `yaml:"routes,omitempty"`
	JWTPolicies []model.JWTPolicy `yaml:"jwtPolicies,omitempty"`
	Policies    []model.Policy    `yaml:"policies,omitempty"`
}

// read loads a case the way serve and validate do.
func read(t testing.TB, c goldenCase) (*config.Loaded, model.Issues, []model.Status) {
	t.Helper()
	ld := config.ReadSelected(c.sel, inputPath(c.file))
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
			cfg := ld.Config
			g.Providers, g.JWTPolicies, g.Policies = cfg.Providers, cfg.JWTPolicies, cfg.Policies
			// The listeners and routes the Istio routing resources make
			// (those of native documents are the native dialect's).
			for _, l := range cfg.Listeners {
				if istioMade(l.Origin) {
					g.Listeners = append(g.Listeners, l)
				}
			}
			for _, r := range cfg.Routes {
				if istioMade(r.Origin) {
					g.Routes = append(g.Routes, r)
				}
			}
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

// istioMade reports whether a model piece comes from an Istio document.
func istioMade(o model.Origin) bool { return strings.HasPrefix(o.APIVersion, "networking.istio.io/") }

// TestEveryResourceHasAStatus checks that every document of every input
// gets exactly one status.
func TestEveryResourceHasAStatus(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			_, _, statuses := read(t, c)
			want := documents(t, inputPath(c.file))
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

// documents lists the resources of a file or folder as its documents
// name them (native documents: their listeners and routes).
func documents(t *testing.T, file string) []model.Ref {
	var data []byte
	files, _ := filepath.Glob(filepath.Join(file, "*.yaml"))
	if len(files) == 0 {
		files = []string{file}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data = append(append(data, b...), "\n---\n"...)
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
		if doc.Kind == "" {
			continue // a document of comments only
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
