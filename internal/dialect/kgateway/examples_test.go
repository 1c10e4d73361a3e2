package kgateway_test

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// TestExamples compiles examples/kgateway as `jwtgate validate -c
// examples/kgateway` does: no error, no warning, every resource
// Accepted, and the route requires the guide's provider.
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
	if len(snap.Config.Routes) != 1 {
		t.Fatalf("%d routes, want 1", len(snap.Config.Routes))
	}
	eff := snap.Config.EffectiveJWT(snap.Config.Routes[0])
	if eff.Requirement == nil || eff.Requirement.Providers[0] != "kgateway-system/selfminted-jwt/selfminted" {
		t.Errorf("requirement %+v", eff.Requirement)
	}
}
