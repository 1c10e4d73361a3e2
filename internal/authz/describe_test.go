package authz

import (
	"slices"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

func TestDescribe(t *testing.T) {
	e, err := Compile([]model.Policy{
		allowP("payments",
			model.Rule{
				Name: "payments-service-only",
				From: []model.From{{JWT: &model.JWTMatch{Iss: iss, Sub: "payments-service@example.com", Claims: map[string][]string{"scope": {"pay"}}}}},
				To:   []model.To{{Methods: []string{"GET", "POST"}, Paths: []string{"/v1/payments/*"}, Ports: []int{443}}},
			},
			model.Rule{When: []model.Condition{cond(model.CondClaim, "groups", "ops"), notCond(model.CondHeader, "x-debug", "1")}},
			model.Rule{},
		),
		{Name: "auth", Action: model.ActionDeny, Origin: model.Origin{File: "gw.yaml", Line: 12}, Rules: []model.Rule{{
			From: []model.From{{NotRequestPrincipals: []string{"*"}, IPBlocks: []string{"10.0.0.0/8"}}},
			To:   []model.To{{Paths: []string{"/productpage"}}},
		}}},
		denyP("nothing"),
		allowP("closed"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`DENY policy "auth" at gw.yaml:12 (1 rule)`,
		`  rules[0]: from[0]{notRequestPrincipals: [*], ipBlocks: [10.0.0.0/8]} to[0]{paths: [/productpage]}`,
		`DENY policy "nothing" (no rules: denies nothing)`,
		`ALLOW policy "payments" (3 rules)`,
		`  payments-service-only: from[0]{jwt: {iss: https://auth.example.com, sub: payments-service@example.com, claims[scope]: [pay]}} to[0]{methods: [GET, POST], paths: [/v1/payments/*], ports: [443]}`,
		`  rules[1]: when[0]{claim[groups], values: [ops]} when[1]{header[x-debug], notValues: [1]}`,
		`  rules[2]: every request`,
		`ALLOW policy "closed" (no rules: allows nothing)`,
		`otherwise: deny (no ALLOW policy matched)`,
	}
	got := e.Describe()
	if !slices.Equal(got, want) {
		t.Fatalf("Describe:\n%s\nwant:\n%s", join(got), join(want))
	}
	got[0] = "changed"
	if e.Describe()[0] == "changed" {
		t.Fatal("Describe returned the engine's own slice")
	}

	open, _ := Compile([]model.Policy{denyP("d")})
	if got := open.Describe(); got[len(got)-1] != "otherwise: allow (no ALLOW policy)" {
		t.Fatalf("Describe: %q", got)
	}
	none, _ := Compile(nil)
	if got := none.Describe(); !slices.Equal(got, []string{"no policies: allow every request"}) {
		t.Fatalf("Describe: %q", got)
	}
}

func join(ls []string) string {
	s := ""
	for _, l := range ls {
		s += l + "\n"
	}
	return s
}

func TestDecisionString(t *testing.T) {
	d := Decision{Policy: "x", Rule: "rules[0]", Action: model.ActionDeny, Reason: ReasonDenyMatched}
	if got, want := d.String(), `denied: DENY policy matched (policy "x", rule "rules[0]")`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	d = Decision{Allowed: true, Reason: ReasonNoAllowPolicy}
	if got, want := d.String(), "allowed: no ALLOW policy applies"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
