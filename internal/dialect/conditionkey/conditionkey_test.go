package conditionkey

import (
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

func TestParse(t *testing.T) {
	tests := []struct {
		key  string
		kind model.ConditionKind
		name string
		err  bool
	}{
		{"request.auth.claims[groups]", model.CondClaim, "groups", false},
		{"request.auth.claims[llms][openai]", model.CondClaim, "llms.openai", false},
		{"request.headers[x-tenant]", model.CondHeader, "x-tenant", false},
		{"request.auth.audiences", model.CondAudience, "", false},
		{"request.auth.presenter", model.CondPresenter, "", false},
		{"request.auth.principal", model.CondPrincipal, "", false},
		{"source.ip", "", "", true},
		{"request.auth.claims[]", "", "", true},
		{"request.headers[a][b]", "", "", true},
	}
	for _, tt := range tests {
		kind, name, err := Parse(tt.key)
		if kind != tt.kind || name != tt.name || (err != nil) != tt.err {
			t.Errorf("%s -> %q %q %v", tt.key, kind, name, err)
		}
	}
}
