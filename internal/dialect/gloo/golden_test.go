package gloo_test

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/dialecttest"
	"jwtgate.dev/jwtgate/internal/model"
)

// examples is the folder of the runnable example, seed 001's resources.
const examples = "../../../examples/gloo"

var bind = "127.0.0.1"

// goldenCases are every input under testdata, some with several
// selections.
var goldenCases = []dialecttest.Case{
	{Name: "seed001", Path: examples},
	{Name: "conflict", Path: "testdata/conflict.yaml"},
	{Name: "gateway", Path: "testdata/gateway.yaml", Sel: dialect.Selection{BindAddress: bind}},
	{Name: "actions", Path: "testdata/actions.yaml", Sel: dialect.Selection{BindAddress: bind}},
	{Name: "unsupported", Path: "testdata/unsupported.yaml"},
	{Name: "errors", Path: "testdata/errors.yaml"},
	{Name: "select-none", Path: "testdata/select.yaml"},
	{Name: "select-gateway", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "gateways/north", BindAddress: bind}},
	{Name: "select-gateway-name", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "east", BindAddress: bind}},
	{Name: "select-gateway-workload", Path: "testdata/select.yaml", Sel: dialect.Selection{
		WorkloadNamespace: "gateways", WorkloadLabels: map[string]string{"istio": "ingressgateway", "pod-template-hash": "x"}, BindAddress: bind}},
	{Name: "select-mesh-labels", Path: "testdata/select.yaml", Sel: dialect.Selection{
		WorkloadNamespace: "apps", WorkloadLabels: map[string]string{"app": "sleep"}}},
	{Name: "select-mesh-namespace", Path: "testdata/select.yaml", Sel: dialect.Selection{WorkloadNamespace: "apps"}},
	{Name: "select-nomatch", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "gateways/ghost"}},
}

// golden is what a golden file holds: every diagnostic, the status of
// every resource, the model pieces read, and which JWT requirement each
// route ends up with.
type golden struct {
	dialecttest.Head `yaml:",inline"`
	Listeners        []model.Listener    `yaml:"listeners,omitempty"`
	Providers        []model.Provider    `yaml:"providers,omitempty"`
	Routes           []model.Route       `yaml:"routes,omitempty"`
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
			dialecttest.Golden(t, c.Name, g)
		})
	}
}

// TestEveryResourceHasAStatus checks that every document of every input
// gets exactly one status.
func TestEveryResourceHasAStatus(t *testing.T) {
	dialecttest.EveryResourceHasAStatus(t, goldenCases)
}
