package gloo_test

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// TestExamples compiles examples/gloo as `jwtgate validate -c
// examples/gloo` does: no error, no warning, every resource Accepted.
func TestExamples(t *testing.T) {
	snap := gatewaytest.CompileFiles(t, []string{examples})
	for _, is := range snap.Issues {
		t.Errorf("%s", is.Error())
	}
	if !snap.OK() {
		t.Fatal("not valid")
	}
	for _, st := range snap.Statuses {
		if !st.Accepted() {
			t.Errorf("%s", st)
		}
	}
	if n := len(snap.Config.Routes); n != 1 {
		t.Errorf("%d routes, want 1", n)
	}
}
