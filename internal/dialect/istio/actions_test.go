package istio_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// TestActionsServed: what each action, and the rule forms with a meaning
// of their own, do to requests.
func TestActionsServed(t *testing.T) {
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	for _, tc := range []struct {
		name, spec, meta string
		// want maps a path to its status.
		want map[string]int
	}{
		{"spec {} denies all", `{}`, "", map[string]int{"/": 403, "/x": 403}},
		{"rules [{}] allows all", `{rules: [{}]}`, "", map[string]int{"/": 200}},
		{"ALLOW without rules", `{action: ALLOW}`, "", map[string]int{"/": 403}},
		{"DENY without rules", `{action: DENY}`, "", map[string]int{"/": 200}},
		{"DENY rules [{}]", `{action: DENY, rules: [{}]}`, "", map[string]int{"/": 403}},
		{"ALLOW on a path", `{rules: [{to: [{operation: {paths: ["/open/{**}"]}}]}]}`, "", map[string]int{"/open/": 200, "/open/a/b": 200, "/closed": 403}},
		{"CUSTOM denies what its rules select", `{action: CUSTOM, provider: {name: ext}, rules: [{to: [{operation: {notPaths: ["/public/*"]}}]}]}`, "",
			map[string]int{"/public/x": 200, "/private": 403}},
		{"AUDIT changes nothing", `{action: AUDIT, rules: [{}]}`, "", map[string]int{"/": 200}},
		{"dry run changes nothing", `{action: DENY, rules: [{}]}`, `annotations: {istio.io/dry-run: "true"}`, map[string]int{"/": 200}},
		{"an ALLOW rule with connection.sni is dropped", `{rules: [{when: [{key: connection.sni, values: [x]}]}, {to: [{operation: {paths: [/ok]}}]}]}`, "",
			map[string]int{"/": 403, "/ok": 200}},
		{"a DENY rule ignores destination.ip", `{action: DENY, rules: [{to: [{operation: {paths: [/admin]}}], when: [{key: destination.ip, values: [10.9.9.9]}]}]}`, "",
			map[string]int{"/admin": 403, "/": 200}},
		{"lower-case DENY method", `{action: DENY, rules: [{to: [{operation: {methods: [get]}}]}]}`, "", map[string]int{"/": 403}},
		{"lower-case ALLOW method", `{rules: [{to: [{operation: {methods: [get]}}]}]}`, "", map[string]int{"/": 403}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := gatewaytest.Start(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: gateway, address: 127.0.0.1:0}]
routes:
  - name: all
    backend: {url: `+up.URL+`}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: p
  `+tc.meta+`
spec: `+tc.spec+`
`)
			for path, want := range tc.want {
				res, err := http.Get(h.URL("gateway") + path)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != want {
					t.Errorf("%s: %d, want %d", path, res.StatusCode, want)
				}
			}
		})
	}
}
