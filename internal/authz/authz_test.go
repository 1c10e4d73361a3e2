package authz

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// Policy builders.

func allowP(name string, rules ...model.Rule) model.Policy {
	return model.Policy{Name: name, Action: model.ActionAllow, Rules: rules}
}

func denyP(name string, rules ...model.Rule) model.Policy {
	return model.Policy{Name: name, Action: model.ActionDeny, Rules: rules}
}

func fromRule(f ...model.From) model.Rule { return model.Rule{From: f} }
func toRule(t ...model.To) model.Rule     { return model.Rule{To: t} }
func whenRule(c ...model.Condition) model.Rule {
	return model.Rule{When: c}
}

func cond(kind model.ConditionKind, name string, values ...string) model.Condition {
	return model.Condition{Kind: kind, Name: name, Values: values}
}

func notCond(kind model.ConditionKind, name string, notValues ...string) model.Condition {
	return model.Condition{Kind: kind, Name: name, NotValues: notValues}
}

// Request builders.

const iss = "https://auth.example.com"

func anon() *Request {
	return &Request{
		Host:   "api.example.com",
		Method: "GET",
		Path:   "/v1/things",
		Port:   8443,
		Header: http.Header{},
		Remote: netip.MustParseAddr("192.0.2.10"),
	}
}

func claims() map[string]any {
	return map[string]any{
		"iss":                        iss,
		"sub":                        "alice",
		"groups":                     []any{"dev", "ops"},
		"scope":                      "read:pay write:pay",
		"scp":                        []any{"orders.read", "orders.write"},
		"realm_access":               map[string]any{"roles": []any{"admin", "auditor"}, "scope": "x y"},
		"https://example.com/tenant": "acme",
		"level":                      json.Number("3"),
		"admin":                      true,
		"team":                       "payments",
		"nested":                     []any{[]any{"deep"}, map[string]any{"k": "v"}},
	}
}

func authed() *Request {
	r := anon()
	r.Authenticated = true
	r.Issuer = iss
	r.Subject = "alice"
	r.Principal = iss + "/alice"
	r.Presenter = "cli"
	r.Audiences = []string{"api", "web"}
	r.Claims = claims()
	return r
}

func with(r *Request, f func(*Request)) *Request { f(r); return r }

// withSplit names the space-delimited claims of iss's tokens in p.
func withSplit(p model.Policy, iss string, claims ...string) model.Policy {
	p.SpaceDelimitedClaims = map[string][]string{iss: claims}
	return p
}

func withPeer(r *Request) *Request {
	r.Peer = Peer{
		Principal:      "cluster.local/ns/default/sa/sleep",
		Namespace:      "default",
		ServiceAccount: "default/sleep",
	}
	return r
}

type want struct {
	allowed      bool
	policy, rule string
}

var (
	allowed   = want{allowed: true}
	noneMatch = want{allowed: false}
)

func allowedBy(p, r string) want { return want{true, p, r} }
func deniedBy(p, r string) want  { return want{false, p, r} }

