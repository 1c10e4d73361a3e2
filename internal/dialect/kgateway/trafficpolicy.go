package kgateway

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/dialect/gatewayapi"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// Target kinds: what a TrafficPolicy attaches to.
const (
	kindGateway   = gatewayapi.KindGateway
	kindHTTPRoute = gatewayapi.KindHTTPRoute
	kindGRPCRoute = gatewayapi.KindGRPCRoute
)

// routeLabels are the route kinds a TrafficPolicy attaches to, each with
// the label that names, on a model route, the route of that kind it was
// made from.
var routeLabels = map[string]string{
	kindHTTPRoute: gatewayapi.LabelHTTPRoute,
	kindGRPCRoute: gatewayapi.LabelGRPCRoute,
}

// servedKind reports whether jwtgate attaches policies to targets of a
// kind: Gateways, HTTPRoutes and GRPCRoutes.
func servedKind(kind string) bool {
	_, route := routeLabels[kind]
	return kind == kindGateway || route
}

// routeOf is the kind and "namespace/name" of the route (HTTPRoute or
// GRPCRoute) the model route r was made from; empty for a listener's own
// 404 for its hostname (listener isolation), made from no route.
func routeOf(r model.Route) (kind, name string) {
	for _, k := range []string{kindHTTPRoute, kindGRPCRoute} {
		if n := r.Labels[routeLabels[k]]; n != "" {
			return k, n
		}
	}
	return "", ""
}

// targetKinds are the kinds the API lets a TrafficPolicy target, by
// group; jwtgate serves Gateways, HTTPRoutes and GRPCRoutes.
var targetKinds = map[string][]string{
	gatewayapi.Group:              {kindGateway, kindHTTPRoute, kindGRPCRoute, "ListenerSet"},
	"gateway.networking.x-k8s.io": {"XListenerSet"},
}

// accessField is a field of a TrafficPolicy that controls access and
// that jwtgate does not enforce: the routes it governs answer 403.
type accessField struct {
	name string
	node func(*trafficPolicySpec) yaml.Node
}

// accessFields are the access control jwtgate fails closed on. jwt is
// not in the API: kgateway's claim extraction page writes it for
// jwtAuth, and kgateway drops it, leaving the routes open.
var accessFields = []accessField{
	{"extAuth", func(s *trafficPolicySpec) yaml.Node { return s.ExtAuth }},
	{"basicAuth", func(s *trafficPolicySpec) yaml.Node { return s.BasicAuth }},
	{"apiKeyAuth", func(s *trafficPolicySpec) yaml.Node { return s.APIKeyAuth }},
	{"oauth2", func(s *trafficPolicySpec) yaml.Node { return s.OAuth2 }},
	{"acl", func(s *trafficPolicySpec) yaml.Node { return s.ACL }},
	{"jwt", func(s *trafficPolicySpec) yaml.Node { return s.JWTMistaken }},
}

// trafficFields are the fields jwtgate reads and does not apply.
var trafficFields = map[string]func(*trafficPolicySpec) yaml.Node{
	"transformation":  func(s *trafficPolicySpec) yaml.Node { return s.Transformation },
	"extProc":         func(s *trafficPolicySpec) yaml.Node { return s.ExtProc },
	"rateLimit":       func(s *trafficPolicySpec) yaml.Node { return s.RateLimit },
	"cors":            func(s *trafficPolicySpec) yaml.Node { return s.CORS },
	"csrf":            func(s *trafficPolicySpec) yaml.Node { return s.CSRF },
	"headerModifiers": func(s *trafficPolicySpec) yaml.Node { return s.HeaderModifiers },
	"autoHostRewrite": func(s *trafficPolicySpec) yaml.Node { return s.AutoHostRewrite },
	"buffer":          func(s *trafficPolicySpec) yaml.Node { return s.Buffer },
	"timeouts":        func(s *trafficPolicySpec) yaml.Node { return s.Timeouts },
	"retry":           func(s *trafficPolicySpec) yaml.Node { return s.Retry },
	"urlRewrite":      func(s *trafficPolicySpec) yaml.Node { return s.URLRewrite },
	"compression":     func(s *trafficPolicySpec) yaml.Node { return s.Compression },
	"tracing":         func(s *trafficPolicySpec) yaml.Node { return s.Tracing },
	"faultInjection":  func(s *trafficPolicySpec) yaml.Node { return s.FaultInjection },
	"statPrefix":      func(s *trafficPolicySpec) yaml.Node { return s.StatPrefix },
	"hashPolicies":    func(s *trafficPolicySpec) yaml.Node { return s.HashPolicies },
	"ai":              func(s *trafficPolicySpec) yaml.Node { return s.AI },
}

// disables reports whether an access field is {disable: {}}: it turns
// off what a less specific attachment sets, and enforces nothing itself.
func disables(n yaml.Node) bool {
	return n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "disable"
}

