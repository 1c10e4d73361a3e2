package tsb_test

import (
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/dialecttest"
	"jwtgate.dev/jwtgate/internal/model"
)

// goldenCases are every input under testdata, some with several
// selections.
var goldenCases = []dialecttest.Case{
	{Name: "seed000", Path: "testdata/seed000.yaml"},
	{Name: "seed002", Path: "testdata/seed002.yaml"},
	{Name: "groups", Path: "testdata/groups.yaml"},
	{Name: "precedence", Path: "testdata/precedence.yaml"},
	{Name: "variants", Path: "testdata/variants.yaml"},
	{Name: "select-none", Path: "testdata/select.yaml"},
	{Name: "select-workload", Path: "testdata/select.yaml", Sel: dialect.Selection{
		WorkloadNamespace: "egress", WorkloadLabels: map[string]string{"app": "egress-gateway", "team": "a", "pod-template-hash": "x"}}},
	{Name: "select-labels-missing", Path: "testdata/select.yaml", Sel: dialect.Selection{
		WorkloadNamespace: "egress", WorkloadLabels: map[string]string{"app": "egress-gateway"}}},
	{Name: "select-gateway", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "egress-b/team-b"}},
	// Labels only: both gateways' selectors are met.
	{Name: "select-ambiguous", Path: "testdata/select.yaml", Sel: dialect.Selection{WorkloadLabels: map[string]string{"app": "egress-gateway", "team": "a"}}},
	{Name: "select-nomatch", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "egress/team-c"}},
	{Name: "errors-gateway", Path: "testdata/errors-gateway.yaml"},
	{Name: "errors-egressgateway", Path: "testdata/errors-egressgateway.yaml"},
	{Name: "errors-metadata", Path: "testdata/errors-metadata.yaml"},
	{Name: "unsupported-mixed", Path: "testdata/unsupported.yaml", Sel: dialect.Selection{Gateway: "gw/mixed"}},
	{Name: "unsupported-ingress-only", Path: "testdata/unsupported.yaml", Sel: dialect.Selection{WorkloadNamespace: "gw", WorkloadLabels: map[string]string{"app": "ingress"}}},
}

// golden is what a golden file holds: every diagnostic, the status of
// every resource, which rules decide each egress host, and the model
// pieces the dialect made.
type golden struct {
	dialecttest.Head `yaml:",inline"`
	Plans            []string         `yaml:"plans,omitempty"`
	Providers        []model.Provider `yaml:"providers,omitempty"`
	Egress           model.Egress     `yaml:"egress,omitempty"`
}

// TestGolden reads each input with its selection and compares the
// result with testdata/golden/NAME.golden. Regenerate with -update.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.Name, func(t *testing.T) {
			ld, issues, statuses := dialecttest.Read(t, c)
			g := golden{Head: dialecttest.NewHead(issues, statuses)}
			for _, p := range ld.Config.EgressPlans() {
				g.Plans = append(g.Plans, p.String())
			}
			g.Providers, g.Egress = ld.Config.Providers, ld.Config.Egress
			dialecttest.Golden(t, c.Name, g)
		})
	}
}

// TestEveryResourceHasAStatus checks that every document of every input
// gets exactly one status.
func TestEveryResourceHasAStatus(t *testing.T) {
	dialecttest.EveryResourceHasAStatus(t, goldenCases)
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
		ld, issues, statuses := dialecttest.Read(t, dialecttest.Case{Path: "testdata/select.yaml", Sel: tc.sel})
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
	ld, issues, statuses := dialecttest.Read(t, dialecttest.Case{Path: "testdata/select.yaml"})
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
