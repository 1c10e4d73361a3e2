package envoygateway

import (
	"slices"

	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// checkSelector checks one targetSelectors entry at path.
func (d *document) checkSelector(s targetSelector, path string) {
	f := func(k string) string { return strictyaml.Field(path, k) }
	if s.Group != nil && *s.Group != gatewayAPIGroup {
		d.Errorf(f("group"), "invalid group %q: targets are Gateway API resources (group %s)", *s.Group, gatewayAPIGroup)
	}
	if s.Kind == "" {
		if !d.Reported(f("kind")) {
			d.Errorf(path, "missing required field %q", "kind")
		}
	} else {
		d.checkKind(s.Kind, f("kind"))
	}
	for i, r := range s.MatchExpressions {
		rp := strictyaml.Index(f("matchExpressions"), i)
		switch r.Operator {
		case "In", "NotIn":
			if len(r.Values) == 0 {
				d.Errorf(rp, "operator %s needs values", r.Operator)
			}
		case "Exists", "DoesNotExist":
			if len(r.Values) > 0 {
				d.Errorf(rp+".values", "operator %s takes no values", r.Operator)
			}
		default:
			d.Errorf(rp+".operator", "invalid operator %q (want In, NotIn, Exists or DoesNotExist)", r.Operator)
		}
		if r.Key == "" && !d.Reported(rp+".key") {
			d.Errorf(rp, "missing required field %q", "key")
		}
	}
	if ns := s.Namespaces; ns != nil && ns.From != nil {
		switch *ns.From {
		case "Same", "All":
		case "Selector":
			// Choosing namespaces by their labels needs the Namespace
			// objects, which jwtgate does not read; choosing none would
			// leave the targets unprotected.
			d.Errorf(f("namespaces.from"), "from: Selector is not supported: jwtgate does not read the labels of Namespaces; use Same, or All with ReferenceGrants")
		default:
			d.Errorf(f("namespaces.from"), "invalid from %q (want Same, All or Selector)", *ns.From)
		}
	}
}

// selectTargets adds the targets d's selectors choose among the
// Gateways, HTTPRoutes and GRPCRoutes of the load: of the policy's
// namespace, or (namespaces.from All) of any namespace whose
// ReferenceGrants let SecurityPolicies of the policy's namespace target
// them.
func (t *translator) selectTargets(d *document) {
	for i, s := range d.obj.Spec.TargetSelectors {
		path := strictyaml.Index("spec.targetSelectors", i)
		if slices.Contains(unservedKinds, s.Kind) {
			d.Warnf(path, "selects nothing: jwtgate does not serve %ss", s.Kind)
			continue
		}
		if t.view == nil {
			continue
		}
		objs := t.objects(s.Kind)
		all := s.Namespaces != nil && s.Namespaces.From != nil && *s.Namespaces.From == "All"
		for _, o := range objs {
			if !s.matches(o.Labels) || (o.Ref.Namespace != d.Ref.Namespace && !all) {
				continue
			}
			if !t.view.Permits(Group, KindSecurityPolicy, d.Ref.Namespace, gatewayAPIGroup, s.Kind, o.Ref.Namespace, o.Ref.Name) {
				d.Warnf(path, "%s %s/%s is not selected: no ReferenceGrant in namespace %s lets SecurityPolicies of namespace %s target it",
					s.Kind, o.Ref.Namespace, o.Ref.Name, o.Ref.Namespace, d.Ref.Namespace)
				continue
			}
			d.addTarget(&target{doc: d, path: path, kind: s.Kind, ns: o.Ref.Namespace, name: o.Ref.Name})
		}
	}
}

// matches reports whether labels satisfy the selector's matchLabels and
// matchExpressions (all of them; none matches everything).
func (s targetSelector) matches(labels map[string]string) bool {
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		v, ok := labels[r.Key]
		switch r.Operator {
		case "In":
			if !ok || !slices.Contains(r.Values, v) {
				return false
			}
		case "NotIn":
			if ok && slices.Contains(r.Values, v) {
				return false
			}
		case "Exists":
			if !ok {
				return false
			}
		case "DoesNotExist":
			if ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}
