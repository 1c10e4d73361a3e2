package kgateway

import (
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/dialect/gatewayapi"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// translator attaches the TrafficPolicies of one load to the routes the
// Gateway API dialect made.
type translator struct {
	s    *session
	view *gatewayapi.View // nil when the load holds no Gateway API document
	out  *model.Config
	exts map[*document]*extOut
	// used are the GatewayExtensions whose providers are in out.
	used map[*document]bool
}

// attachment is a TrafficPolicy attached to one target.
type attachment struct {
	d  *document
	tg target
}

// feature is a part of a TrafficPolicy that the most specific
// attachment decides on each route, each part on its own: jwtAuth, rbac,
// and each access control field jwtgate fails closed on.
type feature struct {
	name string
	has  func(*trafficPolicySpec) bool
}

// features lists them, in the order their model pieces are made.
var features = func() []feature {
	fs := []feature{
		{"jwtAuth", func(s *trafficPolicySpec) bool { return s.JWTAuth != nil }},
		{"rbac", func(s *trafficPolicySpec) bool { return s.RBAC != nil }},
	}
	for _, f := range accessFields {
		fs = append(fs, feature{f.name, func(s *trafficPolicySpec) bool { return set(f.node(s)) }})
	}
	return fs
}()

// group is the routes on which one attachment wins one feature.
type group struct {
	feature string
	a       attachment
	routes  []string
}

// attach resolves every TrafficPolicy's targets, decides on each route
// which attachment wins each feature (the most specific level; at one
// level the oldest policy), and makes the model pieces of each winner
// for exactly the routes it wins.
func (t *translator) attach() {
	index := map[string][]attachment{}
	for _, d := range t.s.docs {
		if d.tp == nil || d.HasErrors {
			continue
		}
		for _, tg := range t.targets(d) {
			k := tg.key()
			if !slices.ContainsFunc(index[k], func(a attachment) bool { return a.d == d }) {
				index[k] = append(index[k], attachment{d, tg})
			}
		}
	}
	for _, as := range index {
		slices.SortStableFunc(as, func(a, b attachment) int { return byAge(a.d, b.d) })
	}
	var groups []*group
	byKey := map[string]*group{}
	wins := map[*document]map[string]bool{}
	losses := map[*document]map[string][]string{}
	var routes []model.Route
	if t.view != nil {
		routes = t.view.Routes
	}
	for _, r := range routes {
		kind, hr := routeOf(r)
		if hr == "" {
			continue // a listener's 404 for its hostname (isolation)
		}
		var keys []string
		if rule := r.Labels[gatewayapi.LabelRule]; rule != "" {
			keys = append(keys, targetKey(kind, hr, rule))
		}
		gw := r.Labels[gatewayapi.LabelGateway]
		keys = append(keys, targetKey(kind, hr, ""), targetKey(kindGateway, gw, r.Labels[gatewayapi.LabelListener]), targetKey(kindGateway, gw, ""))
		for _, f := range features {
			for _, k := range keys {
				var cands []attachment
				for _, a := range index[k] {
					if f.has(&a.d.tp.Spec) {
						cands = append(cands, a)
					}
				}
				if len(cands) == 0 {
					continue
				}
				w := cands[0]
				mark(wins, w.d, f.name)
				for _, l := range cands[1:] {
					if losses[l.d] == nil {
						losses[l.d] = map[string][]string{}
					}
					if !slices.Contains(losses[l.d][f.name], w.d.Name()) {
						losses[l.d][f.name] = append(losses[l.d][f.name], w.d.Name())
					}
				}
				gk := f.name + " " + w.d.Name() + " " + k
				g := byKey[gk]
				if g == nil {
					g = &group{feature: f.name, a: w}
					byKey[gk] = g
					groups = append(groups, g)
				}
				g.routes = append(g.routes, r.Name)
				break
			}
		}
	}
	// In the order the policies were read, each in the order of its
	// targets.
	slices.SortStableFunc(groups, func(a, b *group) int {
		if c := slices.Index(t.s.docs, a.a.d) - slices.Index(t.s.docs, b.a.d); c != 0 {
			return c
		}
		return strings.Compare(a.a.tg.path, b.a.tg.path)
	})
	for _, g := range groups {
		t.emit(g)
	}
	for _, d := range t.s.docs {
		if d.ext != nil && d.ext.Spec.JWT != nil && !d.HasErrors {
			t.extension(d) // its problems are reported even when unused
		}
		for _, f := range features {
			winners := losses[d][f.name]
			if len(winners) == 0 {
				continue
			}
			p := "spec." + f.name
			if wins[d][f.name] {
				d.Noted(model.ReasonPartiallyAccepted, p, "overridden on some routes by the older TrafficPolicy %s, attached to the same resource (at one level the oldest policy wins)", strings.Join(winners, ", "))
			} else {
				d.Noted(model.ReasonConflicted, p, "not applied: the older TrafficPolicy %s sets %s on the same resources (at one level the oldest policy wins)", strings.Join(winners, ", "), f.name)
			}
		}
	}
}

func mark(m map[*document]map[string]bool, d *document, f string) {
	if m[d] == nil {
		m[d] = map[string]bool{}
	}
	m[d][f] = true
}

// scope is how a model piece names the routes of a group: the target's
// labels when they select exactly those routes, else the routes' names.
func (t *translator) scope(g *group) (map[string]string, []string) {
	sel := g.a.tg.selector()
	n := 0
	for _, r := range t.view.Routes {
		if r.Labels.Matches(sel) {
			n++
		}
	}
	if n == len(g.routes) {
		return sel, nil
	}
	return nil, slices.Clone(g.routes)
}

// emit makes the model pieces of one group.
func (t *translator) emit(g *group) {
	d, tg := g.a.d, g.a.tg
	base := d.Name() + "/" + tg.desc()
	sel, routes := t.scope(g)
	named := func(b string) {
		d.Rename(b+".name", "metadata.name")
		d.Rename(b+".selector", tg.path)
		d.Rename(b+".routes", tg.path)
	}
	sp := &d.tp.Spec
	switch g.feature {
	case "jwtAuth":
		if sp.JWTAuth.ExtensionRef == nil {
			return // disable: JWT is off on these routes
		}
		ext, o := t.extensionRef(d)
		if ext == nil {
			t.denyAll(d, base+"#jwtAuth", "spec.jwtAuth", sel, routes, named)
			return
		}
		origin, b := d.Piece("jwtPolicies", "spec.jwtAuth")
		named(b)
		d.Rename(b+".requirement.providers", "spec.jwtAuth.extensionRef")
		t.out.JWTPolicies = append(t.out.JWTPolicies, model.JWTPolicy{
			Name: base, Selector: sel, Routes: routes, Origin: origin,
			Requirement: model.JWTRequirement{Providers: t.useProviders(ext, o), Mode: o.mode},
		})
	case "rbac":
		if d.rbac == nil {
			t.denyAll(d, base+"#rbac", "spec.rbac", sel, routes, named)
			return
		}
		origin, b := d.Piece("policies", "spec.rbac")
		named(b)
		d.Rename(b+".action", "spec.rbac.action")
		for k, path := range d.rbac.paths {
			d.Rename(strictyaml.Index(b+".rules", k), path)
			d.Rename(strictyaml.Index(b+".rules", k)+".when[0].values[0]", path)
		}
		t.out.Policies = append(t.out.Policies, model.Policy{
			Name: base, Action: d.rbac.action, Selector: sel, Routes: routes,
			Rules: slices.Clone(d.rbac.rules), Origin: origin,
		})
	default:
		for _, f := range accessFields {
			if f.name == g.feature && !disables(f.node(sp)) {
				t.denyAll(d, base+"#"+f.name, "spec."+f.name, sel, routes, named)
			}
		}
	}
}

// denyAll makes the DENY policy that answers every request of the routes
// 403: how a part of a policy that jwtgate cannot enforce fails closed.
func (t *translator) denyAll(d *document, name, path string, sel map[string]string, routes []string, named func(string)) {
	origin, b := d.Piece("policies", path)
	named(b)
	t.out.Policies = append(t.out.Policies, model.Policy{
		Name: name, Action: model.ActionDeny, Selector: sel, Routes: routes,
		Rules: []model.Rule{{}}, Origin: origin,
	})
}

// extensionRef resolves a TrafficPolicy's jwtAuth.extensionRef to a jwt
// GatewayExtension that can be enforced; nil (noted) when it cannot.
func (t *translator) extensionRef(d *document) (*document, *extOut) {
	r := d.tp.Spec.JWTAuth.ExtensionRef
	ns := deref(r.Namespace, d.Ref.Namespace)
	p := "spec.jwtAuth.extensionRef"
	fail := func(reason, format string, args ...any) (*document, *extOut) {
		d.Noted(reason, p, format+"; failing closed, the routes it governs answer 403", args...)
		return nil, nil
	}
	if ns != d.Ref.Namespace && (t.view == nil || !t.view.Permits(Group, KindTrafficPolicy, d.Ref.Namespace, Group, KindGatewayExtension, ns, r.Name)) {
		return fail(model.ReasonTargetNotFound, "RefNotPermitted: no ReferenceGrant in namespace %s lets TrafficPolicies of namespace %s refer to GatewayExtension %s", ns, d.Ref.Namespace, r.Name)
	}
	ext := t.s.find(KindGatewayExtension, ns, r.Name)
	if ext == nil {
		return fail(model.ReasonTargetNotFound, "GatewayExtension %s/%s not found", ns, r.Name)
	}
	o := t.extension(ext)
	if o.why != "" {
		return fail(model.ReasonPartiallyAccepted, "%s", o.why)
	}
	return ext, o
}

// useProviders puts the extension's providers in the model once, and
// returns their names.
func (t *translator) useProviders(ext *document, o *extOut) []string {
	var names []string
	for _, p := range o.providers {
		names = append(names, p.Name)
	}
	if !t.used[ext] {
		t.used[ext] = true
		t.out.Providers = append(t.out.Providers, o.providers...)
	}
	return names
}
