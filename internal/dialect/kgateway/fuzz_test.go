package kgateway_test

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
	f.Add([]byte("apiVersion: gateway.kgateway.dev/v1alpha1\nkind: TrafficPolicy\n"))
	f.Add([]byte("apiVersion: gateway.kgateway.dev/v1alpha1\nkind: TrafficPolicy\nmetadata: {name: p}\nspec: {rbac: {policy: {matchExpressions: [\"metadata.x['a'] in [1, 'b'] || !true\"]}}}\n"))
	f.Add([]byte("apiVersion: gateway.kgateway.dev/v1alpha1\nkind: TrafficPolicy\nmetadata: {name: p}\nspec: {rbac: {action: Deny, policy: {matchExpressions: [\"xds.route_name == 'r' || request.headers.exists(k, k.size() > 2)\", \"request.size > 1\", \"'a' in metadata.filter_metadata['envoy.filters.http.jwt_authn']['payload']['scope'].split(' ')\"]}}}\n"))
	f.Add([]byte("apiVersion: gateway.kgateway.dev/v1alpha1\nkind: GatewayExtension\nmetadata: {name: e}\nspec: {jwt: {providers: [{name: a, jwks: {remote: {url: 'http://x', backendRef: {name: s}}}}]}}\n"))
	f.Add([]byte("apiVersion: gateway.kgateway.dev/v1alpha1\nkind: Backend\nmetadata: {name: b}\nspec: {static: {hosts: [{host: h, port: 1}]}}\n"))
	sels := []dialect.Selection{{}, {Gateway: "infra/gw"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, sel := range sels {
			dialecttest.CheckLoad(t, sel, data)
		}
	})
}
