package envoygateway_test

import (
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// TestExamples compiles examples/envoygateway as `jwtgate validate -c
// examples/envoygateway` does: no error, no warning, every resource
// Accepted; the rule api needs a token and has the ordered rules, the
// rule public (whose own policy replaces the route's) neither.
func TestExamples(t *testing.T) {
	snap := gatewaytest.CompileFiles(t, []string{examples})
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
	for _, r := range snap.Config.Routes {
		policy, jwt := "default/backend-jwt", true
		if r.Labels["gateway.networking.k8s.io/rule"] == "public" {
			policy, jwt = "default/backend-public", false
		}
		if eff := snap.Config.EffectiveJWT(r); (eff.Requirement != nil) != jwt {
			t.Errorf("route %s: JWT requirement %v", r.Name, eff.Requirement)
		}
		pols := snap.Config.PoliciesFor(r)
		if len(pols) == 0 {
			t.Errorf("route %s: no policy", r.Name)
		}
		for _, p := range pols {
			if p.Name != policy && !strings.HasPrefix(p.Name, policy+"/") {
				t.Errorf("route %s: policy %s, want %s", r.Name, p.Name, policy)
			}
		}
	}
}
