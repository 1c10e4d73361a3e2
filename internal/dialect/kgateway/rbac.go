package kgateway

import (
	"errors"
	"net/netip"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// kgateway's limits on an rbac policy.
const (
	maxExpressions = 256
	maxExpression  = 16384
	maxCIDRs       = 256
)

// rbacOut is a TrafficPolicy's rbac, translated once: the model policy
// it becomes on every route it governs (attach.go names it and sets its
// targets).
//
// Each matchExpression is a CEL condition (model.CondCEL) that jwtgate
// evaluates with cel-go per request, over Envoy's attributes, the
// verified token's claims being in
// metadata.filter_metadata['envoy.filters.http.jwt_authn']['payload'].
//
// Allow: a request is allowed when one expression matches (or there are
// none), its source address is in allowedCIDRs (when set), and it is not
// in blockedCIDRs: one ALLOW rule per expression, each with the
// addresses. Deny: a request is denied when one expression matches and
// its address is in allowedCIDRs (when set; allowedCIDRs alone denies
// those addresses), and whenever its address is in blockedCIDRs ("denied
// regardless", as the API says). The source address is the
// connection's peer (Envoy's source.address).
type rbacOut struct {
	action model.Action
	rules  []model.Rule
	paths  []string // the document path each rule comes from
}

// checkRBAC checks the rbac of a TrafficPolicy, as the API server does,
// compiles its expressions with cel-go (an expression that does not
// compile is an error; one that reads an attribute jwtgate does not
// provide fails closed), and translates it.
func (d *document) checkRBAC() {
	r := d.tp.Spec.RBAC
	out := &rbacOut{action: model.ActionAllow}
	switch a := deref(r.Action, "Allow"); a {
	case "Allow":
	case "Deny":
		out.action = model.ActionDeny
	default:
		d.Errorf("spec.rbac.action", "invalid value %q (want Allow or Deny)", a)
	}
	if r.Policy == nil {
		d.required("spec.rbac", "policy", d.Reported("spec.rbac.policy"))
		return
	}
	pol := r.Policy
	pp := "spec.rbac.policy"
	if len(pol.MatchExpressions) == 0 && len(pol.AllowedCIDRs) == 0 && len(pol.BlockedCIDRs) == 0 && !d.Reported(pp) {
		d.Errorf(pp, "at least one of matchExpressions, allowedCIDRs, or blockedCIDRs must be specified")
		return
	}
	for _, l := range []struct {
		field  string
		n, max int
	}{{"matchExpressions", len(pol.MatchExpressions), maxExpressions}, {"allowedCIDRs", len(pol.AllowedCIDRs), maxCIDRs}, {"blockedCIDRs", len(pol.BlockedCIDRs), maxCIDRs}} {
		if f := strictyaml.Field(pp, l.field); d.Has(f) && (l.n == 0 || l.n > l.max) {
			d.Errorf(f, "want 1 to %d entries, got %d", l.max, l.n)
		}
	}
	for _, f := range []string{"allowedCIDRs", "blockedCIDRs"} {
		list := pol.AllowedCIDRs
		if f == "blockedCIDRs" {
			list = pol.BlockedCIDRs
		}
		for i, c := range list {
			if _, err := netip.ParsePrefix(c); err != nil {
				d.Errorf(strictyaml.Index(strictyaml.Field(pp, f), i), "invalid CIDR %q (want an address range such as 10.0.0.0/8)", c)
			}
		}
	}
	deny := out.action == model.ActionDeny
	var allow model.From
	if len(pol.AllowedCIDRs) > 0 {
		allow.IPBlocks = pol.AllowedCIDRs
	}
	add := func(r model.Rule, path string) {
		out.rules, out.paths = append(out.rules, r), append(out.paths, path)
	}
	for i, src := range pol.MatchExpressions {
		p := strictyaml.Index(strictyaml.Field(pp, "matchExpressions"), i)
		if src == "" || len(src) > maxExpression {
			d.Errorf(p, "want 1 to %d characters, got %d", maxExpression, len(src))
			continue
		}
		_, err := model.CompileCEL(src)
		switch {
		case errors.Is(err, model.ErrCELAttribute):
			// Envoy would read the attribute; jwtgate would find it
			// missing, which is no match: in a Deny policy that lets
			// through what kgateway denies. Fail closed instead.
			if deny {
				d.NotServed(p, "%v; failing closed, this expression denies every request", err)
				add(exprRule(nil, allow, pol.BlockedCIDRs, deny), p)
			} else {
				d.NotServed(p, "%v; failing closed, this expression never allows a request", err)
			}
			continue
		case err != nil:
			d.Errorf(p, "invalid CEL expression: %v", err)
			continue
		}
		add(exprRule([]model.Condition{{Kind: model.CondCEL, Values: []string{src}}}, allow, pol.BlockedCIDRs, deny), p)
	}
	if len(pol.MatchExpressions) == 0 && (!deny || len(pol.AllowedCIDRs) > 0) {
		add(exprRule(nil, allow, pol.BlockedCIDRs, deny), pp)
	}
	if deny && len(pol.BlockedCIDRs) > 0 {
		add(model.Rule{From: []model.From{{IPBlocks: pol.BlockedCIDRs}}}, strictyaml.Field(pp, "blockedCIDRs"))
	}
	if d.HasErrors {
		return
	}
	// An Allow policy whose expressions all failed closed has no rule:
	// an ALLOW policy without rules allows nothing.
	d.rbac = out
}

// exprRule is the model rule of one expression (its CEL condition; nil
// for none), with the addresses.
func exprRule(when []model.Condition, allow model.From, blocked []string, deny bool) model.Rule {
	r := model.Rule{When: when}
	from := allow
	if !deny {
		from.NotIPBlocks = blocked
	}
	if len(from.IPBlocks) > 0 || len(from.NotIPBlocks) > 0 {
		r.From = []model.From{from}
	}
	return r
}
