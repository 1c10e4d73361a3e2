package model

import (
	"strings"
	"testing"
)

func egressConfig() *Config {
	o := func(path string, line int) Origin { return Origin{File: "e.yaml", Path: path, Line: line} }
	return &Config{
		Listeners: []Listener{{Name: "egress", Address: "127.0.0.1:15443", Egress: &ListenerEgress{}, Origin: o("listeners[0]", 3)}},
		Providers: []Provider{{Name: "p", JWKS: KeySource{Inline: `{"keys":[]}`}, ClockSkew: DefaultClockSkew, MaxTokenBytes: DefaultMaxTokenBytes}},
		Egress: Egress{
			Servers: []EgressServer{
				{Name: "httpbin", Host: "httpbin.org", TLS: &OriginationTLS{Mode: OriginateSimple}, Origin: o("egress.servers[0]", 10)},
				{Name: "any", Host: "*", TLS: &OriginationTLS{Mode: OriginateSimple}, Origin: o("egress.servers[1]", 20)},
			},
		},
	}
}

func TestEgressValid(t *testing.T) {
	c := egressConfig()
	if is := c.Validate().Errors(); len(is) != 0 {
		t.Fatalf("issues:\n%s", texts(is))
	}
}

func TestEgressIssues(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"no host", func(c *Config) { c.Egress.Servers[0].Host = "" },
			`e.yaml:10: egress.servers[0].host: required (egress server "httpbin")`},
		{"host with port", func(c *Config) { c.Egress.Servers[0].Host = "httpbin.org:443" },
			`e.yaml:10: egress.servers[0].host: invalid host "httpbin.org:443": give a host name without scheme, port or path (egress server "httpbin")`},
		{"wildcard suffix", func(c *Config) { c.Egress.Servers[0].Host = "*.httpbin.org" },
			`e.yaml:10: egress.servers[0].host: invalid host "*.httpbin.org": give an exact host name, or * for any external host (egress server "httpbin")`},
		{"host twice", func(c *Config) { c.Egress.Servers[1].Host = "HTTPBIN.org" },
			`e.yaml:20: egress.servers[1].host: host "HTTPBIN.org" is served by egress server "httpbin" (e.yaml:10) already (egress server "any")`},
		{"two egress listeners, none named", func(c *Config) {
			c.Listeners = append(c.Listeners, Listener{Name: "egress2", Address: ":2", Egress: &ListenerEgress{}})
		}, "e.yaml:10: egress.servers[0].listener: required: there is not exactly one egress listener (a listener with egress settings) (egress server \"httpbin\")\n" +
			`e.yaml:20: egress.servers[1].listener: required: there is not exactly one egress listener (a listener with egress settings) (egress server "any")`},
		{"not an egress listener", func(c *Config) {
			c.Listeners = append(c.Listeners, Listener{Name: "web", Address: ":2"})
			c.Egress.Servers[0].Listener = "web"
		}, `e.yaml:10: egress.servers[0].listener: listener "web" is not an egress listener (give it egress settings) (egress server "httpbin")`},
		{"route on an egress listener", func(c *Config) {
			c.Routes = []Route{{Name: "r", Listener: "egress", Backend: Backend{URL: "http://127.0.0.1:1"}, Origin: Origin{File: "e.yaml", Path: "routes[0]", Line: 30}}}
		}, `e.yaml:30: routes[0].listener: listener "egress" is an egress listener: it serves egress servers, not routes (route "r")`},
		{"mutual without key", func(c *Config) {
			c.Egress.Servers[0].TLS = &OriginationTLS{Mode: OriginateMutual, CertFile: "c.pem"}
		}, `e.yaml:10: egress.servers[0].tls.keyFile: required with mode MUTUAL (egress server "httpbin")`},
		{"simple with a client certificate", func(c *Config) {
			c.Egress.Servers[0].TLS = &OriginationTLS{Mode: OriginateSimple, CertFile: "c.pem", KeyFile: "k.pem"}
		}, `e.yaml:10: egress.servers[0].tls.certFile: a client certificate needs mode MUTUAL (egress server "httpbin")`},
		{"tls mode", func(c *Config) { c.Egress.Servers[0].TLS = &OriginationTLS{Mode: "ISTIO_MUTUAL"} },
			`e.yaml:10: egress.servers[0].tls.mode: invalid mode "ISTIO_MUTUAL" (want SIMPLE or MUTUAL) (egress server "httpbin")`},
		{"inject reserved header", func(c *Config) {
			c.Egress.Servers[0].Inject = []CredentialInjection{{Header: "host", File: "k"}}
		}, `e.yaml:10: egress.servers[0].inject[0].header: header "host" cannot be injected (egress server "httpbin")`},
		{"inject twice", func(c *Config) {
			c.Egress.Servers[0].Inject = []CredentialInjection{{Header: "X-Api-Key", File: "k"}, {Header: "x-api-key", File: "k2"}}
		}, `e.yaml:10: egress.servers[0].inject[1].header: header "x-api-key" injected twice (egress server "httpbin")`},
		{"inject without file", func(c *Config) {
			c.Egress.Servers[0].Inject = []CredentialInjection{{Header: "Authorization", Prefix: "Bearer "}}
		}, `e.yaml:10: egress.servers[0].inject[0].file: required (egress server "httpbin")`},
		{"connect port", func(c *Config) { c.Listeners[0].Egress.ConnectPorts = []int{443, 0, 443} },
			"e.yaml:3: listeners[0].egress.connectPorts[1]: invalid port 0 (listener \"egress\")\ne.yaml:3: listeners[0].egress.connectPorts[2]: port 443 listed twice (listener \"egress\")"},
		{"resolve", func(c *Config) { c.Listeners[0].Egress.Resolve = []string{"httpbin.org:443"} },
			`e.yaml:3: listeners[0].egress.resolve[0]: resolve "httpbin.org:443": want HOST:PORT:ADDR[,ADDR...] (listener "egress")`},
		{"allowCIDRs", func(c *Config) { c.Listeners[0].Egress.AllowCIDRs = []string{"10.0.0.0/33"} },
			`e.yaml:3: listeners[0].egress.allowCIDRs[0]: invalid CIDR "10.0.0.0/33" (want an address or address/bits) (listener "egress")`},
		{"proxy jwt provider", func(c *Config) {
			c.Listeners[0].Egress.ProxyJWT = &JWTRequirement{Providers: []string{"nope"}}
		}, `e.yaml:3: listeners[0].egress.proxyJwt.providers[0]: unknown provider "nope" (listener "egress")`},
		{"postAuthz on egress", func(c *Config) {
			c.Egress.Servers[0].JWT = &JWTRequirement{Providers: []string{"p"}, Phase: PhasePostAuthz}
		}, `e.yaml:10: egress.servers[0].jwt.phase: postAuthz does not apply to egress: tokens are checked before the rules (egress server "httpbin")`},
		{"rule without hosts", func(c *Config) {
			c.Egress.Authorizations = []EgressAuthorization{{Name: "gw", Rules: []Rule{{To: []To{{Methods: []string{"GET"}}}}},
				Origin: Origin{File: "e.yaml", Path: "egress.authorizations[0]", Line: 40}}}
		}, `e.yaml:40: egress.authorizations[0].rules[0].to[0].hosts: required: at least one host (* for any external host) (egress authorization "gw")`},
		{"rule without to", func(c *Config) {
			c.Egress.Authorizations = []EgressAuthorization{{Name: "gw", Rules: []Rule{{From: []From{{Namespaces: []string{"a"}}}}},
				Origin: Origin{File: "e.yaml", Path: "egress.authorizations[0]", Line: 40}}}
		}, `e.yaml:40: egress.authorizations[0].rules[0].to: required: a rule names the hosts it allows (* for any) (egress authorization "gw")`},
		{"host twice in a rule", func(c *Config) {
			c.Egress.Authorizations = []EgressAuthorization{{Name: "gw", Rules: []Rule{{To: []To{{Hosts: []string{"a.com"}, Methods: []string{"GET"}},
				{Hosts: []string{"b.com", "a.com", "A.com"}}}}},
				Origin: Origin{File: "e.yaml", Path: "egress.authorizations[0]", Line: 40}}}
		}, `e.yaml:40: egress.authorizations[0].rules[0].to[1].hosts[2]: host "A.com" listed twice (egress authorization "gw")`},
		{"server rule shape", func(c *Config) {
			c.Egress.Servers[0].Authorization = &ServerAuthorization{Rules: []Rule{{From: []From{}}}}
		}, `e.yaml:10: egress.servers[0].authorization.rules[0].from: empty list: give at least one entry, or leave from out (egress server "httpbin")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := egressConfig()
			tt.change(c)
			got := texts(c.Validate().Errors())
			if got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestEgressPrecedence covers every row of the precedence of egress rules.
func TestEgressPrecedence(t *testing.T) {
	gw := func(hosts ...string) EgressAuthorization {
		return EgressAuthorization{Name: "gw", Rules: []Rule{{To: []To{{Hosts: hosts}}}}}
	}
	server := &ServerAuthorization{Rules: []Rule{{To: []To{{Methods: []string{"GET"}}}}}}
	tests := []struct {
		name    string
		change  func(c *Config)
		want    map[string]EgressDecider // by server
		warning string
	}{
		{"neither: exact open, wildcard denied", func(c *Config) {},
			map[string]EgressDecider{"httpbin": DecidedByNone, "any": DecidedDenyAll},
			"no rule allows anything through this wildcard server"},
		{"only gateway-wide", func(c *Config) { c.Egress.Authorizations = []EgressAuthorization{gw("httpbin.org")} },
			map[string]EgressDecider{"httpbin": DecidedByGateway, "any": DecidedByGateway}, ""},
		{"only server-level", func(c *Config) { c.Egress.Servers[0].Authorization = server },
			map[string]EgressDecider{"httpbin": DecidedByServer, "any": DecidedDenyAll}, "no rule allows anything through this wildcard server"},
		{"both, same host: server-level decides", func(c *Config) {
			c.Egress.Servers[0].Authorization = server
			c.Egress.Authorizations = []EgressAuthorization{gw("httpbin.org", "other.org")}
		}, map[string]EgressDecider{"httpbin": DecidedByServer, "any": DecidedByGateway},
			`does not apply to host "httpbin.org": the server-level rules of egress server "httpbin" decide for it`},
		{"both, different hosts", func(c *Config) {
			c.Egress.Servers[0].Authorization = server
			c.Egress.Authorizations = []EgressAuthorization{gw("other.org")}
		}, map[string]EgressDecider{"httpbin": DecidedByServer, "any": DecidedByGateway}, ""},
		{"gateway-wide rules that never name the host", func(c *Config) {
			c.Egress.Authorizations = []EgressAuthorization{gw("other.org")}
		}, map[string]EgressDecider{"httpbin": DecidedByGateway, "any": DecidedByGateway},
			`no gateway-wide egress rule names host "httpbin.org" or *: every request to it is denied`},
		{"empty gateway-wide list denies all", func(c *Config) {
			c.Egress.Authorizations = []EgressAuthorization{{Name: "gw"}}
		}, map[string]EgressDecider{"httpbin": DecidedByGateway, "any": DecidedByGateway},
			`no gateway-wide egress rule names host "httpbin.org" or *`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := egressConfig()
			tt.change(c)
			for _, p := range c.EgressPlans() {
				if p.DecidedBy != tt.want[p.Server] {
					t.Errorf("server %s: decided by %s, want %s (%s)", p.Server, p.DecidedBy, tt.want[p.Server], p)
				}
				if p.DecidedBy == DecidedByGateway && (len(p.Policies) != 1 || p.Policies[0].Action != ActionAllow) {
					t.Errorf("server %s: policies %+v", p.Server, p.Policies)
				}
			}
			is := c.Validate()
			if len(is.Errors()) > 0 {
				t.Fatalf("errors: %s", texts(is.Errors()))
			}
			got := texts(is.Warnings())
			if tt.warning == "" && got != "" || !strings.Contains(got, tt.warning) {
				t.Errorf("warnings:\n%s\nwant one with %q", got, tt.warning)
			}
		})
	}
}
