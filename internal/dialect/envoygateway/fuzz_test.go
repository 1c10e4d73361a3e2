package envoygateway_test

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/dialecttest"
)

// FuzzDecode reads raw YAML through the loader, with and without a
// selection: it must never panic, every issue has a message, the
// configuration is valid exactly when there is no error, and every
// resource gets one status.
func FuzzDecode(f *testing.F) {
	dialecttest.AddSeeds(f, "testdata/*.yaml", examples+"/*.yaml")
	f.Add([]byte("apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\n"))
	f.Add([]byte("apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {name: p}\nspec: {targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: g}], authorization: {rules: [{action: Deny, operation: {path: {invert: true}}, principal: {headers: [{name: a, values: [b]}]}}]}}\n"))
	f.Add([]byte("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {gatewayClassName: c, listeners: [{name: a, port: 80, protocol: HTTP}]}\n---\napiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {name: p}\nspec: {targetSelectors: [{kind: Gateway}], jwt: {providers: [{name: a, localJWKS: {inline: x}}]}}\n"))
	f.Add([]byte("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {gatewayClassName: c, listeners: [{name: a, port: 80, protocol: HTTP}]}\n---\napiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {name: p}\nspec: {targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: g}], jwt: {providers: [{name: a, issuer: i, localJWKS: {inline: x}}, {name: b, issuer: j, localJWKS: {inline: x}}]}, authorization: {rules: [{action: Deny, cel: \"!has(metadata.filter_metadata['envoy.filters.http.jwt_authn'].a)\"}, {action: Allow, cel: \"xds.route_name == 'x'\"}, {action: Allow, cel: \"1 +\"}]}}\n"))
	sels := []dialect.Selection{{}, {Gateway: "default/g"}, {Gateway: "g", BindAddress: "127.0.0.1"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, sel := range sels {
			dialecttest.CheckLoad(t, sel, data)
		}
	})
}