// checkPolicy checks a TrafficPolicy on its own, as the API server does,
// translates its rbac, and reports what jwtgate does not serve.
func (d *document) checkPolicy() {
	sp := &d.tp.Spec
	if n := len(sp.TargetRefs); n > 16 {
		d.Errorf("spec.targetRefs", "at most 16 entries, got %d", n)
	}
	for i, r := range sp.TargetRefs {
		p := strictyaml.Index("spec.targetRefs", i)
		d.required(p, "name", r.Name != "")
		d.checkTargetKind(p, r.Group, r.Kind)
		if set(r.Namespace) {
			d.Warnf(strictyaml.Field(p, "namespace"), "not in the API (kgateway drops it): a TrafficPolicy targets resources of its own namespace, %s", d.Ref.Namespace)
		}
	}
	for i, s := range sp.TargetSelectors {
		p := strictyaml.Index("spec.targetSelectors", i)
		d.checkTargetKind(p, s.Group, s.Kind)
		d.required(p, "matchLabels", len(s.MatchLabels) > 0)
	}
	if len(sp.TargetRefs) == 0 && len(sp.TargetSelectors) == 0 && !d.Reported("spec.targetRefs") {
		d.Noted(model.ReasonTargetNotFound, "spec", "no targetRefs or targetSelectors: the policy attaches to nothing")
	}
	if j := sp.JWTAuth; j != nil && (j.ExtensionRef != nil) == set(j.Disable) {
		d.Errorf("spec.jwtAuth", "exactly one of extensionRef and disable is required")
	} else if j != nil && j.ExtensionRef != nil {
		d.required("spec.jwtAuth.extensionRef", "name", j.ExtensionRef.Name != "")
	}
	if sp.RBAC != nil {
		d.checkRBAC()
	}
	for _, f := range accessFields {
		n := f.node(sp)
		switch {
		case !set(n) || disables(n):
		case f.name == "jwt":
			d.NotServed("spec.jwt", "not in the API (kgateway drops it, and the routes stay open): JWT authentication is spec.jwtAuth {extensionRef}; failing closed, the routes this policy governs answer 403")
		default:
			d.NotServed("spec."+f.name, "jwtgate does not enforce %s: failing closed, the routes this policy governs answer 403", f.name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(trafficFields)) {
		if n := trafficFields[name](sp); set(n) {
			d.NotServed("spec."+name, "not applied by jwtgate")
		}
	}
}

// checkTargetKind checks a target's group and kind at path p.
func (d *document) checkTargetKind(p, group, kind string) {
	switch {
	case kind == "":
		d.required(p, "kind", false)
	case !slices.Contains(targetKinds[group], kind):
		d.Errorf(p, "invalid target %s (want a Gateway, HTTPRoute, GRPCRoute or ListenerSet of %s)", strings.TrimPrefix(kind+"."+group, "."), gatewayapi.Group)
	}
}

// level is how specific an attachment is: each wins over the ones
// before it.
type level int

const (
	levelGateway  level = iota // a Gateway
	levelListener              // a Gateway listener (sectionName)
	levelRoute                 // an HTTPRoute or a GRPCRoute
	levelRule                  // a route's rule (sectionName)
)

// target is a resource a TrafficPolicy attaches to, in its namespace.
type target struct {
	level               level
	kind, name, section string
	ns                  string
	path                string // the targetRef or targetSelector
}

// key identifies the target: what routes carry in their labels.
func (t target) key() string { return targetKey(t.kind, t.ns+"/"+t.name, t.section) }

func targetKey(kind, nsName, section string) string { return kind + " " + nsName + " " + section }

// desc is the target in model names: gateway/NAME[/SECTION],
// httproute/NAME[/SECTION] or grpcroute/NAME[/SECTION].
func (t target) desc() string {
	s := strings.ToLower(t.kind) + "/" + t.name
	if t.section != "" {
		s += "/" + t.section
	}
	return s
}

// selector is the route labels that name the target's routes.
func (t target) selector() map[string]string {
	nsn := t.ns + "/" + t.name
	switch t.level {
	case levelGateway:
		return map[string]string{gatewayapi.LabelGateway: nsn}
	case levelListener:
		return map[string]string{gatewayapi.LabelGateway: nsn, gatewayapi.LabelListener: t.section}
	case levelRoute:
		return map[string]string{routeLabels[t.kind]: nsn}
	}
	return map[string]string{routeLabels[t.kind]: nsn, gatewayapi.LabelRule: t.section}
}

// problem is why a target does not take a policy.
type problem struct{ reason, path, msg string }

// targets resolves a TrafficPolicy's targetRefs and targetSelectors to
// the targets it attaches to, noting every one that does not take it.
func (t *translator) targets(d *document) []target {
	var out []target
	var probs []problem
	ns := d.Ref.Namespace
	for i, r := range d.tp.Spec.TargetRefs {
		p := strictyaml.Index("spec.targetRefs", i)
		o, pr := t.lookup(r.Kind, ns, r.Name, p)
		if pr == nil {
			var tg target
			tg, pr = resolve(o, r.Kind, r.SectionName, p)
			if pr == nil {
				out = append(out, tg)
			}
		}
		if pr != nil {
			probs = append(probs, *pr)
		}
	}
	for i, s := range d.tp.Spec.TargetSelectors {
		p := strictyaml.Index("spec.targetSelectors", i)
		n := 0
		for _, o := range t.objects(s.Kind) {
			if o.Ref.Namespace != ns || !matches(o.Labels, s.MatchLabels) {
				continue
			}
			n++
			pr := t.usable(o, s.Kind, p)
			if pr == nil {
				var tg target
				tg, pr = resolve(o, s.Kind, s.SectionName, p)
				if pr == nil {
					out = append(out, tg)
					continue
				}
			}
			probs = append(probs, *pr)
		}
		if n == 0 && servedKind(s.Kind) {
			probs = append(probs, problem{model.ReasonTargetNotFound, p, fmt.Sprintf("no %s of namespace %s has the labels %s", s.Kind, ns, labelList(s.MatchLabels))})
		}
	}
	for _, pr := range probs {
		switch {
		case len(out) > 0 && pr.reason == model.ReasonNotSelected:
			// Aimed at another Gateway as well as at this one.
		case len(out) > 0:
			d.Noted(model.ReasonPartiallyAccepted, pr.path, "%s", pr.msg)
		case pr.reason == model.ReasonNotSelected:
			d.Note(pr.reason, "%s: %s", pr.path, pr.msg) // another Gateway's: no warning
		default:
			d.Noted(pr.reason, pr.path, "%s", pr.msg)
		}
	}
	return out
}

// objects are the Gateway API objects of a kind.
func (t *translator) objects(kind string) []gatewayapi.Object {
	switch {
	case t.view == nil:
		return nil
	case kind == kindGateway:
		return t.view.Gateways
	case kind == kindHTTPRoute:
		return t.view.HTTPRoutes
	case kind == kindGRPCRoute:
		return t.view.GRPCRoutes
	}
	return nil
}

// lookup finds the target kind ns/name at path p, or says why it does
// not take the policy: a kind jwtgate does not serve, a resource that
// does not exist (in the policy's namespace: one of another namespace is
// named, as kgateway ignores it silently), has errors, or is not served.
func (t *translator) lookup(kind, ns, name, p string) (gatewayapi.Object, *problem) {
	if !servedKind(kind) {
		return gatewayapi.Object{}, &problem{model.ReasonUnsupported, p, fmt.Sprintf("jwtgate serves Gateways, HTTPRoutes and GRPCRoutes only: nothing of kind %s takes this policy", kind)}
	}
	var elsewhere []string
	for _, o := range t.objects(kind) {
		switch {
		case o.Ref.Name != name:
		case o.Ref.Namespace == ns:
			return o, t.usable(o, kind, p)
		default:
			elsewhere = append(elsewhere, nsName(o.Ref))
		}
	}
	msg := fmt.Sprintf("no %s %q in namespace %s", kind, name, ns)
	if len(elsewhere) > 0 {
		msg += fmt.Sprintf(", the policy's own: a TrafficPolicy attaches only to resources of its namespace, and %s %s is in another (kgateway ignores such a policy without a word; jwtgate does not apply it either: create it in the target's namespace)", kind, strings.Join(elsewhere, ", "))
	}
	return gatewayapi.Object{}, &problem{model.ReasonTargetNotFound, p, msg}
}

// usable says why an existing target does not take the policy, or nil.
func (t *translator) usable(o gatewayapi.Object, kind, p string) *problem {
	switch {
	case !o.Valid:
		return &problem{model.ReasonTargetNotFound, p, fmt.Sprintf("%s %s has errors (see its status)", kind, nsName(o.Ref))}
	case o.Served:
		return nil
	case kind == kindGateway && t.view.Gateway != "":
		return &problem{model.ReasonNotSelected, p, fmt.Sprintf("not applied: jwtgate serves Gateway %s, not %s", t.view.Gateway, nsName(o.Ref))}
	case kind == kindGateway:
		return &problem{model.ReasonNotSelected, p, fmt.Sprintf("not applied: Gateway %s is not served (see its status)", nsName(o.Ref))}
	}
	return &problem{model.ReasonNotSelected, p, fmt.Sprintf("not applied: %s %s is not served (see its status)", kind, nsName(o.Ref))}
}

// resolve makes the target of the object o and a sectionName (a
// Gateway's listener, a route's rule).
func resolve(o gatewayapi.Object, kind string, section *string, p string) (target, *problem) {
	tg := target{kind: kind, ns: o.Ref.Namespace, name: o.Ref.Name, path: p, level: levelGateway}
	if kind != kindGateway {
		tg.level = levelRoute
	}
	if section == nil {
		return tg, nil
	}
	if !slices.Contains(o.Sections, *section) {
		what := "listener"
		if kind != kindGateway {
			what = "rule"
		}
		return tg, &problem{model.ReasonTargetNotFound, strictyaml.Field(p, "sectionName"), fmt.Sprintf("%s %s has no %s named %q", kind, nsName(o.Ref), what, *section)}
	}
	tg.section = *section
	tg.level++
	return tg, nil
}

// matches reports whether labels hold every key and value of sel.
func matches(labels, sel map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// labelList is "{a: b, c: d}".
func labelList(m map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		kv = append(kv, k+": "+m[k])
	}
	return "{" + strings.Join(kv, ", ") + "}"
}
