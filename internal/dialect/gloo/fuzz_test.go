package gloo_test

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/dialecttest"
)

// FuzzDecode reads raw YAML through the loader, with and without a
// selection: it must never panic, every issue has a message, and the
// configuration is valid exactly when there is no error.
func FuzzDecode(f *testing.F) {
	dialecttest.AddSeeds(f, "testdata/*.yaml", examples+"/*.yaml")
	f.Add([]byte("apiVersion: networking.gloo.solo.io/v2\nkind: RouteTable\n"))
	f.Add([]byte("apiVersion: networking.gloo.solo.io/v2\nkind: VirtualGateway\nmetadata: {name: g}\nspec: {listeners: [{http: {}, port: {number: 80}}]}\n"))
	f.Add([]byte("apiVersion: security.policy.gloo.solo.io/v2\nkind: JWTPolicy\nmetadata: {name: p}\nspec: {config: {providers: {a: {local: {inline: x}}}}}\n"))
	f.Add([]byte("apiVersion: networking.gloo.solo.io/v2\nkind: RouteTable\nmetadata: {name: t}\nspec: {hosts: ['*'], http: [{matchers: [{uri: {suffix: x, ignoreCase: true}}], forwardTo: {pathRewrite: /}}]}\n"))
	sels := []dialect.Selection{{}, {Gateway: "gloo/gw"}, {WorkloadNamespace: "web", WorkloadLabels: map[string]string{"app": "web"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, sel := range sels {
			dialecttest.CheckLoad(t, sel, data)
		}
	})
}
