package model

import (
	"fmt"
	"strings"
)

// Notes are the statuses that follow from how resources attach to each
// other: a JWT policy that loses to an older requirement on a route is
// Conflicted (naming the winner), and a policy or JWT policy whose
// selector reaches no route has no target (TargetNotFound). Resources
// built in code (no Ref) get none.
func (c *Config) Notes() []Note {
	var out []Note
	lost := map[Ref][]string{}
	var order []Ref
	for _, r := range c.Routes {
		eff := c.EffectiveJWT(r)
		if len(eff.NotApplied) == 0 {
			continue
		}
		winner := "its own requirement"
		if eff.From != "route" {
			winner = eff.From
		}
		skip := r.JWT == nil // the first attaching policy is the winner
		for _, p := range c.JWTPolicies {
			if !p.AppliesTo(r) {
				continue
			}
			if skip {
				skip = false
				continue
			}
			ref := p.Origin.Ref
			if ref == (Ref{}) {
				continue
			}
			if _, ok := lost[ref]; !ok {
				order = append(order, ref)
			}
			lost[ref] = append(lost[ref], fmt.Sprintf("route %q keeps %s", r.Name, winner))
		}
	}
	for _, ref := range order {
		out = append(out, Note{Ref: ref, Reason: ReasonConflicted, Message: "not applied: " + strings.Join(lost[ref], "; ") + " (the first created applies)"})
	}
	noTarget := func(o Origin, kind string) {
		if o.Ref != (Ref{}) {
			out = append(out, Note{Ref: o.Ref, Reason: ReasonTargetNotFound, Message: kind + " selects no route"})
		}
	}
	for _, p := range c.JWTPolicies {
		if !c.reachesRoute(p.AppliesTo) {
			noTarget(p.Origin, "the JWT policy")
		}
	}
	for _, p := range c.Policies {
		if !c.reachesRoute(p.AppliesTo) {
			noTarget(p.Origin, "the policy")
		}
	}
	return out
}

func (c *Config) reachesRoute(applies func(Route) bool) bool {
	for _, r := range c.Routes {
		if applies(r) {
			return true
		}
	}
	return false
}
