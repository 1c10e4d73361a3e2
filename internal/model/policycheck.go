package model

import (
	"net/netip"
	"reflect"
	"strings"
)

// CheckPolicy checks one policy on its own: its action and the shape of
// every rule (empty entries, patterns, IP blocks, ports, methods,
// conditions). It is the one place these rules live: validation and the
// authorization compiler both call it. References to routes and
// listeners need the whole configuration and are checked by Validate.
func CheckPolicy(p Policy) Issues {
	v := &validator{}
	a := v.at("policy", p.Name, p.Origin)
	switch p.Action {
	case ActionAllow, ActionDeny:
	case "":
		a.errorf("action", "required (ALLOW or DENY)")
	default:
		a.errorf("action", "invalid action %q (want ALLOW or DENY)", p.Action)
	}
	for i, r := range p.Rules {
		rule(a, index("rules", i), r)
	}
	return v.issues
}

func rule(a at, f string, r Rule) {
	// As Istio: "from: []" or "to: []" is an error, not "no from part",
	// which would make the rule match every caller or every operation.
	if r.From != nil && len(r.From) == 0 {
		a.errorf(field(f, "from"), "empty list: give at least one entry, or leave from out")
	}
	if r.To != nil && len(r.To) == 0 {
		a.errorf(field(f, "to"), "empty list: give at least one entry, or leave to out")
	}
	for i, fr := range r.From {
		ff := index(field(f, "from"), i)
		if reflect.DeepEqual(fr, From{}) {
			// Istio rejects an empty source; matching everyone here would
			// turn an ALLOW rule into allow-all by accident.
			a.errorf(ff, "empty from entry: set at least one field")
		}
		patterns(a, field(ff, "requestPrincipals"), fr.RequestPrincipals)
		patterns(a, field(ff, "notRequestPrincipals"), fr.NotRequestPrincipals)
		patterns(a, field(ff, "principals"), fr.Principals)
		patterns(a, field(ff, "notPrincipals"), fr.NotPrincipals)
		ipBlocks(a, field(ff, "ipBlocks"), fr.IPBlocks)
		ipBlocks(a, field(ff, "notIpBlocks"), fr.NotIPBlocks)
	}
	for i, to := range r.To {
		tf := index(field(f, "to"), i)
		if reflect.DeepEqual(to, To{}) {
			a.errorf(tf, "empty to entry: set at least one field")
		}
		pathPatterns(a, field(tf, "paths"), to.Paths)
		pathPatterns(a, field(tf, "notPaths"), to.NotPaths)
		// Host patterns (with their HOST:PORT forms) are checked where
		// they are compiled, in the authorization engine.
		ports(a, field(tf, "ports"), to.Ports)
		ports(a, field(tf, "notPorts"), to.NotPorts)
		for j, m := range to.Methods {
			if !validToken(m) {
				a.errorf(index(field(tf, "methods"), j), "invalid method %q", m)
			}
		}
		for j, m := range to.NotMethods {
			if !validToken(m) {
				a.errorf(index(field(tf, "notMethods"), j), "invalid method %q", m)
			}
		}
	}
	for i, c := range r.When {
		wf := index(field(f, "when"), i)
		switch c.Kind {
		case CondClaim, CondHeader:
			if c.Name == "" {
				a.errorf(wf, "%s condition needs a name", c.Kind)
			} else if c.Kind == CondHeader && !validToken(c.Name) {
				a.errorf(wf, "invalid header name %q", c.Name)
			}
		case CondAudience, CondPresenter, CondIssuer, CondPrincipal:
		case "":
			// The dialect already reported why it has no kind.
			continue
		default:
			a.errorf(wf, "invalid condition kind %q", c.Kind)
		}
		if len(c.Values) == 0 && len(c.NotValues) == 0 {
			a.errorf(wf, "values or notValues is required")
		}
		patterns(a, field(wf, "values"), c.Values)
		patterns(a, field(wf, "notValues"), c.NotValues)
	}
}

// patterns checks Istio string patterns: "*" only as the whole pattern,
// its first or its last character.
func patterns(a at, f string, list []string) {
	for i, p := range list {
		pattern(a, index(f, i), p)
	}
}

func pattern(a at, f, p string) {
	if p == "" {
		a.errorf(f, "empty value")
		return
	}
	inner := p
	if strings.HasPrefix(inner, "*") {
		inner = inner[1:]
	} else if strings.HasSuffix(inner, "*") {
		inner = inner[:len(inner)-1]
	}
	if strings.Contains(inner, "*") {
		a.errorf(f, `invalid pattern %q: "*" is only allowed as the whole value, its first or its last character`, p)
	}
}

// pathPatterns checks path patterns: as patterns, but Istio's path
// templates are named as such.
func pathPatterns(a at, f string, list []string) {
	for i, p := range list {
		if strings.Contains(p, "{*") {
			a.errorf(index(f, i), "%q: path templates ({*}, {**}) are not supported", p)
			continue
		}
		pattern(a, index(f, i), p)
	}
}

func ipBlocks(a at, f string, list []string) {
	for i, b := range list {
		if _, err := netip.ParsePrefix(b); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(b); err == nil {
			continue
		}
		a.errorf(index(f, i), "invalid IP address or CIDR block %q", b)
	}
}

func ports(a at, f string, list []int) {
	for i, p := range list {
		if p < 1 || p > 65535 {
			a.errorf(index(f, i), "invalid port %d (want 1 to 65535)", p)
		}
	}
}
