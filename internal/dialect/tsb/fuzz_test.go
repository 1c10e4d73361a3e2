package tsb_test

import (
	"os"
	"path/filepath"
	"testing"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
)

// FuzzDecode reads raw YAML through the loader, with and without a
// selection: it must never panic, every issue has a message, and the
// configuration is valid exactly when there is no error.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("../../../examples/tsb/*.yaml")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: gateway.tsb.tetrate.io/v2\nkind: Gateway\n"))
	f.Add([]byte("apiVersion: gateway.tsb.tetrate.io/v2\nkind: EgressGateway\nspec: {authorization: [{to: [a, a]}, {from: {mode: WORKSPACE}}]}\n"))
	f.Add([]byte("apiVersion: tsb.tetrate.io/v2\nkind: Workspace\nmetadata: {name: w}\nspec: {namespaceSelector: {names: [\"*/*\"]}}\n"))
	sels := []dialect.Selection{{}, {Gateway: "egress/gw"}, {WorkloadNamespace: "egress", WorkloadLabels: map[string]string{"app": "egress"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, sel := range sels {
			ld := config.ReadBytesSelected(sel, "fuzz/in.yaml", data)
			cfg, issues := ld.Validated()
			errs := len(issues.Errors())
			if (cfg == nil) != (errs > 0) {
				t.Fatalf("config %v with %d errors: %v", cfg != nil, errs, issues)
			}
			for _, is := range issues {
				if is.Msg == "" {
					t.Fatalf("issue without message: %#v", is)
				}
			}
			model.Statuses(ld.Resources, issues, ld.Notes, cfg != nil)
			ld.Config.EgressPlans()
		}
	})
}
