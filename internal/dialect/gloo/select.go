package gloo

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// howToChoose is the advice given when the gateway to serve is unclear.
const howToChoose = "choose one with serve --gateway NS/NAME, or --workload-namespace NS --workload-labels k=v,... " +
	"(the labels its workloads selector names), or the glue document's gateway or workload keys"

// choose decides what jwtgate serves:
//
//   - with a selection's gateway "NS/NAME" (or "NAME"): that
//     VirtualGateway;
//   - else, with a selection's workload (namespace, labels): the
//     VirtualGateway one of whose workloads selectors names labels or a
//     namespace and matches the workload; when none does, the workload
//     is a sidecar and jwtgate serves its mesh route tables;
//   - with no selection: the only VirtualGateway in the files; mesh
//     route tables are then served by nobody (NotSelected).
//
// Several VirtualGateways and no selection, or a selection that names a
// VirtualGateway that is not there, or that matches several, is an
// error, and no route table is served. Every VirtualGateway not chosen
// gets the status NotSelected.
func (t *translator) choose() model.Issues {
	s := t.s
	var gws []*document
	for _, d := range s.docs {
		if d.vg != nil && !d.dup {
			gws = append(gws, d)
		}
	}
	var msg, why string
	sel := s.sel
	switch {
	case sel.Gateway != "":
		var match []*document
		for _, d := range gws {
			if gatewayNamed(d, sel.Gateway) {
				match = append(match, d)
			}
		}
		switch len(match) {
		case 1:
			t.gw = match[0]
		case 0:
			if len(gws) == 0 {
				break // the gateway is another dialect's
			}
			msg = fmt.Sprintf("no VirtualGateway %s in the files (they hold %s)", sel.Gateway, list(gws))
			why = "it is not the selected gateway " + sel.Gateway
		default:
			msg = fmt.Sprintf("%d VirtualGateways are named %s: %s; give NAMESPACE/NAME", len(match), sel.Gateway, list(match))
			why = fmt.Sprintf("%d gateways are named %s, and jwtgate serves one", len(match), sel.Gateway)
		}
	case sel.WorkloadNamespace != "" || len(sel.WorkloadLabels) > 0:
		var match []*document
		for _, d := range gws {
			if selectsGateway(d.vg.Spec.Workloads, sel) {
				match = append(match, d)
			}
		}
		switch len(match) {
		case 0:
			t.mesh = true
			why = "the selected workload (" + describeSelection(sel) + ") is none of its gateway workloads"
		case 1:
			t.gw = match[0]
		default:
			msg = fmt.Sprintf("%d VirtualGateways select the workload (%s): %s; narrow the selection or give --gateway", len(match), describeSelection(sel), list(match))
			why = fmt.Sprintf("%d gateways select the workload (%s), and jwtgate serves one", len(match), describeSelection(sel))
		}
	case len(gws) == 1:
		t.gw = gws[0]
	case len(gws) > 1:
		msg = fmt.Sprintf("the files hold %d VirtualGateways (%s) and none is selected: %s", len(gws), list(gws), howToChoose)
		why = fmt.Sprintf("the files hold %d gateways and none is selected", len(gws))
	}
	var issues model.Issues
	if msg != "" {
		t.failed = true
		issues = append(issues, model.Issue{Severity: model.Error, Origin: model.Origin{File: gws[0].File, Line: gws[0].Line}, Msg: msg})
	}
	for _, d := range gws {
		switch {
		case d == t.gw:
		case t.gw != nil:
			d.Note(model.ReasonNotSelected, "not served: jwtgate serves VirtualGateway %q, chosen by %s", t.gw.Name(), chosenBy(sel))
		default:
			d.Note(model.ReasonNotSelected, "not served: %s", why)
		}
	}
	return issues
}

// gatewayNamed reports whether the VirtualGateway d is the gateway
// "NS/NAME" or "NAME" names.
func gatewayNamed(d *document, g string) bool {
	ns, name, ok := strings.Cut(g, "/")
	if !ok {
		ns, name = "", g
	}
	return name == d.Ref.Name && (ns == "" || ns == d.Ref.Namespace)
}

