package gatewayapi_test

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/dialecttest"
	"jwtgate.dev/jwtgate/internal/model"
)

// goldenCases are every input under testdata, some with several
// selections.
var goldenCases = []dialecttest.Case{
	{Name: "basic", Path: "testdata/basic.yaml"},
	{Name: "basic-bind", Path: "testdata/basic.yaml", Sel: dialect.Selection{BindAddress: "127.0.0.1"}},
	{Name: "precedence", Path: "testdata/precedence.yaml"},
	{Name: "hostnames", Path: "testdata/hostnames.yaml"},
	{Name: "refs", Path: "testdata/refs.yaml"},
	{Name: "filters", Path: "testdata/filters.yaml"},
	{Name: "listeners", Path: "testdata/listeners.yaml"},
	{Name: "sni", Path: "testdata/sni.yaml"},
	{Name: "errors", Path: "testdata/errors.yaml"},
	{Name: "locate", Path: "testdata/locate.yaml"},
	{Name: "grpcroute", Path: "testdata/grpcroute.yaml"},
	{Name: "grpcroute-errors", Path: "testdata/grpcroute-errors.yaml"},
	{Name: "select-none", Path: "testdata/select.yaml"},
	{Name: "select-a", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "team-a/gw"}},
	{Name: "select-b", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "team-b/gw"}},
	{Name: "select-ambiguous", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "gw"}},
	{Name: "select-other", Path: "testdata/select.yaml", Sel: dialect.Selection{Gateway: "egress/tsb-gateway"}},
}

// golden is what a golden file holds: every diagnostic, the status of
// every resource, and the model listeners and routes the dialect made, in
// order.
type golden struct {
	dialecttest.Head `yaml:",inline"`
	Listeners        []model.Listener `yaml:"listeners,omitempty"`
	Routes           []model.Route    `yaml:"routes,omitempty"`
}

// TestGolden reads each input with its selection and compares the
// result with testdata/golden/NAME.golden. Regenerate with -update.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.Name, func(t *testing.T) {
			ld, issues, statuses := dialecttest.Read(t, c)
			g := golden{Head: dialecttest.NewHead(issues, statuses)}
			g.Listeners, g.Routes = ld.Config.Listeners, ld.Config.Routes
			dialecttest.Golden(t, c.Name, g)
		})
	}
}

// TestEveryResourceHasAStatus checks that every document of every input
// gets exactly one status.
func TestEveryResourceHasAStatus(t *testing.T) {
	dialecttest.EveryResourceHasAStatus(t, goldenCases)
}
