package model

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

func validConfig() *Config {
	return &Config{
		Listeners: []Listener{{Name: "web", Address: "127.0.0.1:8080", Origin: Origin{File: "a.yaml", Path: "listeners[0]", Line: 4}}},
		Providers: []Provider{{Name: "p", JWKS: KeySource{Inline: `{"keys":[]}`}, ClockSkew: DefaultClockSkew, MaxTokenBytes: DefaultMaxTokenBytes}},
		Routes: []Route{{
			Name: "r", Listener: "web", Backend: Backend{URL: "http://127.0.0.1:8000"},
			JWT:    &JWTRequirement{Providers: []string{"p"}, Mode: AuthRequired},
			Origin: Origin{File: "a.yaml", Path: "routes[0]", Line: 10},
		}},
	}
}

func texts(is Issues) string {
	var out []string
	for _, i := range is {
		out = append(out, i.Error())
	}
	return strings.Join(out, "\n")
}

func TestValidateValid(t *testing.T) {
	if is := validConfig().Validate(); len(is) != 0 {
		t.Fatalf("issues:\n%s", texts(is))
	}
	// A config built in code, without origins, validates too.
	if is := (&Config{}).Validate(); len(is) != 0 {
		t.Fatalf("empty config: %s", texts(is))
	}
}

