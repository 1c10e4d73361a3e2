package e2e

import "testing"

// TestMethodCaseCannotEscapeDeny: a lower-case method is matched,
// authorized and forwarded as its upper-case form, so "delete" meets the
// DENY rule written for DELETE, and the upstream sees what was authorized.
func TestMethodCaseCannotEscapeDeny(t *testing.T) {
	g := startGateway(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:0
routes:
  - name: api
    backend: {url: UPSTREAM}
policies:
  - name: no-deletes
    action: DENY
    rules: [{to: [{methods: [DELETE]}]}]
`)
	for _, m := range []string{"DELETE", "delete", "Delete"} {
		g.do(m, "api.example.com", "/items/1", nil).expect(t, 403, "RBAC: access denied", "")
	}
	r := g.do("patch", "api.example.com", "/items/1", nil)
	r.expect(t, 200, "*", "")
	if r.echo.Method != "PATCH" {
		t.Errorf("upstream saw method %q, want PATCH", r.echo.Method)
	}
}
