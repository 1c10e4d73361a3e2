package authz

import "jwtgate.dev/jwtgate/internal/model"

// EvaluateCase is one row of the evaluation table (cases), for the tests
// outside the package that run it again with the policies written in a
// vendor's format (istio_table_test.go).
type EvaluateCase struct {
	Name     string
	Policies []model.Policy
	Request  *Request
	// Allowed, Policy and Rule are the decision the row wants; Rule is
	// the rule's name, or "rules[i]".
	Allowed      bool
	Policy, Rule string
}

// EvaluateCases returns the evaluation table.
func EvaluateCases() []EvaluateCase {
	out := make([]EvaluateCase, len(cases))
	for i, c := range cases {
		out[i] = EvaluateCase{Name: c.name, Policies: c.policies, Request: c.req, Allowed: c.want.allowed, Policy: c.want.policy, Rule: c.want.rule}
	}
	return out
}
