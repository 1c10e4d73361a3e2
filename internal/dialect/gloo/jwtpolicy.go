package gloo

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// jwtPolicies attaches the JWT policies to the routes jwtgate serves,
// the oldest first: each becomes a model JWT policy naming the routes it
// selects, in that order, so that on a route several select the oldest
// applies and the others are reported Conflicted (model.Config.Notes).
// A policy's claims and requiredScopes become an ALLOW policy on the
// routes where it applies.
func (t *translator) jwtPolicies() {
	var pols []*document
	for _, d := range t.s.docs {
		if d.jp != nil && !d.dup {
			pols = append(pols, d)
		}
	}
	slices.SortStableFunc(pols, byAge)
	winner := map[*route]*document{}
	type made struct {
		d      *document
		routes []*route
	}
	var all []made
	for _, d := range pols {
		sel := t.selected(d)
		if len(sel) == 0 {
			if len(t.tableRoutes()) == 0 {
				d.Note(model.ReasonNotSelected, "not applied: jwtgate serves no route of a route table here")
			} else {
				d.Note(model.ReasonTargetNotFound, "not applied: it selects none of the routes jwtgate serves")
			}
			continue
		}
		if !t.jwtPolicy(d, sel) {
			continue
		}
		for _, r := range sel {
			if winner[r] == nil {
				winner[r] = d
			}
		}
		all = append(all, made{d, sel})
	}
	for _, m := range all {
		var won []string
		for _, r := range m.routes {
			if winner[r] == m.d {
				won = append(won, r.m.Name)
			}
		}
		t.claimsPolicy(m.d, won)
	}
}

// tableRoutes are the routes made from route tables (not the https
// redirects of a gateway's listeners).
func (t *translator) tableRoutes() []*route {
	var out []*route
	for _, r := range t.routes {
		if r.doc.rt != nil {
			out = append(out, r)
		}
	}
	return out
}

