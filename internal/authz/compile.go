package authz

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// PolicyError is a policy that cannot be compiled: the policy's name, the
// field path inside it and what is wrong, formatted as
// `policy "x": rules[1].from[0].ipBlocks[0]: invalid CIDR "10.0.0/8"`.
type PolicyError struct {
	Policy string
	// Origin is the policy's origin, so that the error can be reported
	// against the file and line that declared it.
	Origin model.Origin
	// Field is the path inside the policy, such as "rules[1].from[0]";
	// empty when the problem is the policy as a whole.
	Field string
	Err   error
}

func (e *PolicyError) Error() string {
	s := "policy " + strconv.Quote(e.Policy) + ": "
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Err.Error()
}

func (e *PolicyError) Unwrap() error { return e.Err }

// compiler collects the errors of one policy.
type compiler struct {
	pol  *model.Policy
	errs []error
	in   *Compiler // what the configuration's compile step remembers
}

// claimPath compiles a claim name with the policy's space-delimited
// claims.
func (c *compiler) claimPath(name string) (claimPath, error) {
	return compileClaimPath(name, c.pol.SpaceDelimitedClaims)
}

func (c *compiler) errorf(field, format string, args ...any) {
	c.errs = append(c.errs, &PolicyError{Policy: c.pol.Name, Origin: c.pol.Origin, Field: field, Err: fmt.Errorf(format, args...)})
}

func (c *compiler) fail(field string, err error) {
	c.errs = append(c.errs, &PolicyError{Policy: c.pol.Name, Origin: c.pol.Origin, Field: field, Err: err})
}

