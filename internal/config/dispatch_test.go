package config

import (
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestDispatch: Lists are unpacked, a resource of a kind jwtgate does not
// read gets the status Unsupported (and a warning) while the rest is
// served, and Kubernetes objects with no gateway meaning are ignored,
// reported in one warning.
func TestDispatch(t *testing.T) {
	const yaml = `apiVersion: v1
kind: List
items:
  - apiVersion: jwtgate.dev/v1alpha1
    kind: Config
    listeners: [{name: web, address: "127.0.0.1:8080"}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: httpbin, namespace: apps}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: httpbin, namespace: apps}
---
apiVersion: jwtgate.dev/v1alpha1
kind: Config
routes: [{name: r, backend: {url: "http://127.0.0.1:8000"}}]
`
	ld := ReadBytes("mixed.yaml", []byte(yaml))
	cfg, issues := ld.Validated()
	if cfg == nil {
		t.Fatalf("refused: %v", issues.Err())
	}
	if len(cfg.Listeners) != 1 || len(cfg.Routes) != 1 {
		t.Fatalf("served %d listeners and %d routes, want 1 and 1", len(cfg.Listeners), len(cfg.Routes))
	}
	var warnings []string
	for _, is := range issues.Warnings() {
		warnings = append(warnings, is.Error())
	}
	want := []string{
		`mixed.yaml:7: warning: ignored 2 Kubernetes object(s) with no meaning for the gateway: Deployment apps/httpbin, ServiceAccount apps/httpbin`,
		`mixed.yaml:11: warning: unsupported apiVersion "example.com/v1" and kind "Widget": not served (supported: ` + supported() + `) (Widget "default/w")`,
	}
	if strings.Join(warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
	got := map[string]string{}
	for _, st := range model.Statuses(ld.Resources, issues, ld.Notes, true) {
		got[st.Ref.String()] = st.Conditions[0].Reason
	}
	for ref, reason := range map[string]string{
		"Listener default/web":        model.ReasonAccepted,
		"Deployment apps/httpbin":     model.ReasonIgnored,
		"ServiceAccount apps/httpbin": model.ReasonIgnored,
		"Widget default/w":            model.ReasonUnsupported,
		"Route default/r":             model.ReasonAccepted,
	} {
		if got[ref] != reason {
			t.Errorf("%s: reason %q, want %q (all: %v)", ref, got[ref], reason, got)
		}
	}
}
