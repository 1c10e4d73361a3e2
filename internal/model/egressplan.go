package model

import (
	"fmt"
	"slices"
	"strings"
)

// EgressDecider says which rules decide for an egress server's host.
type EgressDecider string

// Deciders, in the order of precedence.
const (
	// DecidedByServer: the server's own authorization rules decide;
	// gateway-wide rules do not apply to its host.
	DecidedByServer EgressDecider = "server"
	// DecidedByGateway: the gateway-wide egress rules decide.
	DecidedByGateway EgressDecider = "gateway"
	// DecidedByNone: no rule applies to an exact-host server; every caller
	// that meets its JWT requirement is allowed.
	DecidedByNone EgressDecider = "none"
	// DecidedDenyAll: a wildcard server with no rule anywhere; nothing is
	// allowed (an open forward proxy is never a default).
	DecidedDenyAll EgressDecider = "deny"
)

// EgressPlan is how one egress server's requests are authorized.
type EgressPlan struct {
	Server   string
	Listener string
	Host     string
	// DecidedBy names the rules that decide.
	DecidedBy EgressDecider
	// Policies are those rules as ALLOW policies (one per resource), in
	// configuration order; nil for DecidedByNone. An ALLOW policy with no
	// rules allows nothing.
	Policies []Policy
	// Overridden names the gateway-wide authorizations that name this
	// server's host but do not apply to it, because the server's own rules
	// decide.
	Overridden []string
}

// String is the line `validate` prints for the plan.
func (p EgressPlan) String() string {
	var names []string
	for _, pol := range p.Policies {
		names = append(names, fmt.Sprintf("%q", pol.Name))
	}
	var s string
	switch p.DecidedBy {
	case DecidedByServer:
		s = "server-level rules of " + strings.Join(names, ", ") + " decide"
		if len(p.Overridden) > 0 {
			s += "; gateway-wide " + strings.Join(quoteAll(p.Overridden), ", ") + " do not apply to this host"
		}
	case DecidedByGateway:
		s = "gateway-wide rules of " + strings.Join(names, ", ") + " decide"
	case DecidedByNone:
		s = "no rules: every caller that meets the server's JWT requirement is allowed"
	case DecidedDenyAll:
		s = "no rules: every request is denied"
	}
	return fmt.Sprintf("%s (server %q, listener %q): %s", p.Host, p.Server, p.Listener, s)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// EgressListener returns the listener an egress server serves on: the one
// it names, or the only egress listener; "" when neither exists.
func (c *Config) EgressListener(s EgressServer) string {
	if s.Listener != "" {
		return s.Listener
	}
	name := ""
	for _, l := range c.Listeners {
		if l.IsEgress() {
			if name != "" {
				return ""
			}
			name = l.Name
		}
	}
	return name
}

// EgressPlans applies the precedence of egress rules to every server, in
// configuration order. For the server's host:
//
//   - the server's own rules, when it has them, decide, and gateway-wide
//     rules do not apply to that host;
//   - otherwise the gateway-wide rules that apply to its listener decide
//     (an empty rule list denies everything);
//   - otherwise an exact-host server lets every caller through that meets
//     its JWT requirement, and a wildcard server lets nothing through.
func (c *Config) EgressPlans() []EgressPlan {
	var out []EgressPlan
	for _, s := range c.Egress.Servers {
		p := EgressPlan{Server: s.Name, Listener: c.EgressListener(s), Host: s.Host}
		var gw []Policy
		for _, a := range c.Egress.Authorizations {
			if a.AppliesTo(p.Listener) {
				gw = append(gw, Policy{Name: a.Name, Action: ActionAllow, Rules: a.Rules, Origin: a.Origin})
			}
		}
		switch {
		case s.Authorization != nil:
			p.DecidedBy = DecidedByServer
			p.Policies = []Policy{{Name: s.Name, Action: ActionAllow, Rules: s.Authorization.Rules, Origin: s.Origin}}
			if s.Host != AnyHost {
				for _, g := range gw {
					if namesHost(g.Rules, s.Host) {
						p.Overridden = append(p.Overridden, g.Name)
					}
				}
			}
		case gw != nil:
			p.DecidedBy, p.Policies = DecidedByGateway, gw
		case s.Host == AnyHost:
			p.DecidedBy = DecidedDenyAll
			p.Policies = []Policy{{Name: s.Name, Action: ActionAllow, Origin: s.Origin}}
		default:
			p.DecidedBy = DecidedByNone
		}
		out = append(out, p)
	}
	return out
}

// namesHost reports whether a rule names host exactly (not through "*").
func namesHost(rules []Rule, host string) bool {
	for _, r := range rules {
		for _, t := range r.To {
			if slices.ContainsFunc(t.Hosts, func(h string) bool { return strings.EqualFold(h, host) }) {
				return true
			}
		}
	}
	return false
}