// Compile is the package's Compile, with what cc remembers.
func (cc *Compiler) Compile(policies []model.Policy) (*Engine, error) {
	e := &Engine{}
	var errs []error
	for i := range policies {
		c := &compiler{pol: &policies[i], in: cc}
		// The policy's shape is checked in one place, the model; the
		// compiler adds what only it can judge (path and host semantics,
		// claim paths, headers a condition can never see).
		checked := model.CheckPolicy(policies[i], &cc.cel)
		for _, is := range checked.Errors() {
			errs = append(errs, &PolicyError{Policy: c.pol.Name, Origin: c.pol.Origin, Field: is.Field, Err: errors.New(is.Msg)})
		}
		p := c.policy()
		for _, err := range c.errs {
			if !echoes(err.(*PolicyError).Field, checked) {
				errs = append(errs, err)
			}
		}
		if p.action == model.ActionDeny {
			e.deny = append(e.deny, p)
		} else {
			e.allow = append(e.allow, p)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	e.lines = describe(e)
	return e, nil
}

// echoes reports whether a compile error at field only repeats an error
// the model's checks found at that field, or above or below it.
func echoes(field string, checked model.Issues) bool {
	for _, is := range checked.Errors() {
		if model.FieldWithin(field, is.Field) || model.FieldWithin(is.Field, field) {
			return true
		}
	}
	return false
}

// policy is a compiled model.Policy.
type policy struct {
	name   string
	action model.Action
	origin model.Origin
	rules  []rule
	// src keeps the rules as written, for Describe.
	src []model.Rule
}

// match returns the first rule of p that matches r, or nil.
func (p *policy) match(r *Request) *rule {
	for i := range p.rules {
		if p.rules[i].match(r) {
			return &p.rules[i]
		}
	}
	return nil
}

func (c *compiler) policy() policy {
	mp := c.pol
	p := policy{name: mp.Name, action: mp.Action, origin: mp.Origin, src: mp.Rules}
	if mp.Action != model.ActionDeny {
		// Anything but ALLOW and DENY was refused by model.CheckPolicy.
		p.action = model.ActionAllow
	}
	for i := range mp.Rules {
		p.rules = append(p.rules, c.rule(fmt.Sprintf("rules[%d]", i), &mp.Rules[i]))
	}
	return p
}

// rule matches when all its present parts match.
type rule struct {
	name string
	from []from
	to   []to
	when []condition
}

func (rl *rule) match(r *Request) bool {
	if len(rl.from) > 0 {
		ok := false
		for i := range rl.from {
			if rl.from[i].match(r) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(rl.to) > 0 {
		ok := false
		for i := range rl.to {
			if rl.to[i].match(r) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for i := range rl.when {
		if !rl.when[i].match(r) {
			return false
		}
	}
	return true
}

func (c *compiler) rule(path string, mr *model.Rule) rule {
	rl := rule{name: mr.Name}
	if rl.name == "" {
		rl.name = path
	}
	for i := range mr.From {
		rl.from = append(rl.from, c.from(fmt.Sprintf("%s.from[%d]", path, i), &mr.From[i]))
	}
	for i := range mr.To {
		rl.to = append(rl.to, c.to(fmt.Sprintf("%s.to[%d]", path, i), &mr.To[i]))
	}
	for i := range mr.When {
		rl.when = append(rl.when, c.condition(fmt.Sprintf("%s.when[%d]", path, i), &mr.When[i]))
	}
	return rl
}

// patterns compiles a list of values with comp, reporting each bad one
// under path.field[i].
func (c *compiler) patterns(path, field string, vs []string, comp func(string) (pattern, error)) patterns {
	if len(vs) == 0 {
		return nil
	}
	ps := make(patterns, 0, len(vs))
	for i, v := range vs {
		p, err := comp(v)
		if err != nil {
			c.fail(fmt.Sprintf("%s.%s[%d]", path, field, i), err)
			continue
		}
		ps = append(ps, p)
	}
	return ps
}

// from matches the caller.
type from struct {
	requestPrincipals, notRequestPrincipals patterns
	jwt, notJWT                             *jwtMatch
	principals, notPrincipals               patterns
	namespaces, notNamespaces               patterns
	serviceAccounts, notServiceAccounts     patterns
	trustDomains, notTrustDomains           patterns
	ipBlocks, notIPBlocks                   []netip.Prefix
	remoteIPBlocks, notRemoteIPBlocks       []netip.Prefix
}

func (f *from) match(r *Request) bool {
	if f.requestPrincipals != nil || f.notRequestPrincipals != nil {
		rp := ""
		if r.Authenticated {
			rp = r.Principal
		}
		if f.requestPrincipals != nil && !f.requestPrincipals.match(rp) {
			return false
		}
		if f.notRequestPrincipals != nil && f.notRequestPrincipals.match(rp) {
			return false
		}
	}
	if f.jwt != nil && !f.jwt.match(r) {
		return false
	}
	if f.notJWT != nil && f.notJWT.match(r) {
		return false
	}
	if f.principals != nil && !f.principals.match(r.Peer.Principal) {
		return false
	}
	if f.notPrincipals != nil && f.notPrincipals.match(r.Peer.Principal) {
		return false
	}
	if f.namespaces != nil && !f.namespaces.match(r.Peer.Namespace) {
		return false
	}
	if f.notNamespaces != nil && f.notNamespaces.match(r.Peer.Namespace) {
		return false
	}
	if f.serviceAccounts != nil && !f.serviceAccounts.match(r.Peer.ServiceAccount) {
		return false
	}
	if f.notServiceAccounts != nil && f.notServiceAccounts.match(r.Peer.ServiceAccount) {
		return false
	}
	if f.trustDomains != nil || f.notTrustDomains != nil {
		td := r.Peer.trustDomain()
		if f.trustDomains != nil && !f.trustDomains.match(td) {
			return false
		}
		if f.notTrustDomains != nil && f.notTrustDomains.match(td) {
			return false
		}
	}
	if !matchBlocks(f.ipBlocks, f.notIPBlocks, r.Remote) {
		return false
	}
	return matchBlocks(f.remoteIPBlocks, f.notRemoteIPBlocks, r.client())
}

// matchBlocks reports whether ip is in one of in (when set) and in none of
// notIn (when set).
func matchBlocks(in, notIn []netip.Prefix, ip netip.Addr) bool {
	if in == nil && notIn == nil {
		return true
	}
	ip = ip.Unmap().WithZone("")
	if in != nil && !containsAddr(in, ip) {
		return false
	}
	return notIn == nil || !containsAddr(notIn, ip)
}

// trustDomain is the first segment of the peer's principal; empty without
// a peer.
func (p *Peer) trustDomain() string {
	td, _, _ := strings.Cut(p.Principal, "/")
	return td
}

func containsAddr(blocks []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, b := range blocks {
		if b.Contains(ip) {
			return true
		}
	}
	return false
}

func (c *compiler) from(path string, mf *model.From) from {
	f := from{
		requestPrincipals:    c.patterns(path, "requestPrincipals", mf.RequestPrincipals, compilePattern),
		notRequestPrincipals: c.patterns(path, "notRequestPrincipals", mf.NotRequestPrincipals, compilePattern),
		principals:           c.patterns(path, "principals", mf.Principals, compilePattern),
		notPrincipals:        c.patterns(path, "notPrincipals", mf.NotPrincipals, compilePattern),
		namespaces:           c.patterns(path, "namespaces", mf.Namespaces, compilePattern),
		notNamespaces:        c.patterns(path, "notNamespaces", mf.NotNamespaces, compilePattern),
		serviceAccounts:      c.patterns(path, "serviceAccounts", mf.ServiceAccounts, compilePattern),
		notServiceAccounts:   c.patterns(path, "notServiceAccounts", mf.NotServiceAccounts, compilePattern),
		trustDomains:         c.patterns(path, "trustDomains", mf.TrustDomains, compilePattern),
		notTrustDomains:      c.patterns(path, "notTrustDomains", mf.NotTrustDomains, compilePattern),
		ipBlocks:             c.ipBlocks(path, "ipBlocks", mf.IPBlocks),
		notIPBlocks:          c.ipBlocks(path, "notIpBlocks", mf.NotIPBlocks),
		remoteIPBlocks:       c.ipBlocks(path, "remoteIpBlocks", mf.RemoteIPBlocks),
		notRemoteIPBlocks:    c.ipBlocks(path, "notRemoteIpBlocks", mf.NotRemoteIPBlocks),
	}
	if mf.JWT != nil {
		f.jwt = c.jwt(path+".jwt", mf.JWT)
	}
	if mf.NotJWT != nil {
		f.notJWT = c.jwt(path+".notJwt", mf.NotJWT)
	}
	return f
}

func (c *compiler) ipBlocks(path, field string, vs []string) []netip.Prefix {
	if len(vs) == 0 {
		return nil
	}
	out := make([]netip.Prefix, 0, len(vs))
	for i, v := range vs {
		at := fmt.Sprintf("%s.%s[%d]", path, field, i)
		v = strings.TrimSpace(v)
		if strings.Contains(v, "/") {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				c.errorf(at, "invalid IP address or CIDR block %q", v) // reported by model.CheckPolicy
				continue
			}
			if p.Addr().Is4In6() {
				if bits := p.Bits() - 96; bits >= 0 {
					p = netip.PrefixFrom(p.Addr().Unmap(), bits)
				}
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			c.errorf(at, "invalid IP address or CIDR block %q", v) // reported by model.CheckPolicy
			continue
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out
}

// jwtMatch matches a verified token: iss and sub equal when set, and every
// claim having one of its values.
type jwtMatch struct {
	iss, sub string
	claims   []claimMatch
}

type claimMatch struct {
	path   claimPath
	values patterns
}

func (j *jwtMatch) match(r *Request) bool {
	if !r.Authenticated {
		return false
	}
	if j.iss != "" && r.Issuer != j.iss {
		return false
	}
	if j.sub != "" && r.Subject != j.sub {
		return false
	}
	for i := range j.claims {
		cm := &j.claims[i]
		v, ok := cm.path.lookup(r.Claims)
		if !ok || !claimValueMatch(v, cm.values, cm.path.split(r.Issuer)) {
			return false
		}
	}
	return true
}

func (c *compiler) jwt(path string, mj *model.JWTMatch) *jwtMatch {
	j := &jwtMatch{iss: mj.Iss, sub: mj.Sub}
	names := make([]string, 0, len(mj.Claims))
	for name := range mj.Claims {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic errors and evaluation order
	for _, name := range names {
		at := fmt.Sprintf("%s.claims[%s]", path, name)
		cp, err := c.claimPath(name)
		if err != nil {
			c.fail(at, err)
			continue
		}
		vs := mj.Claims[name]
		if len(vs) == 0 {
			c.errorf(at, "no values")
			continue
		}
		ps := make(patterns, 0, len(vs))
		for i, v := range vs {
			p, err := compilePattern(v)
			if err != nil {
				c.fail(fmt.Sprintf("%s[%d]", at, i), err)
				continue
			}
			ps = append(ps, p)
		}
		j.claims = append(j.claims, claimMatch{path: cp, values: ps})
	}
	return j
}

// to matches the operation.
type to struct {
	hosts, notHosts     patterns
	methods, notMethods patterns
	paths, notPaths     patterns
	ports, notPorts     []int
}

func (t *to) match(r *Request) bool {
	if t.hosts != nil || t.notHosts != nil {
		h := requestHost(r.Host)
		if t.hosts != nil && !t.hosts.matchHost(h, r.Port) {
			return false
		}
		if t.notHosts != nil && t.notHosts.matchHost(h, r.Port) {
			return false
		}
	}
	if t.methods != nil && !t.methods.match(r.Method) {
		return false
	}
	if t.notMethods != nil && t.notMethods.match(r.Method) {
		return false
	}
	if t.paths != nil && !t.paths.match(r.Path) {
		return false
	}
	if t.notPaths != nil && t.notPaths.match(r.Path) {
		return false
	}
	if t.ports != nil && !slices.Contains(t.ports, r.Port) {
		return false
	}
	if t.notPorts != nil && slices.Contains(t.notPorts, r.Port) {
		return false
	}
	return true
}

func (c *compiler) to(path string, mt *model.To) to {
	return to{
		hosts:      c.patterns(path, "hosts", mt.Hosts, compileHostPattern),
		notHosts:   c.patterns(path, "notHosts", mt.NotHosts, compileHostPattern),
		methods:    c.patterns(path, "methods", mt.Methods, compilePattern),
		notMethods: c.patterns(path, "notMethods", mt.NotMethods, compilePattern),
		paths:      c.patterns(path, "paths", mt.Paths, compilePathPattern),
		notPaths:   c.patterns(path, "notPaths", mt.NotPaths, compilePathPattern),
		ports:      c.ports(path, "ports", mt.Ports),
		notPorts:   c.ports(path, "notPorts", mt.NotPorts),
	}
}

func (c *compiler) ports(path, field string, ps []int) []int {
	if len(ps) == 0 {
		return nil
	}
	return slices.Clone(ps) // ranges checked by model.CheckPolicy
}