// selected lists the routes a JWT policy selects: by applyToRoutes (a
// route's or its table's labels, or its destinations), and by
// applyToDestinations (the Services routes forward to). Neither selects
// every route; applyToDestinations alone selects no route by route
// selector.
func (t *translator) selected(d *document) []*route {
	spec := d.jp.Spec
	for i, rs := range spec.ApplyToRoutes {
		p := strictyaml.Index("spec.applyToRoutes", i)
		if rs.Route != nil && rs.WithDestinations != nil {
			d.Errorf(strictyaml.Field(p, "withDestinations"), "give route or withDestinations, not both")
			return nil
		}
		if r := rs.Route; r != nil {
			d.checkScope(strictyaml.Field(p, "route"), r.Cluster, r.Workspace)
		}
		if w := rs.WithDestinations; w != nil && w.Selector != nil {
			d.checkScope(strictyaml.Field(p, "withDestinations.selector"), w.Selector.Cluster, w.Selector.Workspace)
		}
	}
	for i, ds := range spec.ApplyToDestinations {
		if ds.Selector != nil {
			d.checkScope(strictyaml.Field(strictyaml.Index("spec.applyToDestinations", i), "selector"), ds.Selector.Cluster, ds.Selector.Workspace)
		}
	}
	var out []*route
	for _, r := range t.tableRoutes() {
		if len(spec.ApplyToRoutes) == 0 && len(spec.ApplyToDestinations) == 0 {
			out = append(out, r)
			continue
		}
		ok := false
		for _, rs := range spec.ApplyToRoutes {
			switch {
			case rs.Route != nil:
				ok = routeLabelsMatch(rs.Route, r)
			case rs.WithDestinations != nil:
				ok = t.destMatches(*rs.WithDestinations, r)
			default:
				ok = true // {}: every route
			}
			if ok {
				break
			}
		}
		for _, ds := range spec.ApplyToDestinations {
			if ok {
				break
			}
			ok = t.destMatches(ds, r)
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// routeLabelsMatch reports whether a route label selector selects r:
// its labels are all on the route, or all on its table, and its
// namespace is the table's.
func routeLabelsMatch(s *routeLabelSelector, r *route) bool {
	if s.Namespace != "" && s.Namespace != r.doc.Ref.Namespace {
		return false
	}
	return model.Labels(r.own).Matches(s.Labels) || model.Labels(r.table).Matches(s.Labels)
}

// destMatches reports whether a destination selector selects one of the
// Services r forwards to.
func (t *translator) destMatches(s destinationSelector, r *route) bool {
	if k := strings.ToUpper(s.Kind); k != "" && k != "SERVICE" {
		return false // jwtgate serves no other kind of destination
	}
	for _, ds := range r.dests {
		if !objectMatches(s.Selector, ds.ns, ds.name, ds.labels) {
			continue
		}
		if p := s.Port; p != nil {
			if p.Number != 0 && p.Number != ds.port {
				continue
			}
			if p.Name != "" && p.Name != t.portName(ds) {
				continue
			}
		}
		return true
	}
	return false
}

// portName is the name of the Service port a destination reaches.
func (t *translator) portName(ds dest) string {
	if ds.portName != "" {
		return ds.portName
	}
	if svc := t.s.kube.Service(ds.ns, ds.name); svc != nil {
		for _, p := range svc.Spec.Ports {
			if p.Port == ds.port {
				return p.Name
			}
		}
	}
	return ""
}

// jwtPolicy translates a JWT policy that selects the routes sel: its
// providers and requirement. It returns false when the policy is in
// error (reported).
func (t *translator) jwtPolicy(d *document, sel []*route) bool {
	cfg := d.jp.Spec.Config
	if cfg == nil || len(cfg.Providers) == 0 {
		at := "spec.config.providers"
		if !d.Has(at) {
			at = "spec"
			if d.Has("spec.config") {
				at = "spec.config"
			}
		}
		if !d.Reported(at) {
			d.Errorf(at, "needs at least one provider (config.providers)")
		}
		return false
	}
	req := model.JWTRequirement{Mode: model.AuthRequired, Phase: model.PhasePreAuthz}
	ok := true
	for _, key := range slices.Sorted(maps.Keys(cfg.Providers)) {
		p, good := t.provider(d, key, cfg.Providers[key])
		if !good {
			ok = false
			continue
		}
		req.Providers = append(req.Providers, p.Name)
		t.out.Providers = append(t.out.Providers, p)
	}
	switch v := strings.ToUpper(cfg.ValidationPolicy); v {
	case "", "REQUIRE_VALID":
	case "ALLOW_MISSING":
		req.Mode = model.AuthAllowMissing
	case "ALLOW_MISSING_OR_FAILED":
		req.Mode = model.AuthAllowMissingOrFailed
	default:
		d.Errorf("spec.config.validationPolicy", "invalid validationPolicy %q (want REQUIRE_VALID, ALLOW_MISSING or ALLOW_MISSING_OR_FAILED)", cfg.ValidationPolicy)
		ok = false
	}
	if cfg.AllowMissingOrFailed {
		if req.Mode != model.AuthRequired && req.Mode != model.AuthAllowMissingOrFailed {
			d.Warnf("spec.config.validationPolicy", "overridden: allowMissingOrFailed is true, and it takes precedence")
		}
		req.Mode = model.AuthAllowMissingOrFailed
	}
	if ph := cfg.Phase; ph != nil {
		switch {
		case ph.PreAuthz != nil && ph.PostAuthz != nil:
			d.Errorf("spec.config.phase", "give preAuthz or postAuthz, not both")
			ok = false
		case ph.PostAuthz != nil:
			req.Phase, req.Priority = model.PhasePostAuthz, ph.PostAuthz.Priority
		case ph.PreAuthz != nil:
			req.Priority = ph.PreAuthz.Priority
		}
	}
	t.clearRouteCache(d, cfg)
	if !ok {
		return false
	}
	origin, base := d.Piece("jwtPolicies", "spec")
	d.Rename(base+".name", "metadata.name")
	d.Rename(base+".routes", "spec.applyToRoutes")
	d.Rename(base+".requirement", "spec.config")
	d.Rename(base+".requirement.providers", "spec.config.providers")
	for i, name := range req.Providers {
		d.Rename(strictyaml.Index(base+".requirement.providers", i), strictyaml.Key("spec.config.providers", strings.TrimPrefix(name, d.Name()+"/")))
	}
	d.Rename(base+".requirement.mode", cmp.Or(firstSet(d, "spec.config.allowMissingOrFailed", "spec.config.validationPolicy"), "spec.config"))
	d.Rename(base+".requirement.phase", "spec.config.phase")
	jp := model.JWTPolicy{Name: d.Name(), Requirement: req, Origin: origin}
	for _, r := range sel {
		jp.Routes = append(jp.Routes, r.m.Name)
	}
	t.out.JWTPolicies = append(t.out.JWTPolicies, jp)
	return true
}

// firstSet is the first of the paths the document sets, or "".
func firstSet(d *document, paths ...string) string {
	for _, p := range paths {
		if d.Has(p) {
			return p
		}
	}
	return ""
}

// clearRouteCache reports what jwtgate cannot do: choose the route again
// once the token is verified. AUTO (the default) and FALSE change
// nothing here, as no route jwtgate serves matches a header a policy
// sets from a claim (see matcher); TRUE is reported as not applied.
func (t *translator) clearRouteCache(d *document, cfg *jwtConfig) {
	const at = "spec.config.clearRouteCache"
	switch v := strings.ToUpper(cfg.ClearRouteCache); v {
	case "", "AUTO", "FALSE":
	case "TRUE":
		d.NotServed(at, "not applied: jwtgate chooses the route once, before the token is verified")
	default:
		d.Errorf(at, "invalid clearRouteCache %q (want AUTO, FALSE or TRUE)", cfg.ClearRouteCache)
	}
}

// claimsPolicy translates a JWT policy's claims and requiredScopes into
// an ALLOW policy on the routes where it applies (won): every claim
// matcher and every scope must hold. A matcher jwtgate cannot express
// leaves the policy without rules, which allows nothing (403), never
// more.
func (t *translator) claimsPolicy(d *document, won []string) {
	cfg := d.jp.Spec.Config
	if cfg == nil || (len(cfg.Claims) == 0 && len(cfg.RequiredScopes) == 0) || len(won) == 0 {
		return
	}
	origin, base := d.Piece("policies", "spec.config")
	d.Rename(base+".name", "metadata.name")
	d.Rename(base+".routes", "spec.applyToRoutes")
	rule := model.Rule{}
	deny := false
	for i, c := range cfg.Claims {
		cp := strictyaml.Index("spec.config.claims", i)
		if c.Key == "" {
			d.Errorf(cp, "missing required field %q", "key")
			continue
		}
		if len(c.Values) == 0 && len(c.NotValues) == 0 {
			d.Errorf(cp, "give values, notValues or both")
			continue
		}
		name, ok := claimPath(c.Key, c.NestedClaimDelimiter)
		if !ok {
			d.NotServed(strictyaml.Field(cp, "key"), "every request is denied (403): jwtgate cannot name the claim %q", c.Key)
			deny = true
			continue
		}
		d.Rename(strictyaml.Index(base+".rules[0].when", len(rule.When)), cp)
		rule.When = append(rule.When, model.Condition{Kind: model.CondClaim, Name: name, Values: c.Values, NotValues: c.NotValues})
	}
	for i, s := range cfg.RequiredScopes {
		d.Rename(strictyaml.Index(base+".rules[0].when", len(rule.When)), strictyaml.Index("spec.config.requiredScopes", i))
		rule.When = append(rule.When, model.Condition{Kind: model.CondClaim, Name: "scope", Values: []string{s}})
	}
	if cfg.Phase != nil && cfg.Phase.PostAuthz != nil {
		d.NotServed("spec.config.phase.postAuthz", "every request is denied (403): with phase postAuthz jwtgate checks claims and requiredScopes before the token is verified")
	}
	p := model.Policy{Name: d.Name(), Action: model.ActionAllow, Routes: won, Origin: origin}
	if !deny {
		p.Rules = []model.Rule{rule}
	}
	t.out.Policies = append(t.out.Policies, p)
}

// claimPath is a claim matcher's key as a model claim path: the key is
// one top-level claim, or, with a nestedClaimDelimiter, a path split on
// it. ok is false for a key the path syntax cannot hold (brackets).
func claimPath(key, delim string) (string, bool) {
	segs := []string{key}
	if delim != "" {
		segs = strings.Split(key, delim)
	}
	if len(segs) == 1 && !strings.ContainsAny(key, ".[]") {
		return key, true
	}
	var b strings.Builder
	for _, s := range segs {
		if s == "" || strings.ContainsAny(s, "[]") {
			return "", false
		}
		b.WriteString("[" + s + "]")
	}
	return b.String(), true
}
