package tsb_test

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
	{name: "seed000", file: "seed000.yaml"},
	{name: "seed002", file: "seed002.yaml"},
	{name: "groups", file: "groups.yaml"},
	{name: "precedence", file: "precedence.yaml"},
	{name: "variants", file: "variants.yaml"},
	{name: "select-none", file: "select.yaml"},
	{name: "select-workload", file: "select.yaml", sel: dialect.Selection{
		WorkloadNamespace: "egress", WorkloadLabels: map[string]string{"app": "egress-gateway", "team": "a", "pod-template-hash": "x"}}},
	{name: "select-labels-missing", file: "select.yaml", sel: dialect.Selection{
		WorkloadNamespace: "egress", WorkloadLabels: map[string]string{"app": "egress-gateway"}}},
	{name: "select-gateway", file: "select.yaml", sel: dialect.Selection{Gateway: "egress-b/team-b"}},
	// Labels only: both gateways' selectors are met.
	{name: "select-ambiguous", file: "select.yaml", sel: dialect.Selection{WorkloadLabels: map[string]string{"app": "egress-gateway", "team": "a"}}},
	{name: "select-nomatch", file: "select.yaml", sel: dialect.Selection{Gateway: "egress/team-c"}},
	{name: "errors-gateway", file: "errors-gateway.yaml"},
	{name: "errors-egressgateway", file: "errors-egressgateway.yaml"},
	{name: "errors-metadata", file: "errors-metadata.yaml"},
	{name: "unsupported-mixed", file: "unsupported.yaml", sel: dialect.Selection{Gateway: "gw/mixed"}},
	{name: "unsupported-ingress-only", file: "unsupported.yaml", sel: dialect.Selection{WorkloadNamespace: "gw", WorkloadLabels: map[string]string{"app": "ingress"}}},
}

// golden is what a golden file holds: every diagnostic (file:line: field:
// message), the status of every resource, which rules decide each egress
// host, and the model pieces the dialect made.
type golden struct {
	Diagnostics []string         `yaml:"diagnostics,omitempty"`
	Resources   []string         `yaml:"resources"`
	Plans       []string         `yaml:"plans,omitempty"`
	Providers   []model.Provider `yaml:"providers,omitempty"`
	Egress      model.Egress     `yaml:"egress,omitempty"`
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
			for _, p := range ld.Config.EgressPlans() {
				g.Plans = append(g.Plans, p.String())
			}
			g.Providers, g.Egress = ld.Config.Providers, ld.Config.Egress
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
				t.Fatalf("%v (run go test ./internal/dialect/tsb -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from %s (run go test ./internal/dialect/tsb -update and review the diff):\n%s", c.file, path, b.Bytes())
			}
		})
	}
}

// TestEveryResourceHasAStatus checks that every document of every input
// gets exactly one status, and that the gateways not served are
// NotSelected whenever the selection left them out.
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

// documents lists the resources of a file as the TSB documents name
// them (native documents: their listeners).
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
			Spec struct {
				WorkloadSelector struct{ Namespace string } `yaml:"workloadSelector"`
			}
			Listeners []struct{ Name string }
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if doc.Kind == "Config" {
			for _, l := range doc.Listeners {
				out = append(out, model.Ref{APIVersion: doc.APIVersion, Kind: "Listener", Namespace: model.DefaultNamespace, Name: l.Name})
			}
			continue
		}
		ns := doc.Metadata.Namespace
		if ns == "" {
			ns = doc.Spec.WorkloadSelector.Namespace
		}
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

// TestNotSelected checks the statuses of the gateways a selection leaves
// out, and that they contribute nothing.
func TestNotSelected(t *testing.T) {
	for _, tc := range []struct {
		sel             dialect.Selection
		served, skipped string
	}{
		{dialect.Selection{Gateway: "egress/team-a"}, "team-a", "EgressGateway egress-b/team-b"},
		{dialect.Selection{Gateway: "egress-b/team-b"}, "team-b", "Gateway egress/team-a"},
		{dialect.Selection{WorkloadNamespace: "egress-b", WorkloadLabels: map[string]string{"app": "egress-gateway"}}, "team-b", "Gateway egress/team-a"},
	} {
		ld, issues, statuses := read(t, goldenCase{file: "select.yaml", sel: tc.sel})
		if len(issues.Errors()) > 0 {
			t.Fatalf("%+v: %v", tc.sel, issues)
		}
		for _, st := range statuses {
			want := model.ReasonAccepted
			if st.Ref.String() == tc.skipped {
				want = model.ReasonNotSelected
			}
			if got := st.Conditions[0].Reason; got != want {
				t.Errorf("%+v: %s is %s, want %s", tc.sel, st.Ref, got, want)
			}
		}
		for _, s := range ld.Config.Egress.Servers {
			if !strings.HasPrefix(s.Name, tc.served) {
				t.Errorf("%+v: egress server %q of a gateway not selected", tc.sel, s.Name)
			}
		}
		for _, a := range ld.Config.Egress.Authorizations {
			if !strings.HasPrefix(a.Name, tc.served) {
				t.Errorf("%+v: egress authorization %q of a gateway not selected", tc.sel, a.Name)
			}
		}
	}
	// Without a selection, two gateways are an error, and neither is
	// served.
	ld, issues, statuses := read(t, goldenCase{file: "select.yaml"})
	if len(issues.Errors()) != 1 || !strings.Contains(issues.Errors()[0].Msg, "--workload-namespace NS --workload-labels k=v,...") {
		t.Errorf("issues: %v", issues)
	}
	if len(ld.Config.Egress.Servers) != 0 {
		t.Errorf("servers: %+v", ld.Config.Egress.Servers)
	}
	n := 0
	for _, st := range statuses {
		if st.Conditions[0].Reason == model.ReasonNotSelected {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d gateways NotSelected, want 2: %v", n, statuses)
	}
}
