package envoygateway

import (
	"fmt"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// An Envoy Gateway authorization is an ordered list of rules, the first
// that matches deciding (Allow or Deny), and a default action for
// requests no rule matches (Deny unless set). A model policy is
// Istio-style: an ALLOW policy allows the requests one of its rules
// matches (and denies the others), a DENY policy denies the requests one
// of its rules matches. The order is kept by stating, for each rule, that
// no earlier rule of the other action matched:
//
//   - allowed = OR over Allow rules i of (M_i AND NOT D_j for every Deny
//     rule j before i): the ALLOW form, exact when the default is Deny;
//   - denied = OR over Deny rules i of (M_i AND NOT A_j for every Allow
//     rule j before i), OR (with the default Deny) NOT A_j for every
//     Allow rule j: the DENY form, exact for either default;
//   - with the default Deny, a DENY policy of the first part of the
//     DENY form beside an ALLOW policy of every Allow rule as written:
//     the mixed form, exact too, as the model evaluates DENY policies
//     first. It negates no Deny rule, the ALLOW form no Allow rule; the
//     one that makes fewer model rules is used.
//
// Earlier rules of the same action need no negation: a request they
// match is decided the same way. Each negation is written out by De
// Morgan (formula.go), so every shape of rule whose parts the model
// states exactly (methods, paths Exact and PathPrefix with invert,
// client CIDRs, header values, claims, scopes, the provider through its
// issuer) is translated exactly, up to maxTerms model rules.
//
// A rule's cel is a CEL condition jwtgate evaluates (cel.go). A part
// jwtgate cannot evaluate (a cel reading an attribute jwtgate does not
// provide, clientIPGeoLocations, clientCert, a RegularExpression
// path...) fails closed: an Allow rule holding one never matches (the
// policy allows less); in a Deny rule it is left out, so that the rule
// matches more (the policy denies more).
//
// A route gets the authorization of one policy, the most specific
// (target.go), so nothing depends on how the model combines policies,
// except where a policy asks to be merged into its parent's (mergeType),
// which jwtgate does not do: there the parent's is added in the DENY
// form, so that a request must pass both.

// form is how a policy's authorization is written.
type form int

const (
	// formAllow: an ALLOW policy of the allowed requests (default Deny).
	formAllow form = iota
	// formMixed: a DENY policy of what the Deny rules decide (each
	// without the Allow rules before it), and an ALLOW policy of every
	// Allow rule as written (default Deny). It needs no negation of Deny
	// rules, the ALLOW form none of Allow rules: the smaller is used.
	formMixed
	// formDeny: a DENY policy of the denied requests (either default).
	formDeny
)

// authz is the translation of one policy's rules, shared by its targets.
type authz struct {
	rules []authzRule
	// factors of each rule: it matches when all hold (failing closed).
	factors [][]formula
	deny    bool // the default action is Deny
	written map[form]written
}

// written is an authorization written in one form: its policies' parts.
type written struct {
	parts    []part
	overflow bool
}

// part is the rules of one model policy, each with the index of the
// rule it comes from (-1 for the default action).
type part struct {
	action model.Action
	suffix string // of the policy's name
	rules  []model.Rule
	from   []int
}

func (w written) size() int {
	n := 0
	for _, p := range w.parts {
		n += len(p.rules)
	}
	return n
}

// authorization translates the rules of d's authorization into their
// formulas, reporting what fails closed.
func (t *translator) authorization(d *document, k *keys) *authz {
	a := d.obj.Spec.Authorization
	z := &authz{rules: a.Rules, deny: a.DefaultAction == nil || *a.DefaultAction == "Deny", written: map[form]written{}}
	for i, r := range a.Rules {
		f, unsupported := t.ruleFactors(d, i, r, k)
		if r.Principal != nil && r.Principal.JWT != nil && k != nil {
			if _, ok := k.issuers[r.Principal.JWT.Provider]; !ok {
				d.Warnf(strictyaml.Index("spec.authorization.rules", i)+".principal.jwt.provider",
					"%q is not one of this policy's JWT providers: no token of it is ever verified, so the rule never matches", r.Principal.JWT.Provider)
			}
		}
		for _, u := range unsupported {
			path, why, _ := strings.Cut(u, ": ")
			if r.Action == "Allow" {
				d.NotServed(path, "%s: this Allow rule never matches, so the policy allows less", why)
			} else {
				d.NotServed(path, "%s: this Deny rule is applied without it, so it matches more and the policy denies more", why)
			}
		}
		if len(unsupported) > 0 && r.Action == "Allow" {
			f = []formula{{}} // never matches
		}
		z.factors = append(z.factors, f)
	}
	return z
}

// ruleName names the model rules made from rule i.
func (z *authz) ruleName(i int) string {
	if n := z.rules[i].Name; n != nil {
		return *n
	}
	return fmt.Sprintf("rules[%d]", i)
}

// write writes the authorization in form fm, once.
func (z *authz) write(fm form) written {
	if w, ok := z.written[fm]; ok {
		return w
	}
	var w written
	add := func(action model.Action, suffix, want string, negate, dflt bool) {
		rules, from, ok := z.sum(want, negate, dflt)
		w.overflow = w.overflow || !ok
		w.parts = append(w.parts, part{action: action, suffix: suffix, rules: rules, from: from})
	}
	switch fm {
	case formAllow:
		add(model.ActionAllow, "", "Allow", true, false)
	case formMixed:
		add(model.ActionDeny, "/deny", "Deny", true, false)
		add(model.ActionAllow, "", "Allow", false, false)
	case formDeny:
		add(model.ActionDeny, "", "Deny", true, z.deny)
	}
	if w.overflow {
		// Failing closed: an ALLOW form allows nothing, a DENY form
		// denies everything.
		w.parts = w.parts[:1]
		w.parts[0].rules, w.parts[0].from = nil, nil
		if w.parts[0].action == model.ActionDeny {
			w.parts[0].rules, w.parts[0].from = []model.Rule{{Name: "too many rules"}}, []int{-1}
		}
	}
	z.written[fm] = w
	return w
}

// sum is the model rules of the requests the rules of action want
// decide: each such rule, and (negate) no earlier rule of the other
// action; with dflt, also the requests no rule of the other action
// matches (the default action's). ok is false when that makes more
// than maxTerms rules.
func (z *authz) sum(want string, negate, dflt bool) (out []model.Rule, from []int, ok bool) {
	var kept [][]string // the atoms of each rule of out
	emit := func(f formula, i int) bool {
		for _, tm := range f {
			r, sat := tm.rule()
			if !sat {
				continue
			}
			r.Name = "defaultAction"
			if i >= 0 {
				r.Name = z.ruleName(i)
			}
			a := atoms(r)
			if slices.ContainsFunc(kept, func(k []string) bool { return subset(k, a) }) {
				continue // an earlier rule matches all this one does
			}
			for j := len(out) - 1; j >= 0; j-- {
				if subset(a, kept[j]) {
					out, from, kept = slices.Delete(out, j, j+1), slices.Delete(from, j, j+1), slices.Delete(kept, j, j+1)
				}
			}
			if len(out) == maxTerms {
				return false
			}
			out, from, kept = append(out, r), append(from, i), append(kept, a)
		}
		return true
	}
	others := truth // no earlier rule of the other action matched
	ok = true
	for i, r := range z.rules {
		if r.Action == want {
			f := truth
			if negate {
				f = others
			}
			for _, g := range z.factors[i] {
				var fine bool
				if f, fine = and(f, g); !fine {
					return nil, nil, false
				}
			}
			if !emit(f, i) {
				return nil, nil, false
			}
			continue
		}
		if !negate && !dflt {
			continue
		}
		// Not this rule: one of its factors fails.
		var n formula
		for _, g := range z.factors[i] {
			ng, fine := not(g)
			if !fine {
				return nil, nil, false
			}
			n = or(n, ng)
		}
		if len(z.factors[i]) == 0 {
			n = formula{} // a rule of no factor matches every request
		}
		if others, ok = and(others, n); !ok {
			return nil, nil, false
		}
	}
	if dflt && !emit(others, -1) {
		return nil, nil, false
	}
	return out, from, true
}

// forced, when set (by tests), is the form natural chooses wherever it
// is exact.
var forced *form

// natural is the form that states the authorization alone: for the
// default Deny, the ALLOW form or the mixed one, whichever makes fewer
// model rules; for the default Allow, the DENY form.
func (z *authz) natural() form {
	if forced != nil {
		if f := *forced; f == formDeny || z.deny {
			return f
		}
	}
	if !z.deny {
		return formDeny
	}
	a, m := z.write(formAllow), z.write(formMixed)
	if a.overflow || (!m.overflow && m.size() < a.size()) {
		return formMixed
	}
	return formAllow
}

// policies are the model policies name of the authorization, on routes,
// in form fm.
func (t *translator) policies(d *document, z *authz, tg *target, name string, routes []string, fm form) []model.Policy {
	w := z.write(fm)
	var out []model.Policy
	for _, pt := range w.parts {
		origin, base := d.Piece("policies", "spec.authorization")
		d.Rename(base+".name", "metadata.name")
		d.Rename(base+".routes", tg.path)
		d.Rename(base+".action", "spec.authorization")
		for j, i := range pt.from {
			mp := strictyaml.Index(base+".rules", j)
			if i < 0 {
				d.Rename(mp, "spec.authorization.defaultAction")
			} else {
				d.Rename(mp, strictyaml.Index("spec.authorization.rules", i))
			}
		}
		out = append(out, model.Policy{
			Name: name + pt.suffix, Action: pt.action, Routes: slices.Clone(routes), Rules: slices.Clone(pt.rules),
			SpaceDelimitedClaims: map[string][]string{"*": {"scope"}},
			Origin:               origin,
		})
	}
	if w.overflow {
		what := "allows nothing"
		if w.parts[0].action == model.ActionDeny {
			what = "denies every request"
		}
		d.NotServed("spec.authorization.rules", "the rules make more than %d model rules once their order is written out: the policy %s on %s, failing closed", maxTerms, what, tg.describe())
	}
	return out
}

// denyAll is the model policy name that denies every request on routes,
// because of what the policy asks at spec.KEY and jwtgate cannot do.
func (t *translator) denyAll(d *document, tg *target, name string, routes []string, key string) model.Policy {
	origin, base := d.Piece("policies", "spec."+key)
	d.Rename(base+".routes", tg.path)
	return model.Policy{Name: name, Action: model.ActionDeny, Routes: slices.Clone(routes),
		Rules: []model.Rule{{Name: key}}, Origin: origin}
}
