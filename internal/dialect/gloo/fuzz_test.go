package gloo_test

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
	more, _ := filepath.Glob(examples + "/*.yaml")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: networking.gloo.solo.io/v2\nkind: RouteTable\n"))
	f.Add([]byte("apiVersion: networking.gloo.solo.io/v2\nkind: VirtualGateway\nmetadata: {name: g}\nspec: {listeners: [{http: {}, port: {number: 80}}]}\n"))
	f.Add([]byte("apiVersion: security.policy.gloo.solo.io/v2\nkind: JWTPolicy\nmetadata: {name: p}\nspec: {config: {providers: {a: {local: {inline: x}}}}}\n"))
	f.Add([]byte("apiVersion: networking.gloo.solo.io/v2\nkind: RouteTable\nmetadata: {name: t}\nspec: {hosts: ['*'], http: [{matchers: [{uri: {suffix: x, ignoreCase: true}}], forwardTo: {pathRewrite: /}}]}\n"))
	sels := []dialect.Selection{{}, {Gateway: "gloo/gw"}, {WorkloadNamespace: "web", WorkloadLabels: map[string]string{"app": "web"}}}
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
			model.Statuses(ld.Resources, issues, append(ld.Notes, ld.Config.Notes()...), cfg != nil)
		}
	})
}
