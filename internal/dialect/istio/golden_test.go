package istio_test

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
	{Name: "seed003", Path: "testdata/seed003.yaml"},
	{Name: "select-none", Path: "testdata/select.yaml"},
	{Name: "select-shop-api", Path: "testdata/select.yaml", Sel: dialect.Selection{
		WorkloadNamespace: "shop", WorkloadLabels: map[string]string{"app": "api", "version": "v1", "pod-template-hash": "x"}}},
	{Name: "select-shop-labels-missing", Path: "testdata/select.yaml", Sel: dialect.Selection{
		WorkloadNamespace: "shop", WorkloadLabels: map[string]string{"app": "api"}}},
	{Name: "select-ingress", Path: "testdata/select.yaml", Sel: dialect.Selection{
		WorkloadNamespace: "istio-system", WorkloadLabels: map[string]string{"istio": "ingressgateway"}}},
	{Name: "select-gateway", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "shop/shop-gw"}},
	{Name: "actions", Path: "testdata/actions.yaml"},
	{Name: "fields", Path: "testdata/fields.yaml"},
	{Name: "requestauth", Path: "testdata/requestauth.yaml"},
	{Name: "errors", Path: "testdata/errors.yaml"},
	{Name: "errors-model", Path: "testdata/errors-model.yaml"},
	{Name: "noname", Path: "testdata/noname.yaml"},
	{Name: "routing", Path: "testdata/routing.yaml", Sel: dialect.Selection{BindAddress: bind}},
	{Name: "routing-errors", Path: "testdata/routing-errors.yaml", Sel: dialect.Selection{Gateway: "istio-system/gw", BindAddress: bind}},
	{Name: "routing-errors-unselected", Path: "testdata/routing-errors.yaml"},
	{Name: "routing-select-none", Path: "testdata/routing-select.yaml"},
	{Name: "routing-select-name", Path: "testdata/routing-select.yaml", Sel: dialect.Selection{Gateway: "internal/internal", BindAddress: bind}},
	{Name: "routing-select-labels", Path: "testdata/routing-select.yaml", Sel: dialect.Selection{
		WorkloadNamespace: "istio-system", WorkloadLabels: map[string]string{"istio": "ingressgateway", "app": "istio-ingressgateway"}, BindAddress: bind}},
	{Name: "routing-select-ghost", Path: "testdata/routing-select.yaml", Sel: dialect.Selection{Gateway: "ghost/gw"}},
	{Name: "routing-model", Path: "testdata/routing-model.yaml", Sel: dialect.Selection{BindAddress: bind}},
	{Name: "sni", Path: "testdata/sni.yaml", Sel: dialect.Selection{BindAddress: bind}},
	{Name: "asm", Path: asmExamples, Sel: dialect.Selection{BindAddress: bind}},
}

// bind is the bind address of the routing cases.
const bind = "127.0.0.1"

// asmExamples is the folder of seed 003 as Istio resources.
const asmExamples = "../../../examples/asm"

// golden is what a golden file holds: every diagnostic, the status of
// every resource, and the model pieces the dialect made.
type golden struct {
	dialecttest.Head `yaml:",inline"`
	Listeners        []model.Listener  `yaml:"listeners,omitempty"`
	Providers        []model.Provider  `yaml:"providers,omitempty"`
	Routes           []model.Route     `yaml:"routes,omitempty"`
	JWTPolicies      []model.JWTPolicy `yaml:"jwtPolicies,omitempty"`
	Policies         []model.Policy    `yaml:"policies,omitempty"`
}

// TestGolden reads each input with its selection and compares the
// result with testdata/golden/NAME.golden. Regenerate with -update.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.Name, func(t *testing.T) {
			ld, issues, statuses := dialecttest.Read(t, c)
			g := golden{Head: dialecttest.NewHead(issues, statuses)}
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
			dialecttest.Golden(t, c.Name, g)
		})
	}
}

// istioMade reports whether a model piece comes from an Istio document.
func istioMade(o model.Origin) bool { return strings.HasPrefix(o.APIVersion, "networking.istio.io/") }

// TestEveryResourceHasAStatus checks that every document of every input
// gets exactly one status.
func TestEveryResourceHasAStatus(t *testing.T) {
	dialecttest.EveryResourceHasAStatus(t, goldenCases)
}
