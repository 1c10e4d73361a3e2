package kgateway_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/model"
)

// precedenceBase is a Gateway with the listeners web and admin, the
// HTTPRoute shop (rules a, named, and one unnamed) attached to both, and
// the jwt GatewayExtensions one and two.
const precedenceBase = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: kgateway
  listeners:
    - {name: web, protocol: HTTP, port: 8080}
    - {name: admin, protocol: HTTP, port: 9090}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: infra, labels: {tier: front}}
spec:
  parentRefs: [{name: gw}]
  rules:
    - {name: a, matches: [{path: {value: /a}}], backendRefs: [{group: gateway.kgateway.dev, kind: Backend, name: app}]}
    - {matches: [{path: {value: /}}], backendRefs: [{group: gateway.kgateway.dev, kind: Backend, name: app}]}
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata: {name: app, namespace: infra}
spec: {static: {hosts: [{host: 127.0.0.1, port: 8000}]}}
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: GatewayExtension
metadata: {name: one, namespace: infra}
spec: {jwt: {providers: [{name: p, jwks: {local: {inline: '{"keys":[]}'}}}]}}
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: GatewayExtension
metadata: {name: two, namespace: infra}
spec: {jwt: {providers: [{name: p, jwks: {local: {inline: '{"keys":[]}'}}}]}}
`

// policy is a TrafficPolicy named name, created at minute created (0:
// no creationTimestamp), on target (a targetRef or targetSelector in
// flow style), with spec lines.
func policy(name string, created int, target, spec string) string {
	ts := ""
	if created > 0 {
		ts = fmt.Sprintf(", creationTimestamp: \"2024-01-01T00:%02d:00Z\"", created)
	}
	return fmt.Sprintf(`---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: %s, namespace: infra%s}
spec:
  %s
  %s
`, name, ts, target, spec)
}

// Targets and specs of the table.
const (
	onGateway = "targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]"
	onAdmin   = "targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw, sectionName: admin}]"
	onRoute   = "targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: shop}]"
	onRuleA   = "targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: shop, sectionName: a}]"
	byLabel   = "targetSelectors: [{group: gateway.networking.k8s.io, kind: HTTPRoute, matchLabels: {tier: front}}]"
	jwtOne    = "jwtAuth: {extensionRef: {name: one}}"
	jwtTwo    = "jwtAuth: {extensionRef: {name: two}}"
	jwtOff    = "jwtAuth: {disable: {}}"
	rbacDev   = `rbac: {policy: {matchExpressions: ["metadata.filter_metadata['envoy.filters.http.jwt_authn']['payload']['team'] == 'dev'"]}}`
)

// The model routes of precedenceBase: rule a and the unnamed rule, on
// each listener.
const (
	aWeb   = "infra/shop/r0/m0/web"
	aAdmin = "infra/shop/r0/m0/admin"
	rWeb   = "infra/shop/r1/m0/web"
	rAdmin = "infra/shop/r1/m0/admin"
)

// TestPrecedence checks, route by route, which TrafficPolicy's jwtAuth
// (the extension whose provider it requires, or "-") and which rbac
// (the policies, or "-") apply: the most specific attachment wins, each
// part on its own, and at one level the oldest policy.
func TestPrecedence(t *testing.T) {
	all := func(s string) map[string]string {
		return map[string]string{aWeb: s, aAdmin: s, rWeb: s, rAdmin: s}
	}
	cases := []struct {
		name     string
		policies []string
		want     map[string]string
	}{
		{"gateway", []string{policy("g", 0, onGateway, jwtOne)}, all("jwt one, rbac -")},
		{"listener over gateway", []string{policy("g", 0, onGateway, jwtOne), policy("l", 0, onAdmin, jwtTwo)},
			map[string]string{aWeb: "jwt one, rbac -", rWeb: "jwt one, rbac -", aAdmin: "jwt two, rbac -", rAdmin: "jwt two, rbac -"}},
		{"route over listener and gateway", []string{policy("g", 0, onGateway, jwtOne), policy("l", 0, onAdmin, jwtOne), policy("r", 0, onRoute, jwtTwo)},
			all("jwt two, rbac -")},
		{"rule disables JWT", []string{policy("g", 0, onGateway, jwtOne), policy("a", 0, onRuleA, jwtOff)},
			map[string]string{aWeb: "jwt -, rbac -", aAdmin: "jwt -, rbac -", rWeb: "jwt one, rbac -", rAdmin: "jwt one, rbac -"}},
		{"route over a listener that disables", []string{policy("l", 0, onAdmin, jwtOff), policy("r", 0, onRoute, jwtTwo)}, all("jwt two, rbac -")},
		{"oldest at one level", []string{policy("g1", 2, onGateway, jwtOne), policy("g2", 1, onGateway, jwtTwo)}, all("jwt two, rbac -")},
		{"oldest at one level, reversed", []string{policy("g1", 1, onGateway, jwtOne), policy("g2", 2, onGateway, jwtTwo)}, all("jwt one, rbac -")},
		{"same age: namespace/name", []string{policy("zz", 0, onGateway, jwtOne), policy("aa", 0, onGateway, jwtTwo)}, all("jwt two, rbac -")},
		{"jwtAuth and rbac apart", []string{policy("g", 0, onGateway, rbacDev), policy("r", 0, onRoute, jwtOne)}, all("jwt one, rbac g")},
		{"rbac of the rule only", []string{policy("g", 0, onGateway, jwtOne+"\n  "+rbacDev), policy("a", 0, onRuleA, rbacDev)},
			map[string]string{aWeb: "jwt one, rbac a", aAdmin: "jwt one, rbac a", rWeb: "jwt one, rbac g", rAdmin: "jwt one, rbac g"}},
		{"target selector", []string{policy("g", 0, onGateway, jwtOne), policy("s", 0, byLabel, jwtTwo)}, all("jwt two, rbac -")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ld := config.ReadBytes("precedence.yaml", []byte(precedenceBase+strings.Join(c.policies, "")))
			cfg, issues := ld.Validated()
			if cfg == nil {
				t.Fatalf("errors: %v", issues.Err())
			}
			got := map[string]string{}
			for _, r := range cfg.Routes {
				got[r.Name] = summarize(cfg, r)
			}
			for route, want := range c.want {
				if got[route] != want {
					t.Errorf("%s: %s, want %s", route, got[route], want)
				}
			}
			for _, r := range cfg.Routes {
				if eff := cfg.EffectiveJWT(r); len(eff.NotApplied) > 0 {
					t.Errorf("%s: several JWT policies reach it: %v", r.Name, eff.NotApplied)
				}
			}
		})
	}
}

// summarize is "jwt EXT, rbac POLICY..." for a route.
func summarize(cfg *model.Config, r model.Route) string {
	jwt := "-"
	if eff := cfg.EffectiveJWT(r); eff.Requirement != nil {
		jwt = strings.Split(eff.Requirement.Providers[0], "/")[1]
	}
	var rbac []string
	for _, p := range cfg.PoliciesFor(r) {
		if name := strings.Split(p.Name, "/")[1]; !slices.Contains(rbac, name) {
			rbac = append(rbac, name)
		}
	}
	if len(rbac) == 0 {
		rbac = []string{"-"}
	}
	return "jwt " + jwt + ", rbac " + strings.Join(rbac, " ")
}
