package authz

import (
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestTraceAgreesWithEvaluate: over the whole decision table, the rule
// Trace reports as matched is the one Evaluate decided with, every rule
// after it is not evaluated, every rule before it did not match and
// says why.
func TestTraceAgreesWithEvaluate(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Compile(tc.policies)
			if err != nil {
				t.Fatal(err)
			}
			d := e.Evaluate(tc.req)
			var matched []string
			decided := false
			for _, p := range e.Trace(tc.req) {
				for _, rl := range p.Rules {
					switch rl.Result {
					case RuleMatched:
						matched = append(matched, p.Policy+"/"+rl.Rule)
						decided = true
					case RuleNotMatched:
						if decided {
							t.Errorf("%s/%s evaluated after the decision", p.Policy, rl.Rule)
						}
						if rl.Why == "" {
							t.Errorf("%s/%s did not match without saying why", p.Policy, rl.Rule)
						}
					case RuleNotEvaluated:
						if !decided {
							t.Errorf("%s/%s not evaluated before any decision", p.Policy, rl.Rule)
						}
					default:
						t.Errorf("%s/%s: result %q", p.Policy, rl.Rule, rl.Result)
					}
				}
			}
			switch {
			case d.Policy == "" && len(matched) != 0:
				t.Errorf("Evaluate decided %v without a rule, Trace matched %v", d, matched)
			case d.Policy != "" && (len(matched) != 1 || matched[0] != d.Policy+"/"+d.Rule):
				t.Errorf("Evaluate decided %v, Trace matched %v", d, matched)
			}
		})
	}
}

// TestTraceWhy: a rule that does not match names the part that failed
// and the value it looked at.
func TestTraceWhy(t *testing.T) {
	tests := []struct {
		name   string
		policy model.Policy
		req    *Request
		want   []string
	}{
		{"no token", allowP("a", fromRule(model.From{RequestPrincipals: []string{"*"}})), anon(),
			[]string{"from[0]: requestPrincipals [*] does not match request principal \"\" (no verified token)"}},
		{"notRequestPrincipals", denyP("d", fromRule(model.From{NotRequestPrincipals: []string{"*"}})), authed(),
			[]string{"notRequestPrincipals [*] matches request principal \"https://auth.example.com/alice\""}},
		{"path", allowP("a", toRule(model.To{Paths: []string{"/admin/*"}})), anon(),
			[]string{`to[0]: paths [/admin/*] does not match path "/v1/things"`}},
		{"method", allowP("a", toRule(model.To{Methods: []string{"POST"}})), anon(),
			[]string{`methods [POST] does not match method "GET"`}},
		{"ip", allowP("a", fromRule(model.From{IPBlocks: []string{"10.0.0.0/8"}})), anon(),
			[]string{"ipBlocks [10.0.0.0/8] does not match peer address 192.0.2.10"}},
		{"peer", allowP("a", fromRule(model.From{Namespaces: []string{"prod"}})), withPeer(anon()),
			[]string{`namespaces [prod] does not match peer namespace "default"`}},
		{"claim", allowP("a", whenRule(cond(model.CondClaim, "team", "billing"))), authed(),
			[]string{`when[0]{claim[team], values: [billing]} does not hold`, `claim team "payments"`}},
		{"header", allowP("a", whenRule(cond(model.CondHeader, "x-env", "prod"))), anon(),
			[]string{"header x-env (absent)"}},
		{"jwt claim", allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"groups": {"admins"}}}})), authed(),
			[]string{`jwt {claims[groups]: [admins]} does not match: claim groups is ["dev","ops"]`}},
		{"several froms", allowP("a", fromRule(model.From{Principals: []string{"x"}}, model.From{RemoteIPBlocks: []string{"10.0.0.1"}})), anon(),
			[]string{`from[0]: principals [x] does not match peer principal "" (no client certificate)`, "from[1]: remoteIpBlocks [10.0.0.1] does not match client address 192.0.2.10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile([]model.Policy{tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			pt := e.Trace(tt.req)
			if len(pt) != 1 || len(pt[0].Rules) != 1 || pt[0].Rules[0].Result != RuleNotMatched {
				t.Fatalf("trace %+v, want one rule not matched", pt)
			}
			why := pt[0].Rules[0].Why
			for _, w := range tt.want {
				if !strings.Contains(why, w) {
					t.Errorf("why %q lacks %q", why, w)
				}
			}
		})
	}
}

// TestTraceNilEngine: no policies, no trace.
func TestTraceNilEngine(t *testing.T) {
	var e *Engine
	if pt := e.Trace(anon()); pt != nil {
		t.Errorf("nil engine traced %v", pt)
	}
}
