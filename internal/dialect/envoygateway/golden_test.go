package envoygateway_test

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/dialecttest"
	"jwtgate.dev/jwtgate/internal/model"
)

// examples is the folder of the runnable example.
const examples = "../../../examples/envoygateway"

// goldenCases are every input under testdata, some with several
// selections, and the example.
var goldenCases = []dialecttest.Case{
	{Name: "example", Path: examples},
	{Name: "basic", Path: "testdata/basic.yaml"},
	{Name: "attach", Path: "testdata/attach.yaml"},
	{Name: "grpcroute", Path: "testdata/grpcroute.yaml"},
	{Name: "select-a", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "team-a/gw"}},
	{Name: "select-b", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "team-b/gw"}},
	{Name: "select-other", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "istio-system/ingress"}},
	{Name: "unsupported", Path: "testdata/unsupported.yaml"},
	{Name: "errors", Path: "testdata/errors.yaml"},
	{Name: "policies-only", Path: "testdata/policies-only.yaml"},
}

// golden is what a golden file holds: every diagnostic, the status of
// every resource, the model pieces this dialect makes, and what applies
// to each route.
type golden struct {
	dialecttest.Head `yaml:",inline"`
	Providers        []model.Provider    `yaml:"providers,omitempty"`
	JWTPolicies      []model.JWTPolicy   `yaml:"jwtPolicies,omitempty"`
	Policies         []model.Policy      `yaml:"policies,omitempty"`
	Effective        map[string][]string `yaml:"effective,omitempty"`
}

// TestGolden reads each input with its selection and compares the result
// with testdata/golden/NAME.golden. Regenerate with -update.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.Name, func(t *testing.T) {
			ld, issues, statuses := dialecttest.Read(t, c)
			g := golden{Head: dialecttest.NewHead(issues, statuses)}
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
			dialecttest.Golden(t, c.Name, g)
		})
	}
}

// TestEveryResourceHasAStatus checks that every document of every input
// gets exactly one status.
func TestEveryResourceHasAStatus(t *testing.T) {
	dialecttest.EveryResourceHasAStatus(t, goldenCases)
}
