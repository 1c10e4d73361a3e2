package envoygateway_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"cel.dev/cel-go/common/types"
	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/authz"
	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect/envoygateway"
	"jwtgate.dev/jwtgate/internal/model"
)

// orderDoc is a Gateway, an HTTPRoute for every path, and a
// SecurityPolicy on it with two providers (issuers a.example and
// b.example) whose authorization is the case's. Tokens are optional, so
// that requests without one reach authorization.
const orderDoc = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: eg}
spec:
  gatewayClassName: eg
  listeners: [{name: http, protocol: HTTP, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: all}
spec:
  parentRefs: [{name: eg}]
  rules: [{backendRefs: [{name: svc, port: 80}]}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: p}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: all}]
  jwt:
    optional: true
    providers:
      - {name: a, issuer: a.example, localJWKS: {inline: '{"keys":[]}'}}
      - {name: b, issuer: b.example, localJWKS: {inline: '{"keys":[]}'}}
  authorization:
%s`

// req is one request of the grid: what authorization looks at.
type req struct {
	method, path, ip string
	token            string // "" (none), or a key of tokens
	canary           string // X-Canary, "" for none
}

func (r req) String() string {
	return fmt.Sprintf("%s %s from %s token=%q canary=%q", r.method, r.path, r.ip, r.token, r.canary)
}

// tokens are the verified tokens of the grid, their claims typed as the
// cases declare them (team a string, groups an array, scope a
// space-delimited string, scp an array).
var tokens = map[string]map[string]any{
	"a-dev":  {"iss": "a.example", "sub": "alice", "team": "dev", "groups": []any{"admins", "x"}, "scope": "read write", "org": map[string]any{"unit": "shop"}},
	"a-ops":  {"iss": "a.example", "sub": "olga", "team": "ops", "groups": []any{"users"}, "scp": []any{"read"}},
	"b-dev":  {"iss": "b.example", "sub": "bob", "team": "dev", "groups": []any{"admins"}, "scope": "admin"},
	"a-none": {"iss": "a.example", "sub": "nemo"},
}

// grid is every combination of these.
func grid() []req {
	var out []req
	for _, m := range []string{"GET", "POST", "DELETE"} {
		for _, p := range []string{"/", "/api", "/api/items", "/apix", "/admin", "/admin/users"} {
			for _, ip := range []string{"10.1.2.3", "192.168.1.1", "2001:db8::1"} {
				for _, tok := range []string{"", "a-dev", "a-ops", "b-dev", "a-none"} {
					for _, c := range []string{"", "1", "2"} {
						out = append(out, req{m, p, ip, tok, c})
					}
				}
			}
		}
	}
	return out
}

// orderCases are ordered rules, with requests and the verdict Envoy
// Gateway gives them (true: allowed). exact is false where the rules hold
// what jwtgate cannot evaluate (the grid is then not compared with the
// reference, which would be right where jwtgate fails closed).
var orderCases = []struct {
	name  string
	rules string
	exact bool
	want  map[req]bool
}{
	{name: "no rules, default Deny", rules: "    defaultAction: Deny\n", exact: true,
		want: map[req]bool{{"GET", "/", "10.1.2.3", "a-dev", ""}: false}},
	{name: "no rules, no default", rules: "    rules: []\n", exact: true,
		want: map[req]bool{{"GET", "/", "10.1.2.3", "", ""}: false}},
	{name: "no rules, default Allow", rules: "    defaultAction: Allow\n", exact: true,
		want: map[req]bool{{"GET", "/", "10.1.2.3", "", ""}: true}},
	{name: "allow a claim", exact: true, rules: `    rules:
      - action: Allow
        principal: {jwt: {provider: a, claims: [{name: team, values: [dev]}]}}
