package istio

import (
	"maps"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// The targetRef kinds Istio allows, by group.
const (
	gatewayAPIGroup = "gateway.networking.k8s.io"
	networkingGroup = "networking.istio.io"
)

// attachment returns the document's selector and targets.
func (d *document) attachment() *attachment {
	if d.ra != nil {
		return &d.ra.Spec.attachment
	}
	return &d.ap.Spec.attachment
}

// targets returns the document's targetRef or targetRefs, with the path
// of each.
func (d *document) targets() ([]targetRef, []string) {
	at := d.attachment()
	if at.TargetRef != nil {
		return []targetRef{*at.TargetRef}, []string{"spec.targetRef"}
	}
	var paths []string
	for i := range at.TargetRefs {
		paths = append(paths, strictyaml.Index("spec.targetRefs", i))
	}
	return at.TargetRefs, paths
}

// checkAttachment checks the selector and targets on their own, as
// Istio's validation does.
func (d *document) checkAttachment(at *attachment) {
	n := 0
	for _, set := range []bool{at.Selector != nil || d.Has("spec.selector"), at.TargetRef != nil, len(at.TargetRefs) > 0} {
		if set {
			n++
		}
	}
	if n > 1 {
		d.Errorf("spec", "give at most one of selector, targetRef and targetRefs")
	}
	if at.Selector != nil {
		for _, k := range slices.Sorted(maps.Keys(at.Selector.MatchLabels)) {
			if strings.Contains(k, "*") || strings.Contains(at.Selector.MatchLabels[k], "*") {
				d.Errorf(strictyaml.Key("spec.selector.matchLabels", k), "a label selector takes no wildcard")
			}
		}
	}
	refs, paths := d.targets()
	for i, r := range refs {
		p := paths[i]
		switch {
		case r.Kind == "" || r.Name == "":
			for _, f := range []string{"kind", "name"} {
				if (f == "kind" && r.Kind == "" || f == "name" && r.Name == "") && !d.Reported(strictyaml.Field(p, f)) {
					d.Errorf(p, "missing required field %q", f)
				}
			}
			continue
		case r.Namespace != "" && r.Namespace != d.Ref.Namespace:
			d.Errorf(strictyaml.Field(p, "namespace"), "cross-namespace targets are not allowed: leave namespace out (the policy's own, %s)", d.Ref.Namespace)
		}
		switch targetKind(r) {
		case "Gateway", "Service", "ServiceEntry":
		case "GatewayClass":
			if d.Ref.Namespace != RootNamespace {
				d.Errorf(p, "a GatewayClass is targeted from the root namespace %s only", RootNamespace)
			}
		default:
			d.Errorf(p, "unsupported target: group %q kind %q (want group %s kind Gateway or GatewayClass, kind Service, or group %s kind ServiceEntry)",
				r.Group, r.Kind, gatewayAPIGroup, networkingGroup)
		}
	}
}

// targetKind names a target's kind when its group is the one Istio
// allows for it, and "" otherwise.
func targetKind(r targetRef) string {
	switch {
	case r.Group == gatewayAPIGroup && (r.Kind == "Gateway" || r.Kind == "GatewayClass"):
		return r.Kind
	case (r.Group == "" || r.Group == "core") && r.Kind == "Service":
		return r.Kind
	case r.Group == networkingGroup && r.Kind == "ServiceEntry":
		return r.Kind
	}
	return ""
}

// workloadNamespace is the namespace of the workload jwtgate stands for:
// the selection's, else the named gateway's, else the namespace of the
// Istio Gateway served as the only one in the files, else "default".
func (s *session) workloadNamespace() string {
	if ns := s.sel.WorkloadNamespace; ns != "" {
		return ns
	}
	if ns, _, ok := strings.Cut(s.sel.Gateway, "/"); ok && ns != "" {
		return ns
	}
	if s.derivedNS != "" {
		return s.derivedNS
	}
	return model.DefaultNamespace
}

// workloadLabels are the labels of the workload jwtgate stands for: the
// selection's, else the selectors of the Istio Gateways it serves (see
// choose).
func (s *session) workloadLabels() map[string]string {
	if len(s.sel.WorkloadLabels) > 0 {
		return s.sel.WorkloadLabels
	}
	return s.derived
}

// attach decides whether the document applies to the workload jwtgate
// stands for, and records why when it does not:
//
//   - with targets, when one of them is the Gateway API gateway the
//     selection names (its namespace is the policy's own); targets of
//     other kinds (Service, ServiceEntry, GatewayClass) are not
//     supported, and a policy aimed only at them is not enforced;
//   - otherwise, when the document is in the workload's namespace or in
//     the root namespace (mesh-wide), and its selector's labels, if any,
//     are all among the workload's labels.
func (s *session) attach(d *document) bool {
	refs, _ := d.targets()
	if len(refs) > 0 {
		var gateways, others []string
		for _, r := range refs {
			name := d.Ref.Namespace + "/" + r.Name
			if targetKind(r) != "Gateway" {
				others = append(others, r.Kind+" "+name)
				continue
			}
			if s.isGateway(name) {
				return true
			}
			gateways = append(gateways, "Gateway "+name)
		}
		if len(gateways) == 0 {
			d.Note(model.ReasonUnsupported, "not enforced: it targets %s, and jwtgate applies policies that target the Gateway API gateway it stands for, or select its workload", strings.Join(others, ", "))
			return false
		}
		stands := "no gateway (choose one with --gateway NAMESPACE/NAME or the glue document's gateway key)"
		if s.sel.Gateway != "" {
			stands = "gateway " + s.sel.Gateway
		}
		d.Note(model.ReasonNotSelected, "not applied: it targets %s, and jwtgate stands for %s", strings.Join(append(gateways, others...), ", "), stands)
		return false
	}
	ns := s.workloadNamespace()
	if d.Ref.Namespace != ns && d.Ref.Namespace != RootNamespace {
		d.Note(model.ReasonNotSelected, "not applied: it applies to workloads of namespace %s, and jwtgate stands for a workload of namespace %s (the root namespace %s applies to every workload)",
			d.Ref.Namespace, ns, RootNamespace)
		return false
	}
	if sel := d.attachment().Selector; sel != nil && !model.Labels(s.workloadLabels()).Matches(sel.MatchLabels) {
		have := "none given: --workload-labels or the glue document's workload.labels"
		if l := s.workloadLabels(); len(l) > 0 {
			have = labelString(l)
		}
		d.Note(model.ReasonNotSelected, "not applied: its selector %s is not among the workload's labels (%s)", labelString(sel.MatchLabels), have)
		return false
	}
	return true
}

// isGateway reports whether the selection names the gateway ns/name
// (or, naming no namespace, its name).
func (s *session) isGateway(nsName string) bool {
	g := s.sel.Gateway
	if g == "" {
		return false
	}
	if !strings.Contains(g, "/") {
		_, name, _ := strings.Cut(nsName, "/")
		return g == name
	}
	return g == nsName
}

// labelString is k=v,k=v in key order.
func labelString(l map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		kv = append(kv, k+"="+l[k])
	}
	return strings.Join(kv, ",")
}