func TestValidateIssues(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"unknown provider", func(c *Config) { c.Routes[0].JWT.Providers = []string{"dev"} },
			`a.yaml:10: routes[0].jwt.providers[0]: unknown provider "dev" (route "r")`},
		{"duplicate listener", func(c *Config) {
			c.Listeners = append(c.Listeners, Listener{Name: "web", Address: ":1", Origin: Origin{File: "b.yaml", Path: "listeners[0]", Line: 3}})
		}, `b.yaml:3: listeners[0].name: duplicate listener name "web", first defined at a.yaml:4 (listener "web")`},
		// A provider built in code has no origin: the path starts at the field.
		{"negative durations", func(c *Config) {
			c.Providers[0].JWKS = KeySource{URI: "https://k.example/jwks", Timeout: -time.Second}
			c.Providers[0].MaxTokenBytes = -1
		}, "jwks.timeout: must not be negative, got -1s (provider \"p\")\nmaxTokenBytes: must not be negative, got -1 (provider \"p\")"},
		{"mode", func(c *Config) { c.Routes[0].JWT.Mode = "sometimes" },
			`a.yaml:10: routes[0].jwt.mode: invalid mode "sometimes" (want required, allowMissing or allowMissingOrFailed) (route "r")`},
		{"loopback http is fine", func(c *Config) {
			c.Providers[0].JWKS = KeySource{URI: "http://[::1]:9000/jwks"}
			c.Providers = append(c.Providers, Provider{Name: "q", JWKS: KeySource{URI: "http://localhost/jwks"}},
				Provider{Name: "s", JWKS: KeySource{URI: "http://127.8.0.1/jwks"}})
		}, ``},
		{"discovery over http", func(c *Config) { c.Providers[0].JWKS = KeySource{}; c.Providers[0].Issuer = "http://idp.example" },
			`warning: issuer: OIDC discovery over plain http from "idp.example": keys can be tampered with in transit; use https (provider "p")`},
		{"condition kind", func(c *Config) {
			c.Policies = []Policy{{Name: "x", Action: ActionDeny, Rules: []Rule{{When: []Condition{{Kind: "ip", Values: []string{"a"}}, {Kind: CondHeader, Values: []string{"a"}}}}}}}
		}, "rules[0].when[0]: invalid condition kind \"ip\" (policy \"x\")\nrules[0].when[1]: header condition needs a name (policy \"x\")"},
		{"empty from and to entries fail closed", func(c *Config) {
			c.Policies = []Policy{{Name: "x", Action: ActionAllow, Rules: []Rule{{From: []From{{}}, To: []To{{Methods: []string{"GET"}}, {}}}}}}
		}, "rules[0].from[0]: empty from entry: set at least one field (policy \"x\")\nrules[0].to[1]: empty to entry: set at least one field (policy \"x\")"},
		{"outputs may not name token or reserved headers", func(c *Config) {
			c.Providers[0].ClaimsToHeaders = []ClaimToHeader{{Claim: "sub", Header: "authorization"}, {Claim: "sub", Header: "Host"}, {Claim: "sub", Header: "forwarded"}}
			c.Providers[0].PayloadHeader = "x-token"
			c.Providers = append(c.Providers, Provider{Name: "q", JWKS: KeySource{URI: "https://idp/jwks"}, From: []TokenSource{{Header: "X-Token"}}})
		}, "claimsToHeaders[0].header: header \"authorization\" is where provider \"p\" reads tokens; the gateway strips the headers it sets from every request, so those tokens would never be seen (provider \"p\")\n" +
			"claimsToHeaders[1].header: header \"Host\" cannot carry a claim or the payload (provider \"p\")\n" +
			"claimsToHeaders[2].header: header \"forwarded\" cannot carry a claim or the payload (provider \"p\")\n" +
			"payloadHeader: header \"x-token\" is where provider \"q\" reads tokens; the gateway strips the headers it sets from every request, so those tokens would never be seen (provider \"p\")"},
		{"clock skew in whole seconds", func(c *Config) { c.Providers[0].ClockSkew = 1500 * time.Millisecond },
			`warning: clockSkew: token times are whole seconds: 1.5s is applied as 1s (provider "p")`},
		{"listener required", func(c *Config) {
			c.Listeners = append(c.Listeners, Listener{Name: "b", Address: ":2"})
			c.Routes[0].Listener = ""
		}, `a.yaml:10: routes[0].listener: required when there is not exactly one listener (route "r")`},
		{"jwt policy loses to route", func(c *Config) {
			c.JWTPolicies = []JWTPolicy{{Name: "all", Requirement: JWTRequirement{Providers: []string{"p"}}, Origin: Origin{File: "a.yaml", Path: "jwtPolicies[0]", Line: 20}}}
		}, `a.yaml:20: warning: jwtPolicies[0]: jwtPolicy "all" not applied to route "r": route already has a JWT requirement of its own (jwtPolicy "all")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(c)
			got := texts(c.Validate())
			if got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	pre := func(v string) PathMatch { return PathMatch{Kind: PathPrefix, Value: v} }
	ex := func(v string) PathMatch { return PathMatch{Kind: PathExact, Value: v} }
	re := func(v string) PathMatch { return PathMatch{Kind: PathRegex, Value: v} }
	tests := []struct {
		name         string
		earlier, m   RouteMatch
		shadowedWant bool
	}{
		{"everything covers anything", RouteMatch{}, RouteMatch{Hosts: []string{"a"}, Methods: []string{"GET"}}, true},
		{"identical", RouteMatch{Paths: []PathMatch{ex("/a")}, Hosts: []string{"a"}}, RouteMatch{Paths: []PathMatch{ex("/a")}, Hosts: []string{"A"}}, true},
		{"prefix covers exact and longer prefix", RouteMatch{Paths: []PathMatch{pre("/a/")}}, RouteMatch{Paths: []PathMatch{ex("/a/b"), pre("/a/c/")}}, true},
		{"prefix misses other path", RouteMatch{Paths: []PathMatch{pre("/a/")}}, RouteMatch{Paths: []PathMatch{ex("/a/b"), ex("/b")}}, false},
		{"later matches any path", RouteMatch{Paths: []PathMatch{pre("/a/")}}, RouteMatch{}, false},
		{"host restricted earlier", RouteMatch{Hosts: []string{"a"}}, RouteMatch{}, false},
		{"method restricted earlier", RouteMatch{Methods: []string{"GET"}}, RouteMatch{Methods: []string{"GET", "POST"}}, false},
		{"method subset", RouteMatch{Methods: []string{"GET", "POST"}}, RouteMatch{Methods: []string{"GET"}}, true},
		{"header present covers value", RouteMatch{Headers: map[string]string{"X-A": "*"}}, RouteMatch{Headers: map[string]string{"x-a": "1"}}, true},
		{"header value differs", RouteMatch{Headers: map[string]string{"x-a": "1"}}, RouteMatch{Headers: map[string]string{"x-a": "2"}}, false},
		{"header missing later", RouteMatch{Headers: map[string]string{"x-a": "*"}}, RouteMatch{}, false},
		{"same regex", RouteMatch{Paths: []PathMatch{re("/a.*")}}, RouteMatch{Paths: []PathMatch{re("/a.*")}}, true},
		{"regex never assumed to cover", RouteMatch{Paths: []PathMatch{re(".*")}}, RouteMatch{Paths: []PathMatch{ex("/a")}}, false},
	}
	for _, tt := range tests {
		if got := covers(tt.earlier, tt.m); got != tt.shadowedWant {
			t.Errorf("%s: covers = %v", tt.name, got)
		}
	}
}

// TestShadowIndex checks the indexed shadow search against comparing every
// pair, on random route tables.
func TestShadowIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(list ...string) string { return list[rng.IntN(len(list))] }
	for round := range 200 {
		var routes []Route
		for i := range 30 {
			r := Route{Name: strconv.Itoa(i), Listener: pick("a", "b")}
			for range rng.IntN(3) {
				r.Match.Hosts = append(r.Match.Hosts, pick("x.example", "X.example", "y.example", "*.example"))
			}
			for range rng.IntN(3) {
				kind := []PathMatchKind{PathExact, PathPrefix, PathRegex}[rng.IntN(3)]
				r.Match.Paths = append(r.Match.Paths, PathMatch{Kind: kind, Value: pick("/", "/a", "/a/", "/a/b", "/b")})
			}
			if rng.IntN(4) == 0 {
				r.Match.Methods = []string{pick("GET", "POST")}
			}
			routes = append(routes, r)
		}
		var x shadowIndex
		for i, r := range routes {
			want := -1
			for j, e := range routes[:i] {
				if e.Listener == r.Listener && covers(e.Match, r.Match) {
					want = j
					break
				}
			}
			if got := x.first(r, routes); got != want {
				t.Fatalf("round %d, route %d %+v: first = %d, want %d", round, i, r, got, want)
			}
			x.add(i, r)
		}
	}
}

// TestShadowCheckScales validates many distinct routes quickly: the shadow
// check does not compare every pair.
func TestShadowCheckScales(t *testing.T) {
	c := &Config{Listeners: []Listener{{Name: "web", Address: "127.0.0.1:8080"}}}
	for i := range 50000 {
		c.Routes = append(c.Routes, Route{
			Name: "r" + strconv.Itoa(i), Listener: "web",
			Match:   RouteMatch{Paths: []PathMatch{{Kind: PathExact, Value: "/p" + strconv.Itoa(i)}}},
			Backend: Backend{URL: "http://127.0.0.1:8000"},
		})
	}
	start := time.Now()
	if is := c.Validate(); len(is) != 0 {
		t.Fatalf("issues: %s", texts(is[:1]))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("validating 50000 routes took %s", d)
	}
}