// selectsGateway reports whether a VirtualGateway's workloads select the
// workload sel describes, by a selector that names labels or a
// namespace (one that names neither selects every gateway workload, and
// so does not tell a gateway from a sidecar). The selector's name,
// cluster and workspace are not checked: jwtgate does not know its
// Service's name, its cluster or its workspace.
func selectsGateway(ws []workloadSelector, sel dialect.Selection) bool {
	for _, w := range ws {
		o := w.Selector
		if o == nil || (len(o.Labels) == 0 && o.Namespace == "") || (w.Kind != "" && !strings.EqualFold(w.Kind, "KUBE")) {
			continue
		}
		if o.Namespace != "" && o.Namespace != sel.WorkloadNamespace {
			continue
		}
		if len(o.Labels) > 0 && !model.Labels(sel.WorkloadLabels).Matches(o.Labels) {
			continue
		}
		return true
	}
	return false
}

// chosenBy says what chose the gateway.
func chosenBy(sel dialect.Selection) string {
	if sel.Set() {
		return "the selection (" + describeSelection(sel) + ")"
	}
	return "being the only VirtualGateway in the files"
}

// describeSelection spells the selection, whether the flags or the
// configuration's gateway and workload keys made it.
func describeSelection(sel dialect.Selection) string {
	var parts []string
	if sel.Gateway != "" {
		parts = append(parts, "gateway "+sel.Gateway)
	}
	if sel.WorkloadNamespace != "" {
		parts = append(parts, "workload namespace "+sel.WorkloadNamespace)
	}
	if len(sel.WorkloadLabels) > 0 {
		parts = append(parts, "workload labels "+labelString(sel.WorkloadLabels))
	}
	return strings.Join(parts, ", ")
}

// labelString is k=v,k=v in key order.
func labelString(l map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		kv = append(kv, k+"="+l[k])
	}
	return strings.Join(kv, ",")
}

// list names VirtualGateways.
func list(gws []*document) string {
	if len(gws) == 0 {
		return "none"
	}
	var out []string
	for _, d := range gws {
		out = append(out, "VirtualGateway "+d.Name())
	}
	return strings.Join(out, ", ")
}

// meshSelected reports whether the route table d, which names no
// VirtualGateway, serves the sidecar of the selected workload, and if
// not, why. Gloo selects source workloads by labels only: a
// workloadSelector that names a name, namespace, cluster or workspace,
// or kind VM, selects nothing here (reported: Gloo refuses it). No
// workloadSelectors selects every workload.
func (t *translator) meshSelected(d *document) (bool, string) {
	ws := d.rt.Spec.WorkloadSelectors
	if len(ws) == 0 {
		return true, ""
	}
	for i, w := range ws {
		p := strictyaml.Index("spec.workloadSelectors", i)
		if w.Kind != "" && !strings.EqualFold(w.Kind, "KUBE") {
			d.NotServed(strictyaml.Field(p, "kind"), "selects nothing: jwtgate stands for Kubernetes workloads (kind KUBE)")
			continue
		}
		o := w.Selector
		if o == nil {
			return true, ""
		}
		if o.Name != "" || o.Namespace != "" || o.Cluster != "" || o.Workspace != "" {
			d.NotServed(strictyaml.Field(p, "selector"), "selects nothing: Gloo selects source workloads by labels only (name, namespace, cluster and workspace must be empty)")
			continue
		}
		if model.Labels(t.s.sel.WorkloadLabels).Matches(o.Labels) {
			return true, ""
		}
	}
	return false, "its workloadSelectors do not select the workload jwtgate stands for (" + describeSelection(t.s.sel) + ")"
}

// objectMatches reports whether an ObjectSelector selects an object of
// namespace ns, name name and labels labels. Its cluster and workspace
// are not checked (see checkScope).
func objectMatches(o *objectSelector, ns, name string, labels map[string]string) bool {
	if o == nil {
		return true
	}
	return (o.Namespace == "" || o.Namespace == ns) && (o.Name == "" || o.Name == name) && model.Labels(labels).Matches(o.Labels)
}

// checkScope reports a selector's cluster and workspace, which jwtgate
// cannot check: it reads no Workspaces and knows no clusters, every
// resource in the files is taken to be in one workspace of one cluster.
// The selector is applied without them.
func (d *document) checkScope(path, cluster, workspace string) {
	if cluster != "" {
		d.NotServed(strictyaml.Field(path, "cluster"), "not checked: jwtgate knows no clusters (the files are one cluster); the selector is applied without it")
	}
	if workspace != "" {
		d.NotServed(strictyaml.Field(path, "workspace"), "not checked: jwtgate reads no workspaces (the files are one workspace); the selector is applied without it")
	}
}