var cases = []struct {
	name     string
	policies []model.Policy
	req      *Request
	want     want
}{
	// No policies, allow-nothing and deny-nothing.
	{"no policies allow", nil, anon(), allowed},
	{"allow policy without rules allows nothing", []model.Policy{allowP("a")}, authed(), noneMatch},
	{"deny policy without rules denies nothing", []model.Policy{denyP("d")}, authed(), allowed},
	{"deny without rules then allow matching", []model.Policy{denyP("d"), allowP("a", fromRule(model.From{RequestPrincipals: []string{"*"}}))}, authed(), allowedBy("a", "rules[0]")},
	{"allow-nothing beside a matching allow", []model.Policy{allowP("empty"), allowP("a", model.Rule{})}, anon(), allowedBy("a", "rules[0]")},
	{"empty rule allows everything", []model.Policy{allowP("a", model.Rule{})}, anon(), allowedBy("a", "rules[0]")},
	{"empty rule denies everything", []model.Policy{denyP("d", model.Rule{})}, authed(), deniedBy("d", "rules[0]")},

	// requestPrincipals.
	{"requestPrincipals exact", []model.Policy{allowP("a", fromRule(model.From{RequestPrincipals: []string{iss + "/alice"}}))}, authed(), allowedBy("a", "rules[0]")},
	{"requestPrincipals exact other sub", []model.Policy{allowP("a", fromRule(model.From{RequestPrincipals: []string{iss + "/bob"}}))}, authed(), noneMatch},
	{"requestPrincipals prefix wildcard", []model.Policy{allowP("a", fromRule(model.From{RequestPrincipals: []string{iss + "/*"}}))}, authed(), allowedBy("a", "rules[0]")},
	{"requestPrincipals suffix wildcard", []model.Policy{allowP("a", fromRule(model.From{RequestPrincipals: []string{"*/alice"}}))}, authed(), allowedBy("a", "rules[0]")},
	{"requestPrincipals star authenticated", []model.Policy{allowP("a", fromRule(model.From{RequestPrincipals: []string{"*"}}))}, authed(), allowedBy("a", "rules[0]")},
	{"requestPrincipals star unauthenticated", []model.Policy{allowP("a", fromRule(model.From{RequestPrincipals: []string{"*"}}))}, anon(), noneMatch},
	{"requestPrincipals ignored when not authenticated", []model.Policy{allowP("a", fromRule(model.From{RequestPrincipals: []string{"*"}}))}, with(anon(), func(r *Request) { r.Principal = "stale/x" }), noneMatch},
	{"notRequestPrincipals star unauthenticated", []model.Policy{allowP("a", fromRule(model.From{NotRequestPrincipals: []string{"*"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"notRequestPrincipals star authenticated", []model.Policy{allowP("a", fromRule(model.From{NotRequestPrincipals: []string{"*"}}))}, authed(), noneMatch},
	{"notRequestPrincipals other principal", []model.Policy{denyP("d", fromRule(model.From{NotRequestPrincipals: []string{iss + "/bob"}}))}, authed(), deniedBy("d", "rules[0]")},

	// jwt and notJwt.
	{"jwt iss and sub", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Iss: iss, Sub: "alice"}}))}, authed(), allowedBy("a", "rules[0]")},
	{"jwt other sub", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Iss: iss, Sub: "bob"}}))}, authed(), noneMatch},
	{"jwt other iss", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Iss: "https://evil.example.com"}}))}, authed(), noneMatch},
	{"jwt unauthenticated", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Iss: iss}}))}, anon(), noneMatch},
	{"jwt claim array any element", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"groups": {"ops"}}}}))}, authed(), allowedBy("a", "rules[0]")},
	{"jwt claim array no element", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"groups": {"sales"}}}}))}, authed(), noneMatch},
	{"jwt claim nested path", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"realm_access.roles": {"admin"}}}}))}, authed(), allowedBy("a", "rules[0]")},
	{"jwt claim top-level dotted name", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"https://example.com/tenant": {"acme"}}}}))}, authed(), allowedBy("a", "rules[0]")},
	{"jwt claim number", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"level": {"3"}}}}))}, authed(), allowedBy("a", "rules[0]")},
	{"jwt claim bool", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"admin": {"true"}}}}))}, authed(), allowedBy("a", "rules[0]")},
	{"jwt claim missing", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"department": {"x"}}}}))}, authed(), noneMatch},
	{"jwt claim scope space-separated", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"scope": {"write:pay"}}}}))}, authed(), allowedBy("a", "rules[0]")},
	{"jwt claim scope whole string is not one scope", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"scope": {"read:pay write:pay"}}}}))}, authed(), noneMatch},
	{"jwt claim scp array", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"scp": {"orders.write"}}}}))}, authed(), allowedBy("a", "rules[0]")},
	{"jwt claim nested arrays and objects not looked into", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"nested": {"deep", "v"}}}}))}, authed(), noneMatch},
	{"jwt every claim must match", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"groups": {"dev"}, "team": {"billing"}}}}))}, authed(), noneMatch},
	{"jwt claim value wildcard", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"team": {"pay*"}}}}))}, authed(), allowedBy("a", "rules[0]")},
	{"notJwt other sub", []model.Policy{allowP("a", fromRule(model.From{NotJWT: &model.JWTMatch{Sub: "bob"}}))}, authed(), allowedBy("a", "rules[0]")},
	{"notJwt same sub", []model.Policy{allowP("a", fromRule(model.From{NotJWT: &model.JWTMatch{Sub: "alice"}}))}, authed(), noneMatch},
	{"notJwt unauthenticated", []model.Policy{denyP("d", fromRule(model.From{NotJWT: &model.JWTMatch{Iss: iss}}))}, anon(), deniedBy("d", "rules[0]")},

	// mTLS peer: principals, namespaces, service accounts.
	{"principals exact", []model.Policy{allowP("a", fromRule(model.From{Principals: []string{"cluster.local/ns/default/sa/sleep"}}))}, withPeer(anon()), allowedBy("a", "rules[0]")},
	{"principals suffix wildcard", []model.Policy{allowP("a", fromRule(model.From{Principals: []string{"*/sa/sleep"}}))}, withPeer(anon()), allowedBy("a", "rules[0]")},
	{"principals prefix wildcard", []model.Policy{allowP("a", fromRule(model.From{Principals: []string{"cluster.local/ns/prod/*"}}))}, withPeer(anon()), noneMatch},
	{"principals star without peer", []model.Policy{allowP("a", fromRule(model.From{Principals: []string{"*"}}))}, authed(), noneMatch},
	{"principals star with peer", []model.Policy{allowP("a", fromRule(model.From{Principals: []string{"*"}}))}, withPeer(anon()), allowedBy("a", "rules[0]")},
	{"notPrincipals without peer", []model.Policy{allowP("a", fromRule(model.From{NotPrincipals: []string{"*"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"notPrincipals matching peer", []model.Policy{denyP("d", fromRule(model.From{NotPrincipals: []string{"*/sa/sleep"}}))}, withPeer(anon()), allowed},
	{"namespaces", []model.Policy{allowP("a", fromRule(model.From{Namespaces: []string{"default"}}))}, withPeer(anon()), allowedBy("a", "rules[0]")},
	{"namespaces without peer", []model.Policy{allowP("a", fromRule(model.From{Namespaces: []string{"default"}}))}, anon(), noneMatch},
	{"notNamespaces", []model.Policy{denyP("d", fromRule(model.From{NotNamespaces: []string{"prod"}}))}, withPeer(anon()), deniedBy("d", "rules[0]")},
	{"serviceAccounts", []model.Policy{allowP("a", fromRule(model.From{ServiceAccounts: []string{"default/sleep"}}))}, withPeer(anon()), allowedBy("a", "rules[0]")},
	{"notServiceAccounts", []model.Policy{allowP("a", fromRule(model.From{NotServiceAccounts: []string{"default/sleep"}}))}, withPeer(anon()), noneMatch},

	// ipBlocks.
	{"ipBlocks v4 CIDR", []model.Policy{allowP("a", fromRule(model.From{IPBlocks: []string{"192.0.2.0/24"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"ipBlocks v4 CIDR miss", []model.Policy{allowP("a", fromRule(model.From{IPBlocks: []string{"10.0.0.0/8"}}))}, anon(), noneMatch},
	{"ipBlocks v4 address", []model.Policy{allowP("a", fromRule(model.From{IPBlocks: []string{"10.9.9.9", "192.0.2.10"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"ipBlocks non-canonical CIDR", []model.Policy{allowP("a", fromRule(model.From{IPBlocks: []string{"192.0.2.99/24"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"ipBlocks v6 CIDR", []model.Policy{allowP("a", fromRule(model.From{IPBlocks: []string{"2001:db8::/32"}}))}, with(anon(), func(r *Request) { r.Remote = netip.MustParseAddr("2001:db8::1") }), allowedBy("a", "rules[0]")},
	{"ipBlocks v6 remote vs v4 CIDR", []model.Policy{allowP("a", fromRule(model.From{IPBlocks: []string{"192.0.2.0/24"}}))}, with(anon(), func(r *Request) { r.Remote = netip.MustParseAddr("2001:db8::1") }), noneMatch},
	{"ipBlocks v4-mapped remote", []model.Policy{allowP("a", fromRule(model.From{IPBlocks: []string{"192.0.2.0/24"}}))}, with(anon(), func(r *Request) { r.Remote = netip.MustParseAddr("::ffff:192.0.2.10") }), allowedBy("a", "rules[0]")},
	{"notIpBlocks matching", []model.Policy{denyP("d", fromRule(model.From{NotIPBlocks: []string{"10.0.0.0/8"}}))}, anon(), deniedBy("d", "rules[0]")},
	{"notIpBlocks without remote", []model.Policy{allowP("a", fromRule(model.From{NotIPBlocks: []string{"10.0.0.0/8"}}))}, with(anon(), func(r *Request) { r.Remote = netip.Addr{} }), allowedBy("a", "rules[0]")},

	// to: hosts, methods, paths, ports.
	{"hosts exact case-insensitive", []model.Policy{allowP("a", toRule(model.To{Hosts: []string{"API.Example.com"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"hosts suffix wildcard", []model.Policy{allowP("a", toRule(model.To{Hosts: []string{"*.example.com"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"hosts suffix wildcard not apex", []model.Policy{allowP("a", toRule(model.To{Hosts: []string{"*.example.com"}}))}, with(anon(), func(r *Request) { r.Host = "example.com" }), noneMatch},
	{"hosts prefix wildcard", []model.Policy{allowP("a", toRule(model.To{Hosts: []string{"api.*"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"hosts miss", []model.Policy{allowP("a", toRule(model.To{Hosts: []string{"www.example.com"}}))}, anon(), noneMatch},
	{"hosts request port ignored", []model.Policy{allowP("a", toRule(model.To{Hosts: []string{"api.example.com"}}))}, with(anon(), func(r *Request) { r.Host = "API.example.com:8443" }), allowedBy("a", "rules[0]")},
	{"hosts with port", []model.Policy{allowP("a", toRule(model.To{Hosts: []string{"api.example.com:8443"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"hosts with other port", []model.Policy{allowP("a", toRule(model.To{Hosts: []string{"api.example.com:443"}}))}, anon(), noneMatch},
	{"hosts with any port", []model.Policy{allowP("a", toRule(model.To{Hosts: []string{"*.example.com:*"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"notHosts", []model.Policy{denyP("d", toRule(model.To{NotHosts: []string{"*.internal"}}))}, anon(), deniedBy("d", "rules[0]")},
	{"methods", []model.Policy{allowP("a", toRule(model.To{Methods: []string{"GET", "HEAD"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"methods miss", []model.Policy{allowP("a", toRule(model.To{Methods: []string{"POST"}}))}, anon(), noneMatch},
	{"notMethods", []model.Policy{denyP("d", toRule(model.To{NotMethods: []string{"GET"}}))}, anon(), allowed},
	{"paths exact", []model.Policy{allowP("a", toRule(model.To{Paths: []string{"/v1/things"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"paths exact is not prefix", []model.Policy{allowP("a", toRule(model.To{Paths: []string{"/v1"}}))}, anon(), noneMatch},
	{"paths prefix", []model.Policy{allowP("a", toRule(model.To{Paths: []string{"/v1/*"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"paths suffix", []model.Policy{allowP("a", toRule(model.To{Paths: []string{"*/things"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"paths star", []model.Policy{allowP("a", toRule(model.To{Paths: []string{"*"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"notPaths", []model.Policy{denyP("d", toRule(model.To{NotPaths: []string{"/healthz", "/public/*"}}))}, anon(), deniedBy("d", "rules[0]")},
	{"notPaths excluded", []model.Policy{denyP("d", toRule(model.To{NotPaths: []string{"/healthz", "/v1/*"}}))}, anon(), allowed},
	{"ports", []model.Policy{allowP("a", toRule(model.To{Ports: []int{8443}}))}, anon(), allowedBy("a", "rules[0]")},
	{"notPorts", []model.Policy{allowP("a", toRule(model.To{NotPorts: []int{8443}}))}, anon(), noneMatch},
	{"to entry all fields must match", []model.Policy{allowP("a", toRule(model.To{Methods: []string{"GET"}, Paths: []string{"/admin/*"}}))}, anon(), noneMatch},
	{"to any entry matches", []model.Policy{allowP("a", toRule(model.To{Paths: []string{"/admin/*"}}, model.To{Methods: []string{"GET"}}))}, anon(), allowedBy("a", "rules[0]")},

	// when.
	{"when claim nested array", []model.Policy{allowP("a", whenRule(cond(model.CondClaim, "realm_access.roles", "auditor")))}, authed(), allowedBy("a", "rules[0]")},
	{"when claim notValues", []model.Policy{allowP("a", whenRule(notCond(model.CondClaim, "groups", "ops")))}, authed(), noneMatch},
	{"when claim absent values", []model.Policy{allowP("a", whenRule(cond(model.CondClaim, "department", "x")))}, authed(), noneMatch},
	{"when claim absent notValues only", []model.Policy{allowP("a", whenRule(notCond(model.CondClaim, "department", "x")))}, authed(), allowedBy("a", "rules[0]")},
	{"when claim unauthenticated", []model.Policy{allowP("a", whenRule(cond(model.CondClaim, "team", "payments")))}, with(anon(), func(r *Request) { r.Claims = claims() }), noneMatch},
	{"when claim scope space-separated", []model.Policy{allowP("a", whenRule(cond(model.CondClaim, "scope", "read:pay")))}, authed(), allowedBy("a", "rules[0]")},
	{"when nested scope space-separated", []model.Policy{allowP("a", whenRule(cond(model.CondClaim, "realm_access.scope", "y")))}, authed(), allowedBy("a", "rules[0]")},
	{"when claim scope as array", []model.Policy{allowP("a", whenRule(cond(model.CondClaim, "scope", "b")))}, with(authed(), func(r *Request) { r.Claims["scope"] = []any{"a", "b"} }), allowedBy("a", "rules[0]")},
	{"when claim values and notValues", []model.Policy{allowP("a", whenRule(model.Condition{Kind: model.CondClaim, Name: "groups", Values: []string{"dev"}, NotValues: []string{"banned"}}))}, authed(), allowedBy("a", "rules[0]")},
	{"when header", []model.Policy{allowP("a", whenRule(cond(model.CondHeader, "x-env", "prod")))}, with(anon(), func(r *Request) { r.Header.Set("X-Env", "prod") }), allowedBy("a", "rules[0]")},
	{"when header any of several values", []model.Policy{allowP("a", whenRule(cond(model.CondHeader, "X-Env", "prod")))}, with(anon(), func(r *Request) { r.Header.Add("X-Env", "dev"); r.Header.Add("X-Env", "prod") }), allowedBy("a", "rules[0]")},
	{"when header prefix wildcard", []model.Policy{allowP("a", whenRule(cond(model.CondHeader, "user-agent", "curl/*")))}, with(anon(), func(r *Request) { r.Header.Set("User-Agent", "curl/8.5.0") }), allowedBy("a", "rules[0]")},
	{"when header suffix wildcard miss", []model.Policy{allowP("a", whenRule(cond(model.CondHeader, "user-agent", "*bot")))}, with(anon(), func(r *Request) { r.Header.Set("User-Agent", "curl/8.5.0") }), noneMatch},
	{"when header presence", []model.Policy{allowP("a", whenRule(cond(model.CondHeader, "x-debug", "*")))}, anon(), noneMatch},
	{"when header absent notValues", []model.Policy{denyP("d", whenRule(notCond(model.CondHeader, "x-debug", "1")))}, anon(), deniedBy("d", "rules[0]")},
	{"when audience any", []model.Policy{allowP("a", whenRule(cond(model.CondAudience, "", "web")))}, authed(), allowedBy("a", "rules[0]")},
	{"when audience unauthenticated", []model.Policy{allowP("a", whenRule(cond(model.CondAudience, "", "web")))}, anon(), noneMatch},
	{"when presenter", []model.Policy{allowP("a", whenRule(cond(model.CondPresenter, "", "cli")))}, authed(), allowedBy("a", "rules[0]")},
	{"when presenter notValues", []model.Policy{allowP("a", whenRule(notCond(model.CondPresenter, "", "cli")))}, authed(), noneMatch},
	{"when issuer", []model.Policy{allowP("a", whenRule(cond(model.CondIssuer, "", iss)))}, authed(), allowedBy("a", "rules[0]")},
	{"when principal wildcard", []model.Policy{allowP("a", whenRule(cond(model.CondPrincipal, "", "*/alice")))}, authed(), allowedBy("a", "rules[0]")},
	{"when every condition must match", []model.Policy{allowP("a", whenRule(cond(model.CondIssuer, "", iss), cond(model.CondClaim, "team", "billing")))}, authed(), noneMatch},

	// Path templates.
	{"template one segment", []model.Policy{allowP("a", toRule(model.To{Paths: []string{"/v1/{*}"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"template one segment not two", []model.Policy{allowP("a", toRule(model.To{Paths: []string{"/{*}"}}))}, anon(), noneMatch},
	{"template one segment not empty", []model.Policy{allowP("a", toRule(model.To{Paths: []string{"/v1/things/{*}"}}))}, with(anon(), func(r *Request) { r.Path = "/v1/things/" }), noneMatch},
	{"template rest", []model.Policy{allowP("a", toRule(model.To{Paths: []string{"/{**}"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"template rest may be empty", []model.Policy{allowP("a", toRule(model.To{Paths: []string{"/v1/things/{**}"}}))}, with(anon(), func(r *Request) { r.Path = "/v1/things/" }), allowedBy("a", "rules[0]")},
	{"template rest needs the slash", []model.Policy{allowP("a", toRule(model.To{Paths: []string{"/v1/things/{**}"}}))}, anon(), noneMatch},
	{"template rest then literal", []model.Policy{denyP("d", toRule(model.To{Paths: []string{"/{*}/{**}/things"}}))}, with(anon(), func(r *Request) { r.Path = "/v1/a/b/things" }), deniedBy("d", "rules[0]")},
	{"template rest then literal keeps its slashes", []model.Policy{denyP("d", toRule(model.To{Paths: []string{"/{*}/{**}/things"}}))}, anon(), allowed},
	{"template rest then literal miss", []model.Policy{denyP("d", toRule(model.To{Paths: []string{"/{*}/{**}/thing"}}))}, with(anon(), func(r *Request) { r.Path = "/v1/a/things" }), allowed},
	{"notPaths template", []model.Policy{denyP("d", toRule(model.To{NotPaths: []string{"/v2/{*}"}}))}, anon(), deniedBy("d", "rules[0]")},

	// Bracketed claim paths.
	{"claim dotted name in brackets", []model.Policy{allowP("a", whenRule(cond(model.CondClaim, "[https://example.com/tenant]", "acme")))}, authed(), allowedBy("a", "rules[0]")},
	{"claim nested under a dotted name", []model.Policy{allowP("a", whenRule(cond(model.CondClaim, "[kubernetes.io][namespace]", "prod")))}, with(authed(), func(r *Request) { r.Claims["kubernetes.io"] = map[string]any{"namespace": "prod"} }), allowedBy("a", "rules[0]")},
	{"claim brackets are not a whole name", []model.Policy{allowP("a", whenRule(cond(model.CondClaim, "[a][b]", "x")))}, with(authed(), func(r *Request) { r.Claims["a.b"] = "x" }), noneMatch},
	{"claim mixed brackets and dots", []model.Policy{allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"realm_access[roles]": {"auditor"}}}}))}, authed(), allowedBy("a", "rules[0]")},

	// Remote addresses and trust domains.
	{"remoteIpBlocks default to the peer", []model.Policy{allowP("a", fromRule(model.From{RemoteIPBlocks: []string{"192.0.2.0/24"}}))}, anon(), allowedBy("a", "rules[0]")},
	{"remoteIpBlocks client", []model.Policy{allowP("a", fromRule(model.From{RemoteIPBlocks: []string{"198.51.100.7"}}))}, with(anon(), func(r *Request) { r.Client = netip.MustParseAddr("198.51.100.7") }), allowedBy("a", "rules[0]")},
	{"ipBlocks ignore the client", []model.Policy{allowP("a", fromRule(model.From{IPBlocks: []string{"198.51.100.7"}}))}, with(anon(), func(r *Request) { r.Client = netip.MustParseAddr("198.51.100.7") }), noneMatch},
	{"notRemoteIpBlocks", []model.Policy{denyP("d", fromRule(model.From{NotRemoteIPBlocks: []string{"10.0.0.0/8"}}))}, with(anon(), func(r *Request) { r.Client = netip.MustParseAddr("::ffff:10.1.1.1") }), allowed},
	{"trustDomains", []model.Policy{allowP("a", fromRule(model.From{TrustDomains: []string{"cluster.local"}}))}, withPeer(anon()), allowedBy("a", "rules[0]")},
	{"trustDomains without peer", []model.Policy{allowP("a", fromRule(model.From{TrustDomains: []string{"*"}}))}, anon(), noneMatch},
	{"notTrustDomains", []model.Policy{denyP("d", fromRule(model.From{NotTrustDomains: []string{"cluster.local"}}))}, withPeer(anon()), allowed},

	// Conditions on the connection.
	{"when source ip", []model.Policy{denyP("d", whenRule(cond(model.CondSourceIP, "", "192.0.2.0/24")))}, anon(), deniedBy("d", "rules[0]")},
	{"when remote ip", []model.Policy{denyP("d", whenRule(cond(model.CondRemoteIP, "", "198.51.100.0/24")))}, with(anon(), func(r *Request) { r.Client = netip.MustParseAddr("198.51.100.9") }), deniedBy("d", "rules[0]")},
	{"when remote ip notValues", []model.Policy{allowP("a", whenRule(notCond(model.CondRemoteIP, "", "192.0.2.10")))}, anon(), noneMatch},
	{"when source principal", []model.Policy{allowP("a", whenRule(cond(model.CondSourcePrincipal, "", "*/sa/sleep")))}, withPeer(anon()), allowedBy("a", "rules[0]")},
	{"when source namespace", []model.Policy{allowP("a", whenRule(cond(model.CondSourceNamespace, "", "default")))}, withPeer(anon()), allowedBy("a", "rules[0]")},
	{"when source service account", []model.Policy{allowP("a", whenRule(cond(model.CondSourceServiceAccount, "", "default/sleep")))}, anon(), noneMatch},
	{"when destination port", []model.Policy{allowP("a", whenRule(cond(model.CondDestinationPort, "", "80", "8443")))}, anon(), allowedBy("a", "rules[0]")},
	{"when destination port notValues", []model.Policy{allowP("a", whenRule(notCond(model.CondDestinationPort, "", "8443")))}, anon(), noneMatch},

	// Space-delimited claims named per issuer.
	{"split claims listed for the issuer", []model.Policy{withSplit(allowP("a", whenRule(cond(model.CondClaim, "permission", "write"))), iss, "scope", "permission")}, with(authed(), func(r *Request) { r.Claims["permission"] = "read write" }), allowedBy("a", "rules[0]")},
	{"split claims of another issuer", []model.Policy{withSplit(allowP("a", whenRule(cond(model.CondClaim, "permission", "write"))), "https://other", "permission")}, with(authed(), func(r *Request) { r.Claims["permission"] = "read write" }), noneMatch},
	{"split claims replace scp", []model.Policy{withSplit(allowP("a", whenRule(cond(model.CondClaim, "scope", "read:pay"), cond(model.CondClaim, "realm_access.scope", "y"))), "*", "scope")}, authed(), noneMatch},
	{"split claims for every issuer", []model.Policy{withSplit(allowP("a", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"scope": {"write:pay"}}}})), "*", "scope")}, authed(), allowedBy("a", "rules[0]")},

	// Rules and policies together.
	{"rule needs from and to", []model.Policy{allowP("a", model.Rule{From: []model.From{{RequestPrincipals: []string{"*"}}}, To: []model.To{{Methods: []string{"POST"}}}})}, authed(), noneMatch},
	{"from any entry matches", []model.Policy{allowP("a", fromRule(model.From{Namespaces: []string{"prod"}}, model.From{RequestPrincipals: []string{"*"}}))}, authed(), allowedBy("a", "rules[0]")},
	{"from entry all fields must match", []model.Policy{allowP("a", fromRule(model.From{Namespaces: []string{"default"}, RequestPrincipals: []string{"*"}}))}, authed(), noneMatch},
	{"named rule", []model.Policy{allowP("a", model.Rule{Name: "r1", To: []model.To{{Methods: []string{"POST"}}}}, model.Rule{Name: "readers", To: []model.To{{Methods: []string{"GET"}}}})}, anon(), allowedBy("a", "readers")},
	{"second rule unnamed", []model.Policy{allowP("a", toRule(model.To{Methods: []string{"POST"}}), toRule(model.To{Methods: []string{"GET"}}))}, anon(), allowedBy("a", "rules[1]")},
	{"deny wins over allow", []model.Policy{allowP("a", model.Rule{}), denyP("d", toRule(model.To{Paths: []string{"/v1/*"}}))}, anon(), deniedBy("d", "rules[0]")},
	{"first matching deny named", []model.Policy{denyP("d1", toRule(model.To{Methods: []string{"POST"}})), denyP("d2", toRule(model.To{Methods: []string{"GET"}})), denyP("d3", model.Rule{})}, anon(), deniedBy("d2", "rules[0]")},
	{"second allow policy matches", []model.Policy{allowP("a1", toRule(model.To{Methods: []string{"POST"}})), allowP("a2", toRule(model.To{Methods: []string{"GET"}}))}, anon(), allowedBy("a2", "rules[0]")},
	{"deny not matching and allow not matching", []model.Policy{denyP("d", toRule(model.To{Methods: []string{"DELETE"}})), allowP("a", toRule(model.To{Methods: []string{"POST"}}))}, anon(), noneMatch},
}

func TestEvaluate(t *testing.T) {
	if len(cases) < 60 {
		t.Fatalf("only %d cases", len(cases))
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			e, err := Compile(tc.policies)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			checkDecision(t, e.Evaluate(tc.req), tc.want)
		})
	}
}

func checkDecision(t *testing.T, d Decision, w want) {
	t.Helper()
	if d.Allowed != w.allowed || d.Policy != w.policy || d.Rule != w.rule {
		t.Fatalf("got %s, want allowed=%v policy=%q rule=%q", d, w.allowed, w.policy, w.rule)
	}
	var wantReason string
	var wantAction model.Action
	switch {
	case w.policy != "" && w.allowed:
		wantReason, wantAction = ReasonAllowMatched, model.ActionAllow
	case w.policy != "":
		wantReason, wantAction = ReasonDenyMatched, model.ActionDeny
	case w.allowed:
		wantReason = ReasonNoAllowPolicy
	default:
		wantReason = ReasonNoAllowMatched
	}
	if d.Reason != wantReason || d.Action != wantAction {
		t.Fatalf("got reason %q action %q, want %q %q", d.Reason, d.Action, wantReason, wantAction)
	}
}

func TestNilEngineAllows(t *testing.T) {
	var e *Engine
	checkDecision(t, e.Evaluate(anon()), allowed)
	if got := e.Describe(); len(got) != 1 {
		t.Fatalf("Describe = %q", got)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name   string
		policy model.Policy
		want   string
	}{
		{"bad CIDR", allowP("x", model.Rule{To: []model.To{{Methods: []string{"GET"}}}}, fromRule(model.From{IPBlocks: []string{"10.0.0/8"}})),
			`policy "x": rules[1].from[0].ipBlocks[0]: invalid IP address or CIDR block "10.0.0/8"`},
		{"bad address", denyP("x", fromRule(model.From{NotIPBlocks: []string{"10.0.0.1", "nope"}})),
			`policy "x": rules[0].from[0].notIpBlocks[1]: invalid IP address or CIDR block "nope"`},
		{"CUSTOM action", model.Policy{Name: "x", Action: "CUSTOM"},
			`policy "x": action: invalid action "CUSTOM" (want ALLOW or DENY)`},
		{"inner wildcard path", allowP("x", toRule(model.To{Paths: []string{"/a/*/b"}})),
			`policy "x": rules[0].to[0].paths[0]: invalid pattern "/a/*/b": "*" is only allowed as the whole value, its first or its last character`},
		{"path template not last", allowP("x", toRule(model.To{NotPaths: []string{"/a/{**}/{*}"}})),
			`policy "x": rules[0].to[0].notPaths[0]: invalid path template "/a/{**}/{*}": {**} must be the last operator`},
		{"path template with other text", allowP("x", toRule(model.To{Paths: []string{"/a/{*}.txt"}})),
			`policy "x": rules[0].to[0].paths[0]: invalid path template "/a/{*}.txt": a segment holding {*} or {**} holds nothing else, and "*", "{" and "}" appear nowhere else`},
		{"path template with dots", allowP("x", toRule(model.To{Paths: []string{"/a/../{*}"}})),
			`policy "x": rules[0].to[0].paths[0]: "/a/../{*}": can never match: "." and ".." segments are removed from every request path`},
		{"claim path stray bracket", allowP("x", whenRule(cond(model.CondClaim, "a]b", "v"))),
			`policy "x": rules[0].when[0].name: claim path "a]b" has a stray ]`},
		{"source IP condition with a bad block", denyP("x", whenRule(cond(model.CondSourceIP, "", "10.0.0.0/33"))),
			`policy "x": rules[0].when[0].values[0]: invalid IP address or CIDR block "10.0.0.0/33"`},
		{"port condition not a number", denyP("x", whenRule(cond(model.CondDestinationPort, "", "http"))),
			`policy "x": rules[0].when[0].values[0]: invalid port "http" (want 0 to 65535)`},
		{"remote IP block", allowP("x", fromRule(model.From{NotRemoteIPBlocks: []string{"::1/129"}})),
			`policy "x": rules[0].from[0].notRemoteIpBlocks[0]: invalid IP address or CIDR block "::1/129"`},
		{"host with bad port", allowP("x", toRule(model.To{Hosts: []string{"example.com:http"}})),
			`policy "x": rules[0].to[0].hosts[0]: "example.com:http": invalid port in host (want HOST, HOST:PORT or HOST:*)`},
		{"host with port and inner wildcard", allowP("x", toRule(model.To{NotHosts: []string{"a*b:80"}})),
			`policy "x": rules[0].to[0].notHosts[0]: "a*b:80": "a*b": "*" is only allowed as the whole value, a prefix or a suffix`},
		{"double wildcard host", allowP("x", toRule(model.To{Hosts: []string{"*.example.*"}})),
			`policy "x": rules[0].to[0].hosts[0]: "*.example.*": "*" is only allowed as the whole value, a prefix or a suffix`},
		{"empty from entry", allowP("x", fromRule(model.From{})),
			`policy "x": rules[0].from[0]: empty from entry: set at least one field`},
		{"empty to entry", allowP("x", model.Rule{To: []model.To{{}}}),
			`policy "x": rules[0].to[0]: empty to entry: set at least one field`},
		{"empty principal", allowP("x", fromRule(model.From{RequestPrincipals: []string{""}})),
			`policy "x": rules[0].from[0].requestPrincipals[0]: empty value`},
		{"bad port", allowP("x", toRule(model.To{Ports: []int{0}})),
			`policy "x": rules[0].to[0].ports[0]: invalid port 0 (want 1 to 65535)`},
		{"condition without values", allowP("x", whenRule(model.Condition{Kind: model.CondHeader, Name: "x-a"})),
			`policy "x": rules[0].when[0]: values or notValues is required`},
		{"unknown condition", allowP("x", whenRule(model.Condition{Kind: "source.ip", Values: []string{"1"}})),
			`policy "x": rules[0].when[0]: invalid condition kind "source.ip"`},
		{"header without name", allowP("x", whenRule(cond(model.CondHeader, "", "v"))),
			`policy "x": rules[0].when[0]: header condition needs a name`},
		{"claim without name", allowP("x", whenRule(cond(model.CondClaim, "", "v"))),
			`policy "x": rules[0].when[0]: claim condition needs a name`},
		{"claim path empty segment", allowP("x", whenRule(cond(model.CondClaim, "a..b", "v"))),
			`policy "x": rules[0].when[0].name: claim path "a..b" has an empty segment`},
		{"jwt claim without values", allowP("x", fromRule(model.From{JWT: &model.JWTMatch{Claims: map[string][]string{"groups": nil}}})),
			`policy "x": rules[0].from[0].jwt.claims[groups]: no values`},
		{"empty from list", allowP("x", model.Rule{From: []model.From{}}),
			`policy "x": rules[0].from: empty list: give at least one entry, or leave from out`},
		{"empty to list", denyP("x", model.Rule{To: []model.To{}, When: []model.Condition{cond(model.CondHeader, "x-a", "v")}}),
			`policy "x": rules[0].to: empty list: give at least one entry, or leave to out`},
		{"host header condition", denyP("x", whenRule(cond(model.CondHeader, "host", "admin.example.com"))),
			`policy "x": rules[0].when[0].name: the Host header is not a condition header: use to[].hosts (compared without the port, ignoring case)`},
		{"transfer-encoding condition", denyP("x", whenRule(notCond(model.CondHeader, "transfer-encoding", "chunked"))),
			`policy "x": rules[0].when[0].name: header "Transfer-Encoding" cannot be matched: it is consumed while reading the request`},
		{"audience with name", allowP("x", whenRule(cond(model.CondAudience, "aud", "v"))),
			`policy "x": rules[0].when[0].name: audience condition takes no name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Compile([]model.Policy{allowP("ok", model.Rule{}), tc.policy})
			if err == nil {
				t.Fatalf("Compile succeeded")
			}
			if e != nil {
				t.Fatalf("Compile returned an engine with an error")
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n got %s\nwant %s", err, tc.want)
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Policy != "x" {
				t.Fatalf("error is not a *PolicyError for x: %#v", err)
			}
		})
	}
	// Several problems are all reported.
	_, err := Compile([]model.Policy{allowP("x", fromRule(model.From{IPBlocks: []string{"a", "b"}}))})
	if err == nil || strings.Count(err.Error(), "invalid IP address") != 2 {
		t.Fatalf("want both errors, got %v", err)
	}
	_, err = Compile([]model.Policy{{Name: "x", Action: "AUDIT"}})
	if err == nil || !strings.Contains(err.Error(), `invalid action "AUDIT"`) {
		t.Fatalf("want an invalid action error, got %v", err)
	}
}
