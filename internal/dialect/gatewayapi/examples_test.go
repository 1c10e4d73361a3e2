package gatewayapi_test

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// TestExamples compiles examples/gatewayapi as `jwtgate validate -c
// examples/gatewayapi` does: no error, no warning, every resource
// Accepted, and the JWT policy reaches the route of the rule "private".
func TestExamples(t *testing.T) {
	snap := gatewaytest.CompileFiles(t, []string{"../../../examples/gatewayapi"})
	for _, is := range snap.Issues {
		t.Errorf("%s", is.Error())
	}
	for _, st := range snap.Statuses {
		if !st.Accepted() {
			t.Errorf("%s", st)
		}
	}
	if snap.Runtime == nil {
		t.Fatal("not valid")
	}
	n := 0
	for _, r := range snap.Config.Routes {
		eff := snap.Config.EffectiveJWT(r)
		private := r.Labels["gateway.networking.k8s.io/rule"] == "private"
		if private != (eff.Requirement != nil) {
			t.Errorf("route %s: JWT requirement %v", r.Name, eff.Requirement)
		}
		n++
	}
	if n != 3 {
		t.Errorf("%d routes, want 3", n)
	}
}
