package envoygateway

import (
	"fmt"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/dialect/gatewayapi"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// level is how specific a target is: on a route, the policy of the most
// specific target replaces the others, in Envoy Gateway.
type level int

const (
	levelRule     level = iota // a route's rule (sectionName)
	levelRoute                 // a whole HTTPRoute or GRPCRoute
	levelListener              // a Gateway listener (sectionName)
	levelGateway               // a whole Gateway
)

// unservedKinds are the target kinds a SecurityPolicy may name whose
// traffic jwtgate does not serve at all.
var unservedKinds = []string{"TCPRoute", "UDPRoute", "TLSRoute", "ListenerSet"}

// routeLabels are the route kinds a SecurityPolicy attaches to in
// jwtgate, each with the label that names, on a model route, the route
// of that kind it was made from.
var routeLabels = map[string]string{
	gatewayapi.KindHTTPRoute: gatewayapi.LabelHTTPRoute,
	gatewayapi.KindGRPCRoute: gatewayapi.LabelGRPCRoute,
}

// routeOf is the "namespace/name" of the HTTPRoute or GRPCRoute the model
// route r was made from; empty for a listener's own 404 for its hostname
// (listener isolation), made from no route.
func routeOf(r model.Route) string {
	if n := r.Labels[gatewayapi.LabelHTTPRoute]; n != "" {
		return n
	}
	return r.Labels[gatewayapi.LabelGRPCRoute]
}

// target is one thing a policy is attached to.
type target struct {
	doc     *document
	path    string // of the reference (or selector) in the document
	kind    string // Gateway, HTTPRoute or GRPCRoute; or one of unservedKinds
	ns      string
	name    string
	section string
	level   level
	// lost says why the policy does not apply here; empty when it does.
	lost, lostReason string
	// routes are the model routes where this target's policy is the
	// most specific; merged those where it is enforced beside a more
	// specific policy that asks to be merged into it (mergeType).
	routes, merged []string
	// over names the more specific targets that replace it on some of
	// its routes.
	over []string
}

// describe names the target: "HTTPRoute shop/web", "Gateway infra/gw
// listener http", "HTTPRoute shop/web rule admin", "GRPCRoute shop/api".
func (t *target) describe() string {
	s := t.kind + " " + t.ns + "/" + t.name
	switch {
	case t.section == "":
	case t.kind == "Gateway":
		s += " listener " + t.section
	default:
		s += " rule " + t.section
	}
	return s
}

// key identifies the target among all policies.
func (t *target) key() string { return t.kind + " " + t.ns + "/" + t.name + "/" + t.section }

// reaches reports whether the model route r, labelled by the Gateway API
// dialect with its HTTPRoute (or GRPCRoute), rule, Gateway and listener,
// is one of the target's.
func (t *target) reaches(r model.Route) bool {
	nn := t.ns + "/" + t.name
	l := r.Labels
	switch t.level {
	case levelRule:
		return l[routeLabels[t.kind]] == nn && l[gatewayapi.LabelRule] == t.section
	case levelRoute:
		return l[routeLabels[t.kind]] == nn
	case levelListener:
		return l[gatewayapi.LabelGateway] == nn && l[gatewayapi.LabelListener] == t.section
	}
	return l[gatewayapi.LabelGateway] == nn
}

// checkTargets reads targetRef, targetRefs and targetSelectors; the
// selectors are resolved by Finish.
func (d *document) checkTargets() {
	spec := &d.obj.Spec
	switch {
	case spec.TargetRef != nil && len(spec.TargetRefs) > 0:
		d.Errorf("spec.targetRef", "give targetRef or targetRefs, not both (targetRef is deprecated)")
	case spec.TargetRef == nil && len(spec.TargetRefs) == 0 && len(spec.TargetSelectors) == 0:
		if !d.Reported("spec.targetRefs") && !d.Reported("spec.targetRef") && !d.Reported("spec.targetSelectors") {
			d.Errorf("spec", "give targetRefs (or targetSelectors): the Gateway, listener, HTTPRoute, GRPCRoute or route rule the policy applies to")
		}
	}
	if spec.TargetRef != nil {
		d.Warnf("spec.targetRef", "targetRef is deprecated: use targetRefs")
		d.addRef(*spec.TargetRef, "spec.targetRef")
	}
	for i, r := range spec.TargetRefs {
		d.addRef(r, strictyaml.Index("spec.targetRefs", i))
	}
	for i, s := range spec.TargetSelectors {
		d.checkSelector(s, strictyaml.Index("spec.targetSelectors", i))
	}
	if mt := spec.MergeType; mt != nil && *mt != "StrategicMerge" && *mt != "JSONMerge" {
		d.Errorf("spec.mergeType", "invalid mergeType %q (want StrategicMerge or JSONMerge)", *mt)
	}
}

// checkKind checks a target kind at path.
func (d *document) checkKind(kind, path string) bool {
	if _, route := routeLabels[kind]; route || kind == "Gateway" || slices.Contains(unservedKinds, kind) {
		return true
	}
	if !d.Reported(path) {
		d.Errorf(path, "invalid kind %q (want Gateway, HTTPRoute, GRPCRoute, TCPRoute, UDPRoute, TLSRoute or ListenerSet)", kind)
	}
	return false
}

// addRef checks one reference at path and records its target.
func (d *document) addRef(r targetRef, path string) {
	f := func(k string) string { return strictyaml.Field(path, k) }
	ok := d.checkKind(r.Kind, f("kind"))
	if r.Group != gatewayAPIGroup {
		d.Errorf(f("group"), "invalid group %q: targets are Gateway API resources (group %s)", r.Group, gatewayAPIGroup)
		ok = false
	}
	if r.Name == "" {
		if !d.Reported(f("name")) {
			d.Errorf(path, "missing required field %q", "name")
		}
		ok = false
	}
	section := ""
	if r.SectionName != nil {
		if section = *r.SectionName; section == "" {
			d.Errorf(f("sectionName"), "empty sectionName: leave it out to target the whole %s", r.Kind)
			ok = false
		}
	}
	if ok {
		d.addTarget(&target{doc: d, path: path, kind: r.Kind, ns: d.Ref.Namespace, name: r.Name, section: section})
	}
}

// addTarget records t, once.
func (d *document) addTarget(t *target) {
	switch {
	case t.kind == "Gateway" && t.section == "":
		t.level = levelGateway
	case t.kind == "Gateway":
		t.level = levelListener
	case t.section == "":
		t.level = levelRoute
	default:
		t.level = levelRule
	}
	for _, o := range d.targets {
		if o.key() == t.key() {
			if !strings.HasPrefix(t.path, "spec.targetSelectors") {
				d.Warnf(t.path, "%s is targeted already at %s", t.describe(), o.path)
			}
			return
		}
	}
	d.targets = append(d.targets, t)
}

// translator makes the model pieces of one load.
type translator struct {
	s    *session
	view *gatewayapi.View // nil when the load holds no Gateway API document
	out  *model.Config
	// best is the target whose policy each model route gets.
	best map[string]*target
}

// resolve decides, for every target of the policies without errors
// (docs holds them oldest first), whether the policy applies there:
// the target exists and is served, and no older policy holds it.
func (t *translator) resolve(docs []*document) {
	held := map[string]*target{}
	for _, d := range docs {
		if d.HasErrors {
			continue
		}
		t.selectTargets(d)
		for _, tg := range d.targets {
			if tg.lost == "" {
				tg.lostReason, tg.lost = t.find(tg)
			}
			if tg.lost != "" {
				continue
			}
			if o := held[tg.key()]; o != nil {
				tg.lostReason = model.ReasonConflicted
				tg.lost = fmt.Sprintf("SecurityPolicy %s, created first, targets it already (Conflicted)", o.doc.Name())
				continue
			}
			held[tg.key()] = tg
		}
	}
}

// find says why a target cannot be applied (the reason and a message),
// or nothing when it can: it exists, its sectionName too, and jwtgate
// serves it.
func (t *translator) find(tg *target) (reason, why string) {
	if slices.Contains(unservedKinds, tg.kind) {
		return model.ReasonUnsupported, fmt.Sprintf("jwtgate does not serve %ss", tg.kind)
	}
	objs := t.objects(tg.kind)
	i := slices.IndexFunc(objs, func(o gatewayapi.Object) bool { return o.Ref.Namespace == tg.ns && o.Ref.Name == tg.name })
	if i < 0 {
		return model.ReasonTargetNotFound, fmt.Sprintf("%s %s/%s not found (TargetNotFound)", tg.kind, tg.ns, tg.name)
	}
	o := objs[i]
	if tg.section != "" && !slices.Contains(o.Sections, tg.section) {
		what := "rule named"
		if tg.kind == "Gateway" {
			what = "listener"
		}
		return model.ReasonTargetNotFound, fmt.Sprintf("%s %s/%s has no %s %q (TargetNotFound)", tg.kind, tg.ns, tg.name, what, tg.section)
	}
	switch {
	case o.Served:
	case tg.kind != "Gateway":
		return model.ReasonNotSelected, fmt.Sprintf("%s is not served: it attaches to no listener of the Gateway jwtgate serves", tg.describe())
	case t.view.Gateway == "":
		return model.ReasonNotSelected, "jwtgate serves no Gateway of the Gateway API"
	default:
		return model.ReasonNotSelected, "jwtgate serves Gateway " + t.view.Gateway
	}
	return "", ""
}

// objects are the Gateway API objects of a target kind: Gateways,
// HTTPRoutes or GRPCRoutes; none for another kind or without a view.
func (t *translator) objects(kind string) []gatewayapi.Object {
	switch {
	case t.view == nil:
		return nil
	case kind == "Gateway":
		return t.view.Gateways
	case kind == gatewayapi.KindHTTPRoute:
		return t.view.HTTPRoutes
	case kind == gatewayapi.KindGRPCRoute:
		return t.view.GRPCRoutes
	}
	return nil
}

// assign gives every model route of the Gateway API dialect to the most
// specific target that reaches it, as Envoy Gateway applies one policy
// per route; where that policy asks to be merged (mergeType), the
// closest Gateway or listener target reaching the route is enforced
// there too.
func (t *translator) assign(docs []*document) {
	t.best = map[string]*target{}
	if t.view == nil {
		return
	}
	var active []*target
	for _, d := range docs {
		if d.HasErrors {
			continue
		}
		for _, tg := range d.targets {
			if tg.lost == "" {
				active = append(active, tg)
			}
		}
	}
	for _, r := range t.view.Routes {
		if routeOf(r) == "" {
			// A listener's own 404 for its hostname (listener
			// isolation): no route is matched there, so Envoy
			// Gateway applies no policy either.
			continue
		}
		var best, parent *target
		for _, tg := range active {
			if !tg.reaches(r) {
				continue
			}
			if best == nil || tg.level < best.level {
				best = tg
			}
			if tg.level >= levelListener && (parent == nil || tg.level < parent.level) {
				parent = tg
			}
		}
		if best == nil {
			continue
		}
		best.routes = append(best.routes, r.Name)
		t.best[r.Name] = best
		for _, tg := range active {
			if tg != best && tg.reaches(r) && !slices.Contains(tg.over, best.describe()) {
				tg.over = append(tg.over, best.describe())
			}
		}
		if best.doc.obj.Spec.MergeType != nil && best.level <= levelRoute && parent != nil {
			parent.merged = append(parent.merged, r.Name)
		}
	}
}

// reportLost gives the status of the targets where the policy does not
// apply: a warning on each, and a note when it applies nowhere.
func (d *document) reportLost() {
	applies := false
	for _, tg := range d.targets {
		if tg.lost == "" {
			applies = true
		} else if tg.lostReason == model.ReasonConflicted {
			d.Noted(model.ReasonConflicted, tg.path, "not applied to %s: %s", tg.describe(), tg.lost)
		} else {
			d.Warnf(tg.path, "not applied to %s: %s", tg.describe(), tg.lost)
		}
	}
	if applies {
		return
	}
	if len(d.targets) == 0 {
		d.Note(model.ReasonTargetNotFound, "its targetSelectors select nothing")
	}
	for _, tg := range d.targets {
		if tg.lostReason != model.ReasonConflicted {
			d.Note(tg.lostReason, "not applied to %s: %s", tg.describe(), tg.lost)
		}
	}
}

// modelName is the name of the target's model pieces: the policy's, with
// the target when the policy has several.
func (tg *target) modelName() string {
	n := tg.doc.Name()
	if len(tg.doc.targets) > 1 {
		n += "/" + tg.kind + "/" + tg.ns + "/" + tg.name
		if tg.section != "" {
			n += "/" + tg.section
		}
	}
	return n
}
