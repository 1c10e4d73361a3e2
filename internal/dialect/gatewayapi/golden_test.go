package gatewayapi_test

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
	{name: "basic", file: "basic.yaml"},
	{name: "basic-bind", file: "basic.yaml", sel: dialect.Selection{BindAddress: "127.0.0.1"}},
	{name: "precedence", file: "precedence.yaml"},
	{name: "hostnames", file: "hostnames.yaml"},
	{name: "refs", file: "refs.yaml"},
	{name: "filters", file: "filters.yaml"},
	{name: "listeners", file: "listeners.yaml"},
	{name: "sni", file: "sni.yaml"},
	{name: "errors", file: "errors.yaml"},
	{name: "locate", file: "locate.yaml"},
	{name: "grpcroute", file: "grpcroute.yaml"},
	{name: "grpcroute-errors", file: "grpcroute-errors.yaml"},
	{name: "select-none", file: "select.yaml"},
	{name: "select-a", file: "select.yaml", sel: dialect.Selection{Gateway: "team-a/gw"}},
	{name: "select-b", file: "select.yaml", sel: dialect.Selection{Gateway: "team-b/gw"}},
	{name: "select-ambiguous", file: "select.yaml", sel: dialect.Selection{Gateway: "gw"}},
	{name: "select-other", file: "select.yaml", sel: dialect.Selection{Gateway: "egress/tsb-gateway"}},
}

// golden is what a golden file holds: every diagnostic (file:line: field:
// message), the status of every resource, and the model listeners and
// routes the dialect made, in order.
type golden struct {
	Diagnostics []string         `yaml:"diagnostics,omitempty"`
	Resources   []string         `yaml:"resources"`
	Listeners   []model.Listener `yaml:"listeners,omitempty"`
	Routes      []model.Route    `yaml:"routes,omitempty"`
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
			g.Listeners, g.Routes = ld.Config.Listeners, ld.Config.Routes
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
				t.Fatalf("%v (run go test ./internal/dialect/gatewayapi -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from %s (run go test ./internal/dialect/gatewayapi -update and review the diff):\n%s", c.file, path, b.Bytes())
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
			var got []string
			for _, st := range statuses {
				got = append(got, st.APIVersion+" "+st.Kind+" "+st.Namespace+"/"+st.Name)
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

// documents lists the resources of a file: "apiVersion Kind
// namespace/name".
func documents(t *testing.T, file string) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name, Namespace string
			}
			Listeners []struct{ Name string }
			Providers []struct{ Name string }
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		switch {
		case doc.Kind == "Config":
			for _, l := range doc.Listeners {
				out = append(out, doc.APIVersion+" Listener default/"+l.Name)
			}
			for _, p := range doc.Providers {
				out = append(out, doc.APIVersion+" Provider default/"+p.Name)
			}
			continue
		case doc.Kind == "GatewayClass":
		case doc.Metadata.Namespace == "":
			doc.Metadata.Namespace = model.DefaultNamespace
		}
		ref := doc.APIVersion + " " + doc.Kind + " " + doc.Metadata.Namespace + "/" + doc.Metadata.Name
		if !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
}
