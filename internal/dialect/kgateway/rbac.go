package kgateway

import (
	"net/netip"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// kgateway's limits on an rbac policy.
const (
	maxExpressions = 256
	maxExpression  = 16384
	maxCIDRs       = 256
)

// rbacOut is a TrafficPolicy's rbac, translated once: the model
// policies it becomes on every route it governs (attach.go names them
// and sets their targets).
//
// Allow: a request is allowed when one expression matches (or there are
// none), its source address is in allowedCIDRs (when set), and it is not
// in blockedCIDRs: one ALLOW rule per alternative of the expressions,
// each with the addresses. Deny: a request is denied when one expression
// matches and its address is in allowedCIDRs (when set; allowedCIDRs
// alone denies those addresses), and whenever its address is in
// blockedCIDRs ("denied regardless", as the API says). The source
// address is the connection's peer (Envoy's source.address).
type rbacOut struct {
	action   model.Action
	policies []rbacPolicy
}

// rbacPolicy is one model policy of an rbac: the rules whose claims are
// split the same way (a claim compared whole in one expression and as a
// space-separated list in another needs two policies).
type rbacPolicy struct {
	rules []model.Rule
	paths []string // the document path each rule comes from
	split []string // top-level claims compared as space-separated lists
}

// checkRBAC checks the rbac of a TrafficPolicy, as the API server does,
// compiles its expressions with cel-go (an expression that does not
// compile is an error), and translates it.
func (d *document) checkRBAC() {
	r := d.tp.Spec.RBAC
	out := &rbacOut{action: model.ActionAllow}
	switch a := deref(r.Action, "Allow"); a {
	case "Allow":
	case "Deny":
		out.action = model.ActionDeny
	default:
		d.errorf("spec.rbac.action", "invalid value %q (want Allow or Deny)", a)
	}
	if r.Policy == nil {
		d.required("spec.rbac", "policy", d.reported("spec.rbac.policy"))
		return
	}
	pol := r.Policy
	pp := "spec.rbac.policy"
	if len(pol.MatchExpressions) == 0 && len(pol.AllowedCIDRs) == 0 && len(pol.BlockedCIDRs) == 0 && !d.reported(pp) {
		d.errorf(pp, "at least one of matchExpressions, allowedCIDRs, or blockedCIDRs must be specified")
		return
	}
	for _, l := range []struct {
		field  string
		n, max int
	}{{"matchExpressions", len(pol.MatchExpressions), maxExpressions}, {"allowedCIDRs", len(pol.AllowedCIDRs), maxCIDRs}, {"blockedCIDRs", len(pol.BlockedCIDRs), maxCIDRs}} {
		if f := strictyaml.Field(pp, l.field); d.has(f) && (l.n == 0 || l.n > l.max) {
			d.errorf(f, "want 1 to %d entries, got %d", l.max, l.n)
		}
	}
	for _, f := range []string{"allowedCIDRs", "blockedCIDRs"} {
		list := pol.AllowedCIDRs
		if f == "blockedCIDRs" {
			list = pol.BlockedCIDRs
		}
		for i, c := range list {
			if _, err := netip.ParsePrefix(c); err != nil {
				d.errorf(strictyaml.Index(strictyaml.Field(pp, f), i), "invalid CIDR %q (want an address range such as 10.0.0.0/8)", c)
			}
		}
	}
	deny := out.action == model.ActionDeny
	var allow model.From
	if len(pol.AllowedCIDRs) > 0 {
		allow.IPBlocks = pol.AllowedCIDRs
	}
	var rules []model.Rule
	var paths []string
	var splits [][]string
	add := func(r model.Rule, path string, split []string) {
		rules, paths, splits = append(rules, r), append(paths, path), append(splits, split)
	}
	for i, src := range pol.MatchExpressions {
		p := strictyaml.Index(strictyaml.Field(pp, "matchExpressions"), i)
		if src == "" || len(src) > maxExpression {
			d.errorf(p, "want 1 to %d characters, got %d", maxExpression, len(src))
			continue
		}
		c, err := compileCEL(src, deny)
		if err != nil {
			d.errorf(p, "invalid CEL expression: %v", err)
			continue
		}
		if len(c.unsupported) > 0 {
			effect := "this expression never allows a request"
			if deny {
				effect = "this expression denies every request"
			}
			d.notServed(p, "not translated: %s; failing closed, %s", strings.Join(c.unsupported, "; "), effect)
		}
		for _, t := range c.terms {
			add(termRule(t, allow, pol.BlockedCIDRs, deny), p, t.split)
		}
	}
	if len(pol.MatchExpressions) == 0 && (!deny || len(pol.AllowedCIDRs) > 0) {
		add(termRule(term{}, allow, pol.BlockedCIDRs, deny), pp, nil)
	}
	if deny && len(pol.BlockedCIDRs) > 0 {
		add(model.Rule{From: []model.From{{IPBlocks: pol.BlockedCIDRs}}}, strictyaml.Field(pp, "blockedCIDRs"), nil)
	}
	if d.hasErrors {
		return
	}
	for i := range rules {
		split := slices.Clone(splits[i])
		slices.Sort(split)
		split = slices.Compact(split)
		j := slices.IndexFunc(out.policies, func(p rbacPolicy) bool { return slices.Equal(p.split, split) })
		if j < 0 {
			out.policies = append(out.policies, rbacPolicy{split: split})
			j = len(out.policies) - 1
		}
		p := &out.policies[j]
		p.rules, p.paths = append(p.rules, rules[i]), append(p.paths, paths[i])
	}
	if len(out.policies) == 0 {
		// Every expression of an Allow policy failed closed: an ALLOW
		// policy without rules allows nothing.
		out.policies = []rbacPolicy{{}}
	}
	d.rbac = out
}

// termRule is the model rule of one alternative of an expression: its
// conditions, its method and path as an operation, and the addresses.
func termRule(t term, allow model.From, blocked []string, deny bool) model.Rule {
	r := model.Rule{When: t.when}
	if t.methods != nil || t.path != "" {
		to := model.To{Methods: t.methods}
		if t.path != "" {
			to.Paths = []string{t.path}
		}
		r.To = []model.To{to}
	}
	from := allow
	if !deny {
		from.NotIPBlocks = blocked
	}
	if len(from.IPBlocks) > 0 || len(from.NotIPBlocks) > 0 {
		r.From = []model.From{from}
	}
	return r
}

// spaceDelimited is a model policy's SpaceDelimitedClaims: exactly the
// claims written with split(' '), for every issuer. Never nil: a nil map
// would split scope and scp by default, which CEL's == does not.
func (p rbacPolicy) spaceDelimited() map[string][]string {
	if len(p.split) == 0 {
		return map[string][]string{}
	}
	return map[string][]string{"*": slices.Clone(p.split)}
}