`, want: map[req]bool{
		{"GET", "/", "10.1.2.3", "a-dev", ""}: true,
		{"GET", "/", "10.1.2.3", "b-dev", ""}: false, // team dev, but provider b's token
		{"GET", "/", "10.1.2.3", "a-ops", ""}: false,
		{"GET", "/", "10.1.2.3", "", ""}:      false,
	}},
	{name: "deny a path, then allow tokens", exact: true, rules: `    rules:
      - action: Deny
        operation: {path: {value: /admin}}
        principal: {clientCIDRs: [0.0.0.0/0, "::/0"]}
      - action: Allow
        principal: {jwt: {provider: a, scopes: [read]}}
`, want: map[req]bool{
		{"GET", "/api", "10.1.2.3", "a-dev", ""}:         true,
		{"GET", "/api", "10.1.2.3", "a-ops", ""}:         true, // scp holds read
		{"GET", "/admin/users", "10.1.2.3", "a-dev", ""}: false,
		{"GET", "/adminx", "10.1.2.3", "a-dev", ""}:      true,
		{"GET", "/api", "10.1.2.3", "a-none", ""}:        false,
	}},
	{name: "allow, deny, allow, default Allow", exact: true, rules: `    defaultAction: Allow
    rules:
      - action: Allow
        principal: {clientCIDRs: [10.0.0.0/8]}
      - action: Deny
        operation: {methods: [DELETE, POST]}
        principal: {headers: [{name: x-canary, values: ["1", "2"]}]}
      - action: Deny
        principal: {jwt: {provider: b, claims: [{name: team, values: [dev]}]}}
      - action: Allow
        operation: {methods: [GET]}
        principal: {clientCIDRs: [192.168.0.0/16]}
`, want: map[req]bool{
		{"DELETE", "/", "10.1.2.3", "b-dev", "1"}:     true,  // the first rule
		{"DELETE", "/", "192.168.1.1", "", "1"}:       false, // the second
		{"DELETE", "/", "192.168.1.1", "", ""}:        true,  // the default
		{"GET", "/", "192.168.1.1", "b-dev", ""}:      false, // the third before the fourth
		{"GET", "/", "2001:db8::1", "a-dev", "2"}:     true,
		{"POST", "/api", "2001:db8::1", "a-dev", "2"}: false,
	}},
	{name: "allow, deny, allow, deny, allow, default Deny", exact: true, rules: `    rules:
      - action: Allow
        principal: {clientCIDRs: [10.0.0.0/8]}
      - action: Deny
        operation: {methods: [DELETE]}
        principal: {clientCIDRs: [0.0.0.0/0, "::/0"]}
      - action: Allow
        principal: {jwt: {provider: a, scopes: [read]}}
      - action: Deny
        operation: {path: {value: /admin}}
        principal: {headers: [{name: x-canary, values: ["1"]}]}
      - action: Allow
        operation: {methods: [GET]}
        principal: {clientCIDRs: ["::/0"]}
`, want: map[req]bool{
		{"DELETE", "/", "10.1.2.3", "", ""}:             true,  // the first rule
		{"DELETE", "/", "192.168.1.1", "a-dev", ""}:     false, // the second before the third
		{"POST", "/admin", "192.168.1.1", "a-dev", "1"}: true,  // the third before the fourth
		{"GET", "/admin", "2001:db8::1", "", "1"}:       false, // the fourth before the fifth
		{"GET", "/api", "2001:db8::1", "", "1"}:         true,
		{"GET", "/api", "192.168.1.1", "", ""}:          false, // the default
	}},
	{name: "inverted path", exact: true, rules: `    rules:
      - action: Deny
        operation: {path: {type: PathPrefix, value: /api/, invert: true}}
        principal: {headers: [{name: x-canary, values: ["1"]}]}
      - action: Allow
        operation: {path: {type: Exact, value: /api/items, invert: true}}
        principal: {jwt: {provider: a, claims: [{name: groups, valueType: StringArray, values: [admins, users]}]}}
