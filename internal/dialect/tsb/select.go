package tsb

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
)

// howToChoose is the advice given when the gateway to serve is unclear.
const howToChoose = "choose one with serve --workload-namespace NS --workload-labels k=v,... (the gateway's workloadSelector), " +
	"or --gateway NS/NAME, or the glue document's workload or gateway keys"

// choose picks the gateway jwtgate serves among the Gateways and
// EgressGateways read:
//
//   - with a selection's workload (namespace, labels), the gateway whose
//     workloadSelector.namespace is that namespace and whose
//     workloadSelector.labels are all among those labels;
//   - with a selection's gateway "NS/NAME" (or "NAME"), the gateway of
//     that namespace (as its Ref has it) and name;
//   - with both, the gateway that meets both;
//   - with no selection, the only gateway in the files.
//
// Anything else (no gateway or several match, several gateways and no
// selection) is an error, and no gateway is served. Every gateway not
// chosen gets the status NotSelected.
func (s *session) choose() (*document, model.Issues) {
	var gws []*document
	for _, d := range s.docs {
		if d.isGateway() {
			gws = append(gws, d)
		}
	}
	if len(gws) == 0 {
		return nil, nil
	}
	var chosen *document
	var msg, why string
	switch {
	case s.sel.Set():
		var match []*document
		for _, d := range gws {
			if s.selects(d) {
				match = append(match, d)
			}
		}
		switch len(match) {
		case 1:
			chosen = match[0]
		case 0:
			msg = fmt.Sprintf("no TSB gateway matches the selection (%s); the files hold %s", describeSelection(s.sel), list(gws))
			why = "it does not match the selection (" + describeSelection(s.sel) + ")"
		default:
			msg = fmt.Sprintf("%d TSB gateways match the selection (%s): %s; narrow the selection", len(match), describeSelection(s.sel), list(match))
			why = fmt.Sprintf("%d gateways match the selection (%s), and jwtgate serves one", len(match), describeSelection(s.sel))
		}
	case len(gws) == 1:
		chosen = gws[0]
	default:
		msg = fmt.Sprintf("the files hold %d TSB gateways (%s) and none is selected: %s", len(gws), list(gws), howToChoose)
		why = fmt.Sprintf("the files hold %d gateways and none is selected", len(gws))
	}
	var issues model.Issues
	if chosen == nil {
		issues = append(issues, model.Issue{Severity: model.Error, Origin: model.Origin{File: gws[0].File, Line: gws[0].Line}, Msg: msg})
	}
	for _, d := range gws {
		switch {
		case d == chosen:
		case chosen != nil:
			d.Note(model.ReasonNotSelected, "not served: jwtgate serves %s %q, chosen by %s", chosen.Ref.Kind, chosen.Ref.Namespace+"/"+chosen.Ref.Name, chosenBy(s.sel))
		default:
			d.Note(model.ReasonNotSelected, "not served: %s", why)
		}
	}
	return chosen, issues
}

// selects reports whether the gateway d meets the selection.
func (s *session) selects(d *document) bool {
	if g := s.sel.Gateway; g != "" {
		ns, name, ok := strings.Cut(g, "/")
		if !ok {
			ns, name = "", g
		}
		if name != d.Ref.Name || (ns != "" && ns != d.Ref.Namespace) {
			return false
		}
	}
	if s.sel.WorkloadNamespace == "" && len(s.sel.WorkloadLabels) == 0 {
		return true
	}
	ws := d.selector()
	if ws == nil {
		return false
	}
	if s.sel.WorkloadNamespace != "" && ws.Namespace != s.sel.WorkloadNamespace {
		return false
	}
	// The workload's labels, when given, must hold every label the
	// selector asks for; a namespace alone checks only the namespace.
	return len(s.sel.WorkloadLabels) == 0 || model.Labels(s.sel.WorkloadLabels).Matches(ws.Labels)
}

// chosenBy says what chose the gateway.
func chosenBy(sel dialect.Selection) string {
	if sel.Set() {
		return "the selection (" + describeSelection(sel) + ")"
	}
	return "being the only gateway in the files"
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

// list names gateways with their workload selectors.
func list(gws []*document) string {
	var out []string
	for _, d := range gws {
		s := fmt.Sprintf("%s %s", d.Ref.Kind, d.Ref.Namespace+"/"+d.Ref.Name)
		if ws := d.selector(); ws != nil {
			s += fmt.Sprintf(" (workloadSelector namespace %s, labels %s)", ws.Namespace, labelString(ws.Labels))
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}
