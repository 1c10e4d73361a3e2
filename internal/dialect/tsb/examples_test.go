package tsb_test

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
)

// TestExamples loads examples/tsb as `jwtgate validate -c examples/tsb`
// reads it, as its glue document chooses (seed 000's Gateway) and with the
// flags that choose seed 002's EgressGateway: no error, no warning, every
// resource Accepted but the gateway not chosen, which is NotSelected.
func TestExamples(t *testing.T) {
	tests := []struct {
		name        string
		sel         dialect.Selection
		served      string
		notSelected string
		servers     int
	}{
		{"glue", dialect.Selection{}, "egress/shared-egress-gateway", "ns1/my-egress", 2},
		{"flags", dialect.Selection{WorkloadNamespace: "ns1", WorkloadLabels: map[string]string{"app": "istio-egressgateway"}},
			"ns1/my-egress", "egress/shared-egress-gateway", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ld := config.ReadSelected(tt.sel, "../../../examples/tsb")
			cfg, issues := ld.Validated()
			for _, is := range issues {
				t.Errorf("%s", is.Error())
			}
			if cfg == nil {
				t.Fatal("not valid")
			}
			if len(cfg.Egress.Servers) != tt.servers {
				t.Errorf("%d egress servers, want %d", len(cfg.Egress.Servers), tt.servers)
			}
			for _, st := range model.Statuses(ld.Resources, issues, append(ld.Notes, cfg.Notes()...), true) {
				name := st.Namespace + "/" + st.Name
				switch {
				case name == tt.notSelected:
					if st.Accepted() || st.Conditions[0].Reason != model.ReasonNotSelected {
						t.Errorf("want NotSelected: %s", st)
					}
				case !st.Accepted():
					t.Errorf("%s", st)
				}
			}
		})
	}
}