`, want: map[req]bool{
		{"GET", "/admin", "10.1.2.3", "a-dev", "1"}:    false,
		{"GET", "/admin", "10.1.2.3", "a-dev", ""}:     true,
		{"GET", "/api/items", "10.1.2.3", "a-dev", ""}: false,
		{"GET", "/api", "10.1.2.3", "a-ops", "1"}:      true,
		{"GET", "/apix", "10.1.2.3", "a-ops", "1"}:     false,
	}},
	{name: "nested claim and two providers", exact: true, rules: `    rules:
      - action: Deny
        principal: {jwt: {provider: b, scopes: [admin]}}
      - action: Allow
        operation: {methods: [GET, POST]}
        principal:
          jwt: {provider: a, claims: [{name: org.unit, values: [shop]}, {name: team, values: [dev, ops]}], scopes: [read, write]}
      - action: Allow
        operation: {methods: [GET]}
        principal: {jwt: {provider: b, claims: [{name: team, values: [dev]}]}}
`, want: map[req]bool{
		{"POST", "/", "10.1.2.3", "a-dev", ""}: true,
		{"POST", "/", "10.1.2.3", "a-ops", ""}: false, // no org.unit, no write
		{"GET", "/", "10.1.2.3", "b-dev", ""}:  false, // denied by its scope first
	}},
	{name: "allow everything after a deny", exact: true, rules: `    rules:
      - action: Deny
        operation: {methods: [DELETE]}
        principal: {clientCIDRs: [192.168.0.0/16]}
      - action: Allow
        principal: {clientCIDRs: [0.0.0.0/0, "::/0"]}
`, want: map[req]bool{
		{"DELETE", "/", "192.168.1.1", "", ""}: false,
		{"DELETE", "/", "10.1.2.3", "", ""}:    true,
		{"POST", "/", "192.168.1.1", "", ""}:   true,
	}},
	{name: "a provider the policy does not have", exact: true, rules: `    defaultAction: Allow
    rules:
      - action: Deny
        principal: {jwt: {provider: c, claims: [{name: team, values: [dev]}]}}
`, want: map[req]bool{{"GET", "/", "10.1.2.3", "a-dev", ""}: true}},
	{name: "cel over the request and each provider's claims", exact: true, rules: `    rules:
      - action: Deny
        cel: "metadata.filter_metadata['envoy.filters.http.jwt_authn']['b']['team'] == 'dev' && request.method == 'DELETE'"
      - action: Allow
        cel: "'read' in metadata.filter_metadata['envoy.filters.http.jwt_authn']['a']['scope'] || request.url_path.startsWith('/api/')"
        principal: {clientCIDRs: [10.0.0.0/8, "2001:db8::/32"]}
      - action: Deny
        cel: "!has(metadata.filter_metadata['envoy.filters.http.jwt_authn'].a) && request.headers['x-canary'] == '1'"
      - action: Allow
        cel: "metadata.filter_metadata['envoy.filters.http.jwt_authn'].exists(p, p == 'b') || source.address.startsWith('192.168.')"
`, want: map[req]bool{
		{"GET", "/", "10.1.2.3", "a-dev", ""}:          true,  // scope read, split
		{"GET", "/", "10.1.2.3", "a-ops", ""}:          false, // scp, not scope
		{"GET", "/api/items", "10.1.2.3", "", ""}:      true,  // the path
		{"DELETE", "/", "10.1.2.3", "b-dev", ""}:       false, // b's team dev
		{"GET", "/", "192.168.1.1", "b-dev", "1"}:      false, // no claims under a, canary 1
		{"GET", "/", "192.168.1.1", "a-none", "1"}:     true,  // claims under a
		{"POST", "/", "2001:db8::1", "b-dev", ""}:      true,  // claims under b
		{"POST", "/admin", "2001:db8::1", "a-dev", ""}: true,  // scope read
		{"POST", "/admin", "2001:db8::1", "a-ops", ""}: false,
	}},
	{name: "what jwtgate cannot evaluate fails closed", rules: `    defaultAction: Allow
    rules:
      - action: Allow
        cel: xds.route_name == 'all' || request.headers['x-vip'] == 'yes'
        principal: {clientCIDRs: [192.168.0.0/16]}
      - action: Deny
        operation: {methods: [DELETE]}
        principal: {clientIPGeoLocations: [{country: FR}], clientCIDRs: [10.0.0.0/8]}
      - action: Deny
        operation: {path: {type: RegularExpression, value: "/adm.*"}}
        principal: {headers: [{name: x-canary, values: ["2"]}]}
