package authz

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// Describe lists the engine's policies in evaluation order (DENY policies,
// then ALLOW policies, each group in configuration order): one line per
// policy with its action, then one indented line per rule, and a last
// line saying what happens to a request that no rule decided. It is meant
// for `jwtgate validate` and the admin config dump.
//
//	DENY policy "productpage/authIfMatched" (1 rule)
//	  rules[0]: from[0]{notRequestPrincipals: [*]} to[0]{paths: [/productpage]}
//	otherwise: allow (no ALLOW policy)
func (e *Engine) Describe() []string {
	if e == nil {
		return []string{"no policies: allow every request"}
	}
	return slices.Clone(e.lines)
}

func describe(e *Engine) []string {
	var lines []string
	for _, group := range [][]policy{e.deny, e.allow} {
		for i := range group {
			lines = append(lines, describePolicy(&group[i])...)
		}
	}
	switch {
	case len(e.deny) == 0 && len(e.allow) == 0:
		lines = append(lines, "no policies: allow every request")
	case len(e.allow) == 0:
		lines = append(lines, "otherwise: allow (no ALLOW policy)")
	default:
		lines = append(lines, "otherwise: deny (no ALLOW policy matched)")
	}
	return lines
}

func describePolicy(p *policy) []string {
	head := fmt.Sprintf("%s policy %q", p.action, p.name)
	if p.origin.File != "" {
		head += " at " + p.origin.File
		if p.origin.Line > 0 {
			head += ":" + strconv.Itoa(p.origin.Line)
		}
	}
	switch {
	case len(p.src) == 0 && p.action == model.ActionDeny:
		return []string{head + " (no rules: denies nothing)"}
	case len(p.src) == 0:
		return []string{head + " (no rules: allows nothing)"}
	case len(p.src) == 1:
		head += " (1 rule)"
	default:
		head += fmt.Sprintf(" (%d rules)", len(p.src))
	}
	lines := []string{head}
	for i := range p.src {
		lines = append(lines, "  "+p.rules[i].name+": "+summarizeRule(&p.src[i]))
	}
	return lines
}

// summarizeRule renders a rule on one line.
func summarizeRule(r *model.Rule) string {
	var parts []string
	for i, f := range r.From {
		parts = append(parts, fmt.Sprintf("from[%d]{%s}", i, summarizeFrom(&f)))
	}
	for i, t := range r.To {
		parts = append(parts, fmt.Sprintf("to[%d]{%s}", i, summarizeTo(&t)))
	}
	for i, c := range r.When {
		parts = append(parts, fmt.Sprintf("when[%d]{%s}", i, summarizeCondition(&c)))
	}
	if len(parts) == 0 {
		return "every request"
	}
	return strings.Join(parts, " ")
}

type fields []string

func (fs *fields) list(name string, vs []string) {
	if len(vs) > 0 {
		*fs = append(*fs, name+": ["+strings.Join(vs, ", ")+"]")
	}
}

func (fs *fields) ints(name string, vs []int) {
	if len(vs) == 0 {
		return
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	fs.list(name, s)
}

func summarizeJWT(j *model.JWTMatch) string {
	var fs fields
	if j.Iss != "" {
		fs = append(fs, "iss: "+j.Iss)
	}
	if j.Sub != "" {
		fs = append(fs, "sub: "+j.Sub)
	}
	names := make([]string, 0, len(j.Claims))
	for n := range j.Claims {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fs.list("claims["+n+"]", j.Claims[n])
	}
	return "{" + strings.Join(fs, ", ") + "}"
}

func summarizeFrom(f *model.From) string {
	var fs fields
	fs.list("requestPrincipals", f.RequestPrincipals)
	fs.list("notRequestPrincipals", f.NotRequestPrincipals)
	if f.JWT != nil {
		fs = append(fs, "jwt: "+summarizeJWT(f.JWT))
	}
	if f.NotJWT != nil {
		fs = append(fs, "notJwt: "+summarizeJWT(f.NotJWT))
	}
	fs.list("principals", f.Principals)
	fs.list("notPrincipals", f.NotPrincipals)
	fs.list("namespaces", f.Namespaces)
	fs.list("notNamespaces", f.NotNamespaces)
	fs.list("serviceAccounts", f.ServiceAccounts)
	fs.list("notServiceAccounts", f.NotServiceAccounts)
	fs.list("trustDomains", f.TrustDomains)
	fs.list("notTrustDomains", f.NotTrustDomains)
	fs.list("ipBlocks", f.IPBlocks)
	fs.list("notIpBlocks", f.NotIPBlocks)
	fs.list("remoteIpBlocks", f.RemoteIPBlocks)
	fs.list("notRemoteIpBlocks", f.NotRemoteIPBlocks)
	return orAny(fs)
}

func summarizeTo(t *model.To) string {
	var fs fields
	fs.list("hosts", t.Hosts)
	fs.list("notHosts", t.NotHosts)
	fs.list("methods", t.Methods)
	fs.list("notMethods", t.NotMethods)
	fs.list("paths", t.Paths)
	fs.list("notPaths", t.NotPaths)
	fs.ints("ports", t.Ports)
	fs.ints("notPorts", t.NotPorts)
	return orAny(fs)
}

func summarizeCondition(c *model.Condition) string {
	s := string(c.Kind)
	if c.Name != "" {
		s += "[" + c.Name + "]"
	}
	fs := fields{s}
	fs.list("values", c.Values)
	fs.list("notValues", c.NotValues)
	return strings.Join(fs, ", ")
}

// orAny joins fs, or says "any" for an entry without fields (it matches
// every request).
func orAny(fs fields) string {
	if len(fs) == 0 {
		return "any"
	}
	return strings.Join(fs, ", ")
}
