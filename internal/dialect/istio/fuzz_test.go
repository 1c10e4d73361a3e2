package istio_test

import (
	"os"
	"path/filepath"
	"testing"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
)

// FuzzDecode reads raw YAML through the loader, with and without a
// selection: it must never panic, every issue has a message, the
// configuration is valid exactly when there is no error, and every
// resource gets a status.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("../../../examples/istio/*.yaml")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"))
	f.Add([]byte("apiVersion: security.istio.io/v1beta1\nkind: RequestAuthentication\nmetadata: {name: r}\nspec: {jwtRules: [{issuer: x, jwks: '{}'}]}\n"))
	f.Add([]byte("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {action: CUSTOM, provider: {name: x}, rules: [{when: [{key: connection.sni, values: [a]}]}]}\n"))
	f.Add([]byte("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {rules: [{to: [{operation: {paths: ['/{**}/{*}', '/a/{*}']}}], from: [{source: {serviceAccounts: [a/b/c]}}]}]}\n"))
	sels := []dialect.Selection{{}, {Gateway: "shop/shop-gw"}, {WorkloadNamespace: "istio-system", WorkloadLabels: map[string]string{"istio": "ingressgateway"}}}
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
			statuses := model.Statuses(ld.Resources, issues, append(ld.Notes, ld.Config.Notes()...), cfg != nil)
			for _, st := range statuses {
				if len(st.Conditions) != 1 {
					t.Fatalf("status without one condition: %+v", st)
				}
			}
		}
	})
}
