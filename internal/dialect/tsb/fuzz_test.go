package tsb_test

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/dialecttest"
)

// FuzzDecode reads raw YAML through the loader, with and without a
// selection: it must never panic, every issue has a message, and the
// configuration is valid exactly when there is no error.
func FuzzDecode(f *testing.F) {
	dialecttest.AddSeeds(f, "testdata/*.yaml", "../../../examples/tsb/*.yaml")
	f.Add([]byte("apiVersion: gateway.tsb.tetrate.io/v2\nkind: Gateway\n"))
	f.Add([]byte("apiVersion: gateway.tsb.tetrate.io/v2\nkind: EgressGateway\nspec: {authorization: [{to: [a, a]}, {from: {mode: WORKSPACE}}]}\n"))
	f.Add([]byte("apiVersion: tsb.tetrate.io/v2\nkind: Workspace\nmetadata: {name: w}\nspec: {namespaceSelector: {names: [\"*/*\"]}}\n"))
	sels := []dialect.Selection{{}, {Gateway: "egress/gw"}, {WorkloadNamespace: "egress", WorkloadLabels: map[string]string{"app": "egress"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, sel := range sels {
			dialecttest.CheckLoad(t, sel, data)
		}
	})
}
