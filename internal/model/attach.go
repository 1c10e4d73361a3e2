package model

import "slices"

// AppliesTo reports whether the policy attaches to route r: by name, by
// label selector, or by listener; a policy naming none of the three
// attaches to every route.
func (p Policy) AppliesTo(r Route) bool {
	if len(p.Routes) == 0 && p.Selector == nil && len(p.Listeners) == 0 {
		return true
	}
	if slices.Contains(p.Routes, r.Name) || slices.Contains(p.Listeners, r.Listener) {
		return true
	}
	return p.Selector != nil && r.Labels.Matches(p.Selector)
}

// AppliesTo reports whether the JWT policy attaches to route r, by name or
// label selector; naming neither attaches it to every route.
func (p JWTPolicy) AppliesTo(r Route) bool {
	if len(p.Routes) == 0 && p.Selector == nil {
		return true
	}
	return slices.Contains(p.Routes, r.Name) || (p.Selector != nil && r.Labels.Matches(p.Selector))
}

// AppliedJWT is the JWT requirement that governs a route and where it came
// from.
type AppliedJWT struct {
	// Requirement is nil when no requirement reaches the route (it is open).
	Requirement *JWTRequirement
	// From is "route" for the route's own requirement, or `jwtPolicy "NAME"`.
	From string
	// NotApplied lists the JWT policies that also reach the route but lose
	// to the first one created.
	NotApplied []string
}

// EffectiveJWT returns the requirement that governs route r: the route's
// own, else the first JWT policy (in creation order) that attaches to it.
// The others that attach are reported in NotApplied, never merged.
func (c *Config) EffectiveJWT(r Route) AppliedJWT {
	var out AppliedJWT
	if r.JWT != nil {
		out.Requirement, out.From = r.JWT, "route"
	}
	for i := range c.JWTPolicies {
		p := &c.JWTPolicies[i]
		if !p.AppliesTo(r) {
			continue
		}
		if out.Requirement == nil {
			out.Requirement, out.From = &p.Requirement, `jwtPolicy "`+p.Name+`"`
			continue
		}
		out.NotApplied = append(out.NotApplied, p.Name)
	}
	return out
}

// PoliciesFor returns the authorization policies that attach to route r, in
// configuration order.
func (c *Config) PoliciesFor(r Route) []Policy {
	var out []Policy
	for _, i := range c.PolicyIndexesFor(r) {
		out = append(out, c.Policies[i])
	}
	return out
}

// PolicyIndexesFor is PoliciesFor as indexes into c.Policies: routes that
// many policies reach compile without copying them.
func (c *Config) PolicyIndexesFor(r Route) []int {
	var out []int
	for i := range c.Policies {
		if c.Policies[i].AppliesTo(r) {
			out = append(out, i)
		}
	}
	return out
}
