package authz

import (
	"fmt"
	"net/netip"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// representative is a route with every kind of part, most of which do not
// match, so that Evaluate walks them all before the last ALLOW rule.
func representative(t testing.TB) *Engine {
	e, err := Compile([]model.Policy{
		denyP("deny-bad",
			fromRule(model.From{IPBlocks: []string{"10.0.0.0/8", "2001:db8:dead::/48", "203.0.113.7"}}),
			fromRule(model.From{NotRequestPrincipals: []string{"*"}, NotIPBlocks: []string{"192.0.2.0/24"}}),
			whenRule(cond(model.CondHeader, "x-debug", "1", "true")),
			toRule(model.To{Hosts: []string{"*.internal", "admin.*"}, Paths: []string{"/admin/*", "*.php"}}),
		),
		allowP("allow",
			model.Rule{
				Name: "peers",
				From: []model.From{{Principals: []string{"cluster.local/ns/prod/*"}, Namespaces: []string{"prod"}}},
			},
			model.Rule{
				Name: "claims",
				From: []model.From{{JWT: &model.JWTMatch{Iss: iss, Claims: map[string][]string{"realm_access.roles": {"admin"}, "scope": {"write:pay"}}}}},
				To:   []model.To{{Hosts: []string{"*.example.com"}, Methods: []string{"GET", "POST"}, Paths: []string{"/v1/*"}, NotPorts: []int{9000}}},
				When: []model.Condition{
					cond(model.CondClaim, "groups", "ops"),
					cond(model.CondClaim, "scp", "orders.write"),
					cond(model.CondClaim, "https://example.com/tenant", "acme"),
					cond(model.CondClaim, "level", "3"),
					cond(model.CondClaim, "admin", "true"),
					cond(model.CondAudience, "", "web"),
					cond(model.CondPresenter, "", "cli"),
					cond(model.CondPrincipal, "", "*/alice"),
					notCond(model.CondHeader, "x-forbidden", "*"),
					cond(model.CondHeader, "user-agent", "curl/*"),
				},
			},
		),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func representativeRequests() []*Request {
	ok := authed()
	ok.Header.Set("User-Agent", "curl/8.5.0")
	v6 := authed()
	v6.Remote = netip.MustParseAddr("2001:db8:beef::1")
	v6.Header.Set("User-Agent", "curl/8.5.0")
	peer := withPeer(anon())
	peer.Peer.Principal = "cluster.local/ns/prod/sa/api"
	peer.Peer.Namespace = "prod"
	denied := authed()
	denied.Remote = netip.MustParseAddr("10.1.2.3")
	unauth := anon()
	unauth.Remote = netip.MustParseAddr("198.51.100.1")
	hdr := authed()
	hdr.Header.Set("X-Debug", "true")
	return []*Request{ok, v6, peer, denied, unauth, hdr}
}

func TestRepresentativeDecisions(t *testing.T) {
	e := representative(t)
	wants := []want{
		allowedBy("allow", "claims"),
		allowedBy("allow", "claims"),
		allowedBy("allow", "peers"), // unauthenticated, inside 192.0.2.0/24
		deniedBy("deny-bad", "rules[0]"),
		deniedBy("deny-bad", "rules[1]"),
		deniedBy("deny-bad", "rules[2]"),
	}
	for i, r := range representativeRequests() {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkDecision(t, e.Evaluate(r), wants[i]) })
	}
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	e := representative(t)
	for i, r := range representativeRequests() {
		if n := testing.AllocsPerRun(100, func() { e.Evaluate(r) }); n != 0 {
			t.Errorf("request %d: %v allocs per Evaluate, want 0", i, n)
		}
	}
	for _, tc := range cases {
		ce, err := Compile(tc.policies)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(20, func() { ce.Evaluate(tc.req) }); n != 0 {
			t.Errorf("%s: %v allocs per Evaluate, want 0", tc.name, n)
		}
	}
}

// benchEngine builds a route with n ALLOW rules of which only the last one
// matches, behind a DENY policy that does not match.
func benchEngine(b *testing.B, n int) *Engine {
	rules := make([]model.Rule, n)
	for i := range rules {
		rules[i] = model.Rule{
			From: []model.From{{RequestPrincipals: []string{fmt.Sprintf("%s/user-%d", iss, i)}}},
			To:   []model.To{{Methods: []string{"GET", "POST"}, Paths: []string{fmt.Sprintf("/v1/svc-%d/*", i)}}},
			When: []model.Condition{cond(model.CondClaim, "groups", fmt.Sprintf("group-%d", i), "ops")},
		}
	}
	rules[n-1].From[0].RequestPrincipals = []string{iss + "/*"}
	rules[n-1].To[0].Paths = []string{"/v1/*"}
	e, err := Compile([]model.Policy{
		denyP("deny", fromRule(model.From{IPBlocks: []string{"10.0.0.0/8"}}), toRule(model.To{Paths: []string{"/admin/*"}})),
		allowP("allow", rules...),
	})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			e := benchEngine(b, n)
			r := authed()
			if d := e.Evaluate(r); !d.Allowed {
				b.Fatalf("setup: %s", d)
			}
			b.ReportAllocs()
			for b.Loop() {
				e.Evaluate(r)
			}
		})
	}
}
