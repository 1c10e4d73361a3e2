package istio_test

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
	dialecttest.AddSeeds(f, "testdata/*.yaml", "../../../examples/istio/*.yaml", "../../../examples/asm/*.yaml")
	f.Add([]byte("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"))
	f.Add([]byte("apiVersion: security.istio.io/v1beta1\nkind: RequestAuthentication\nmetadata: {name: r}\nspec: {jwtRules: [{issuer: x, jwks: '{}'}]}\n"))
	f.Add([]byte("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {action: CUSTOM, provider: {name: x}, rules: [{when: [{key: connection.sni, values: [a]}]}]}\n"))
	f.Add([]byte("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {rules: [{to: [{operation: {paths: ['/{**}/{*}', '/a/{*}']}}], from: [{source: {serviceAccounts: [a/b/c]}}]}]}\n"))
	f.Add([]byte("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {servers: [{port: {number: 80, protocol: HTTP}, hosts: ['*']}]}\n---\n" +
		"apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: v}\nspec: {hosts: ['*'], gateways: [g], http: [{match: [{uri: {prefix: /a}, authority: {exact: a.b}}], rewrite: {uri: /}, route: [{destination: {host: s}}]}]}\n"))
	f.Add([]byte("apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata: {name: v}\nspec: {hosts: [a], gateways: [x/y, mesh], http: [{redirect: {derivePort: FROM_PROTOCOL_DEFAULT}}, {fault: {abort: {httpStatus: 400}}, route: [{destination: {host: a.b.svc}, weight: 1}, {destination: {host: c}, weight: 2, headers: {request: {set: {host: h}}}}]}]}\n"))
	f.Add([]byte("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: shop-gw, namespace: shop}\nspec: {selector: {istio: ingressgateway}, servers: [{port: {number: 443, protocol: HTTPS}, hosts: ['./*.example'], tls: {mode: MUTUAL, credentialName: c}}, {port: {number: 80, protocol: HTTP}, hosts: ['*'], tls: {httpsRedirect: true}}]}\n"))
	sels := []dialect.Selection{{}, {Gateway: "shop/shop-gw"}, {WorkloadNamespace: "istio-system", WorkloadLabels: map[string]string{"istio": "ingressgateway"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, sel := range sels {
			dialecttest.CheckLoad(t, sel, data)
		}
	})
}
