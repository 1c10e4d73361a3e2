package matchmode

import (
	"reflect"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

func TestExpand(t *testing.T) {
	anyone := []model.From{{NotRequestPrincipals: []string{"*"}}}
	tests := []struct {
		name string
		mode Mode
		set  Set
		req  model.JWTRequirement
		want []model.To
		err  string
	}{
		{"auth if matched", AuthIfMatched, Set{Paths: []string{"/p"}, Methods: []string{"get"}}, model.JWTRequirement{Mode: model.AuthRequired},
			[]model.To{{Paths: []string{"/p"}, Methods: []string{"GET"}}}, ""},
		{"bypass if matched", BypassIfMatched, Set{Paths: []string{"/open/*"}, Methods: []string{"GET"}}, model.JWTRequirement{Mode: model.AuthRequired},
			[]model.To{{NotPaths: []string{"/open/*"}}, {NotMethods: []string{"GET"}}}, ""},
		{"bypass paths only", BypassIfMatched, Set{Paths: []string{"/open"}}, model.JWTRequirement{},
			[]model.To{{NotPaths: []string{"/open"}}}, ""},
		{"empty set", AuthIfMatched, Set{}, model.JWTRequirement{}, nil, "one of paths, methods is required"},
		{"with allowMissingOrFailed", AuthIfMatched, Set{Paths: []string{"/p"}}, model.JWTRequirement{Mode: model.AuthAllowMissingOrFailed}, nil,
			"authIfMatched cannot be combined with allowMissingOrFailed (an invalid token must still be rejected)"},
		{"in postAuthz", BypassIfMatched, Set{Paths: []string{"/p"}}, model.JWTRequirement{Phase: model.PhasePostAuthz}, nil,
			"bypassIfMatched cannot be combined with phase postAuthz (its policy must see the verified token)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			x, err := Expand("r", tt.mode, tt.set, &req)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				if req.Mode != tt.req.Mode {
					t.Errorf("a refused mode changed the requirement to %s", req.Mode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Mode != model.AuthAllowMissing {
				t.Errorf("mode %s, want allowMissing", req.Mode)
			}
			p := x.Policy
			if p.Name != "r/"+string(tt.mode) || p.Action != model.ActionDeny || !reflect.DeepEqual(p.Routes, []string{"r"}) {
				t.Errorf("policy %+v", p)
			}
			if len(p.Rules) != 1 || !reflect.DeepEqual(p.Rules[0].From, anyone) || !reflect.DeepEqual(p.Rules[0].To, tt.want) {
				t.Errorf("rules %+v, want to %+v", p.Rules, tt.want)
			}
			if issues := model.CheckPolicy(p, nil); len(issues) != 0 {
				t.Errorf("the generated policy does not check: %v", issues)
			}
		})
	}
}