`, want: map[req]bool{
		{"DELETE", "/", "192.168.1.1", "", ""}: true,  // the default: the cel rule is dropped, the geo rule needs 10/8
		{"DELETE", "/", "10.1.2.3", "", ""}:    false, // the geo rule, broadened to every country
		{"GET", "/api", "10.1.2.3", "", "2"}:   false, // the regex rule, broadened to every path
		{"GET", "/api", "10.1.2.3", "", "1"}:   true,
	}},
}

// TestOrderedRules translates each case's rules and evaluates requests
// through the model's authorization engine: the explicit verdicts, and,
// for the cases jwtgate states exactly, every request of the grid
// against a first-match evaluator written from Envoy Gateway's semantics;
// in the form jwtgate chooses, and in each form it may write.
func TestOrderedRules(t *testing.T) {
	for _, c := range orderCases {
		for _, fm := range []string{"natural", "ALLOW", "mixed", "DENY"} {
			t.Run(c.name+"/"+fm, func(t *testing.T) {
				if f, ok := envoygateway.Forms[fm]; ok {
					defer envoygateway.ForceForm(f)()
				}
				eng := compileCase(t, c.rules)
				for r, want := range c.want {
					if got := allowed(eng, r); got != want {
						t.Errorf("%s: allowed %v, want %v", r, got, want)
					}
				}
				if !c.exact {
					return
				}
				ref := referenceRules(t, c.rules)
				n := 0
				for _, r := range grid() {
					if want := ref.allowed(r); allowed(eng, r) != want {
						if n++; n <= 10 {
							t.Errorf("%s: allowed %v, Envoy Gateway allows %v", r, !want, want)
						}
					}
				}
				for r, want := range c.want {
					if ref.allowed(r) != want {
						t.Errorf("the reference evaluator disagrees with the table on %s", r)
					}
				}
			})
		}
	}
}

// compileCase loads the case and compiles the policies of its route.
func compileCase(t *testing.T, rules string) *authz.Engine {
	t.Helper()
	ld := config.ReadBytes("order.yaml", []byte(fmt.Sprintf(orderDoc, rules)))
	cfg, issues := ld.Validated()
	if cfg == nil {
		t.Fatalf("not valid: %v", issues)
	}
	if len(cfg.Routes) != 1 {
		t.Fatalf("%d routes", len(cfg.Routes))
	}
	eng, err := authz.Compile(cfg.PoliciesFor(cfg.Routes[0]))
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// allowed evaluates r as the gateway does after authentication.
func allowed(eng *authz.Engine, r req) bool {
	ar := authz.Request{Host: "www.example.com", Method: r.method, Path: r.path, Port: 8080, Header: http.Header{}}
	ar.Remote = netip.MustParseAddr(r.ip)
	if r.canary != "" {
		ar.Header.Set("X-Canary", r.canary)
	}
	if claims := tokens[r.token]; claims != nil {
		ar.Authenticated, ar.Claims = true, claims
		ar.Issuer, ar.Subject = claims["iss"].(string), claims["sub"].(string)
		ar.Principal = ar.Issuer + "/" + ar.Subject
	}
	return eng.Evaluate(&ar).Allowed
}

// refRule is a rule as the reference evaluator reads it.
type refRule struct {
	Action    string
	CEL       string `yaml:"cel"`
	Operation *struct {
		Methods []string
		Path    *struct {
			Type, Value string
			Invert      bool
		}
	}
	Principal struct {
		ClientCIDRs []string `yaml:"clientCIDRs"`
		Headers     []struct {
			Name   string
			Values []string
		}
		JWT *struct {
			Provider string
			Claims   []struct {
				Name      string
				ValueType string `yaml:"valueType"`
				Values    []string
			}
			Scopes []string
		}
	}
}

type refAuthz struct {
	DefaultAction string `yaml:"defaultAction"`
	Rules         []refRule
}

func referenceRules(t *testing.T, rules string) refAuthz {
	var a refAuthz
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(rules, "\n    ", "\n")[4:]), &a); err != nil {
		t.Fatalf("reading the rules: %v", err)
	}
	return a
}

// allowed is Envoy Gateway's verdict: the first rule that matches
// decides, else the default action (Deny unless Allow).
func (a refAuthz) allowed(r req) bool {
	for _, rl := range a.Rules {
		if rl.matches(r) {
			return rl.Action == "Allow"
		}
	}
	return a.DefaultAction == "Allow"
}

func (rl refRule) matches(r req) bool {
	if rl.CEL != "" && !celMatches(rl.CEL, r) {
		return false
	}
	if o := rl.Operation; o != nil {
		if len(o.Methods) > 0 && !slices.Contains(o.Methods, r.method) {
			return false
		}
		if p := o.Path; p != nil {
			v := p.Value
			var in bool
			switch p.Type {
			case "Exact":
				in = r.path == v
			default: // PathPrefix
				v = strings.TrimSuffix(v, "/")
				in = r.path == v || strings.HasPrefix(r.path, v+"/") || v == ""
			}
			if in == p.Invert {
				return false
			}
		}
	}
	pr := rl.Principal
	if len(pr.ClientCIDRs) > 0 && !slices.ContainsFunc(pr.ClientCIDRs, func(c string) bool {
		return netip.MustParsePrefix(c).Contains(netip.MustParseAddr(r.ip))
	}) {
		return false
	}
	for _, h := range pr.Headers {
		if r.canary == "" || !strings.EqualFold(h.Name, "x-canary") || !slices.Contains(h.Values, r.canary) {
			return false
		}
	}
	if j := pr.JWT; j != nil {
		claims := tokens[r.token]
		if claims == nil || claims["iss"] != j.Provider+".example" {
			return false // no token of that provider: no metadata under its name
		}
		for _, c := range j.Claims {
			v := lookup(claims, c.Name)
			switch c.ValueType {
			case "StringArray":
				list, _ := v.([]any)
				if !slices.ContainsFunc(list, func(e any) bool { s, _ := e.(string); return slices.Contains(c.Values, s) }) {
					return false
				}
			default:
				if s, ok := v.(string); !ok || !slices.Contains(c.Values, s) {
					return false
				}
			}
		}
		for _, s := range j.Scopes {
			scope, _ := claims["scope"].(string)
			scp, _ := claims["scp"].([]any)
			if !slices.Contains(strings.Fields(scope), s) && !slices.Contains(scp, any(s)) {
				return false
			}
		}
	}
	return true
}

// celMatches evaluates a rule's cel with cel-go on its own, over plain
// maps holding Envoy Gateway's attributes: the verified token's claims
// under its provider's name (a or b, from the issuer), scope split into
// a list; an error or a result that is not true is no match.
func celMatches(expr string, r req) bool {
	env, err := model.CELEnv()
	if err != nil {
		panic(err)
	}
	a, iss := env.Compile(expr)
	if iss.Err() != nil {
		panic(iss.Err())
	}
	prg, err := env.Program(a)
	if err != nil {
		panic(err)
	}
	headers := map[string]any{}
	if r.canary != "" {
		headers["x-canary"] = r.canary
	}
	jwt := map[string]any{}
	if claims := tokens[r.token]; claims != nil {
		payload := map[string]any{}
		for k, v := range claims {
			payload[k] = v
		}
		if s, ok := payload["scope"].(string); ok {
			var words []any
			for _, w := range strings.Fields(s) {
				words = append(words, w)
			}
			payload["scope"] = words
		}
		jwt[strings.TrimSuffix(claims["iss"].(string), ".example")] = payload
	}
	filters := map[string]any{}
	if len(jwt) > 0 {
		filters["envoy.filters.http.jwt_authn"] = jwt
	}
	out, _, err := prg.Eval(map[string]any{
		"request":  map[string]any{"method": r.method, "url_path": r.path, "headers": headers},
		"source":   map[string]any{"address": netip.AddrPortFrom(netip.MustParseAddr(r.ip), 0).String(), "port": 0},
		"metadata": map[string]any{"filter_metadata": filters},
	})
	return err == nil && out == types.True
}

// lookup finds a claim by its dotted path.
func lookup(claims map[string]any, name string) any {
	var v any = claims
	for _, seg := range strings.Split(name, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[seg]
	}
	return v
}

// TestOrderStatuses checks that what fails closed is said on the status.
func TestOrderStatuses(t *testing.T) {
	ld := config.ReadBytes("order.yaml", []byte(fmt.Sprintf(orderDoc, orderCases[len(orderCases)-1].rules)))
	cfg, issues := ld.Validated()
	sts := model.Statuses(ld.Resources, issues, append(ld.Notes, cfg.Notes()...), cfg != nil)
	for _, st := range sts {
		if st.Kind != "SecurityPolicy" {
			continue
		}
		c := st.Conditions[0]
		for _, want := range []string{"PartiallyAccepted", "rules[0].cel", "this Allow rule never matches", "rules[1].principal.clientIPGeoLocations", "rules[2].operation.path", "matches more"} {
			if !strings.Contains(c.Reason+" "+c.Message, want) {
				t.Errorf("status %s lacks %q", st, want)
			}
		}
	}
}

// TestTooManyRulesFailsClosed writes out rules whose order needs more
// model rules than jwtgate makes: the ALLOW (and mixed) form allows
// nothing, the DENY form denies everything, where Envoy Gateway allows.
func TestTooManyRulesFailsClosed(t *testing.T) {
	rule := func(action, tag string, i int) string {
		return fmt.Sprintf("      - action: %s\n        operation: {methods: [PATCH], path: {type: Exact, value: /%s%d}}\n        principal: {headers: [{name: x-canary, values: [\"%s%d\"]}], clientCIDRs: [10.%d.0.0/16]}\n", action, tag, i, tag, i, i)
	}
	var alternate, allows strings.Builder
	for i := range 10 {
		alternate.WriteString(rule("Deny", "d", i) + rule("Allow", "a", i))
		allows.WriteString(rule("Allow", "a", i))
	}
	for _, c := range []struct {
		name, rules string
		r           req
	}{
		{"default Deny", "    rules:\n" + alternate.String() + "      - action: Allow\n        principal: {clientCIDRs: [0.0.0.0/0]}\n",
			req{"GET", "/", "192.168.1.1", "", ""}},
		{"default Allow", "    defaultAction: Allow\n    rules:\n" + allows.String() + "      - action: Deny\n        principal: {clientCIDRs: [0.0.0.0/0]}\n",
			req{"PATCH", "/a1", "10.1.2.3", "", "a1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !referenceRules(t, c.rules).allowed(c.r) {
				t.Fatalf("Envoy Gateway denies %s", c.r)
			}
			if allowed(compileCase(t, c.rules), c.r) {
				t.Errorf("%s allowed: the overflow does not fail closed", c.r)
			}
		})
	}
}
