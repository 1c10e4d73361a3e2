package model

import (
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
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
	for iss, claims := range p.SpaceDelimitedClaims {
		f := "spaceDelimitedClaims[" + strconv.Quote(iss) + "]"
		if iss == "" {
			a.errorf(f, "empty issuer (\"*\" is every issuer)")
		}
		for i, c := range claims {
			if c == "" {
				a.errorf(index(f, i), "empty claim name")
			}
		}
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
		patterns(a, field(ff, "trustDomains"), fr.TrustDomains)
		patterns(a, field(ff, "notTrustDomains"), fr.NotTrustDomains)
		ipBlocks(a, field(ff, "ipBlocks"), fr.IPBlocks)
		ipBlocks(a, field(ff, "notIpBlocks"), fr.NotIPBlocks)
		ipBlocks(a, field(ff, "remoteIpBlocks"), fr.RemoteIPBlocks)
		ipBlocks(a, field(ff, "notRemoteIpBlocks"), fr.NotRemoteIPBlocks)
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
		switch {
		case c.Kind == "":
			// The dialect already reported why it has no kind.
			continue
		case !c.Kind.Known():
			a.errorf(wf, "invalid condition kind %q", c.Kind)
		case c.Kind.Named() && c.Name == "":
			a.errorf(wf, "%s condition needs a name", c.Kind)
		case c.Kind == CondHeader && !validToken(c.Name):
			a.errorf(wf, "invalid header name %q", c.Name)
		}
		if len(c.Values) == 0 && len(c.NotValues) == 0 {
			a.errorf(wf, "values or notValues is required")
		}
		switch c.Kind {
		case CondSourceIP, CondRemoteIP:
			ipBlocks(a, field(wf, "values"), c.Values)
			ipBlocks(a, field(wf, "notValues"), c.NotValues)
		case CondDestinationPort:
			portValues(a, field(wf, "values"), c.Values)
			portValues(a, field(wf, "notValues"), c.NotValues)
		default:
			patterns(a, field(wf, "values"), c.Values)
			patterns(a, field(wf, "notValues"), c.NotValues)
		}
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

// pathPatterns checks path patterns: patterns, or Istio path templates.
func pathPatterns(a at, f string, list []string) {
	for i, p := range list {
		if IsPathTemplate(p) {
			if err := CheckPathTemplate(p); err != nil {
				a.errorf(index(f, i), "%v", err)
			}
			continue
		}
		pattern(a, index(f, i), p)
	}
}

// IsPathTemplate reports whether a path pattern uses Istio's path
// template operators, "{*}" or "{**}".
func IsPathTemplate(p string) bool {
	return strings.Contains(p, "{*}") || strings.Contains(p, "{**}")
}

// CheckPathTemplate checks an Istio path template: it starts with "/"; a
// segment holding an operator holds nothing else ("{*}" is one segment,
// "{**}" any rest of the path, zero or more segments); "*", "{" and "}"
// appear nowhere else; "{**}" is the last operator (literal segments may
// follow it).
func CheckPathTemplate(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("invalid path template %q: it starts with \"/\"", p)
	}
	rest := false
	for _, s := range strings.Split(p[1:], "/") {
		switch s {
		case "{*}", "{**}":
			if rest {
				return fmt.Errorf("invalid path template %q: {**} must be the last operator", p)
			}
			rest = s == "{**}"
		default:
			if strings.ContainsAny(s, "*{}") {
				return fmt.Errorf("invalid path template %q: a segment holding {*} or {**} holds nothing else, and \"*\", \"{\" and \"}\" appear nowhere else", p)
			}
		}
	}
	return nil
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

// portValues checks a condition's port numbers, written as strings.
func portValues(a at, f string, list []string) {
	for i, v := range list {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 65535 {
			a.errorf(index(f, i), "invalid port %q (want 0 to 65535)", v)
		}
	}
}

func ports(a at, f string, list []int) {
	for i, p := range list {
		if p < 1 || p > 65535 {
			a.errorf(index(f, i), "invalid port %d (want 1 to 65535)", p)
		}
	}
}
