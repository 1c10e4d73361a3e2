package gatewayapi_test

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/dialecttest"
)

// FuzzDecode reads raw YAML through the loader, with and without a
// selection: it must never panic, every issue has a message, the
// configuration is valid exactly when there is no error, and every
// resource gets a status.
func FuzzDecode(f *testing.F) {
	dialecttest.AddSeeds(f, "testdata/*.yaml", "../../../examples/gatewayapi/*.yaml")
	f.Add([]byte("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"))
	f.Add([]byte("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {parentRefs: [{name: gw}], hostnames: ['*.a'], rules: [{}]}\n"))
	f.Add([]byte("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {gatewayClassName: c, listeners: [{name: a, port: 80, protocol: HTTP, hostname: '*.x'}, {name: b, port: 80, protocol: HTTP}]}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {parentRefs: [{name: gw}]}\n"))
	f.Add([]byte("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {gatewayClassName: c, listeners: [{name: a, port: 80, protocol: HTTP}]}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: g}\nspec: {parentRefs: [{name: gw}], hostnames: [a.x], rules: [{matches: [{method: {type: RegularExpression, service: 'a(', method: M}}], backendRefs: [{name: s, port: 1}]}]}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: g}\nspec: {parentRefs: [{name: gw}], hostnames: ['*.x']}\n"))
	sels := []dialect.Selection{{}, {Gateway: "default/gw"}, {Gateway: "gw", BindAddress: "127.0.0.1"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, sel := range sels {
			dialecttest.CheckLoad(t, sel, data)
		}
	})
}
