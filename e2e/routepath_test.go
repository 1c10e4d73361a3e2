package e2e

import (
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// TestRoutePathsInNormalForm: route paths are compared in the form request
// paths are normalized to, so a route written with raw non-ASCII, a
// needless escape or doubled slashes still matches its requests.
func TestRoutePathsInNormalForm(t *testing.T) {
	g := startGateway(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:0
routes:
  - name: cafe
    match: {paths: ["/café", "/%61pi//v1/*"]}
    backend: {url: UPSTREAM}
`)
	for _, path := range []string{"/caf%C3%A9", "/caf%c3%a9", "/api/v1/x", "/api//v1/x", "/%61pi/v1/x"} {
		g.do("GET", "h", path, nil).expect(t, 200, "*", "")
	}
	g.do("GET", "h", "/cafe", nil).expect(t, 404, "", "")
}

// TestRoutePathThatCanNeverMatch: a route path holding an encoded slash is
// refused when the runtime is built, since such requests are answered 400.
func TestRoutePathThatCanNeverMatch(t *testing.T) {
	snap := gatewaytest.Compile(t, `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: "127.0.0.1:0"}]
routes:
  - name: r
    match: {paths: ["/a%2Fb"]}
    backend: {url: "http://127.0.0.1:1"}
`, gatewaytest.Name("gw.yaml"))
	// The file loads and validates; only building the path fails, once.
	errs := snap.Issues.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `path "/a%2Fb" can never match a request`) {
		t.Fatalf("want one build error for the path, got %v", snap.Issues.Err())
	}
	if snap.OK() {
		t.Error("a configuration with an error has a runtime")
	}
}
