package gatewayapi

import (
	"fmt"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// howToChoose is the advice given when the Gateway to serve is unclear.
const howToChoose = "choose one with serve --gateway NAMESPACE/NAME (or the gateway key of a jwtgate Config document)"

// choose picks the Gateway jwtgate serves:
//
//   - with a selection's gateway "NS/NAME" (or "NAME" alone), the Gateway
//     of that namespace and name;
//   - with none, the only Gateway in the files.
//
// A selection's workload (namespace, labels) does not choose among
// Gateways: they have no workload selector. Several Gateways and no
// selection, or a name alone that fits Gateways of several namespaces,
// is an error, and none is served. A selection that names no Gateway of
// this API is only a warning (it may name another vendor's gateway).
// Every Gateway not chosen gets the status NotSelected.
func (s *session) choose() (*document, model.Issues) {
	var gws []*document
	for _, d := range s.docs {
		if d.gateway != nil {
			gws = append(gws, d)
		}
	}
	if len(gws) == 0 {
		return nil, nil
	}
	var chosen *document
	var issues model.Issues
	first := model.Origin{File: gws[0].File, Line: gws[0].Line}
	why := ""
	switch g := s.sel.Gateway; {
	case g != "":
		ns, name, ok := strings.Cut(g, "/")
		if !ok {
			ns, name = "", g
		}
		var match []*document
		for _, d := range gws {
			if d.Ref.Name == name && (ns == "" || d.Ref.Namespace == ns) {
				match = append(match, d)
			}
		}
		switch len(match) {
		case 1:
			chosen = match[0]
		case 0:
			why = "jwtgate serves the gateway " + g + " (the selection)"
			issues = append(issues, model.Issue{Severity: model.Warning, Origin: first,
				Msg: fmt.Sprintf("no Gateway is %s (the selection); the files hold %s, and none of them is served", g, list(gws))})
		default:
			why = fmt.Sprintf("%d Gateways are named %s, and jwtgate serves one", len(match), g)
			issues = append(issues, model.Issue{Severity: model.Error, Origin: first,
				Msg: fmt.Sprintf("%d Gateways are named %s: %s; give the namespace too (--gateway NAMESPACE/NAME)", len(match), g, list(match))})
		}
	case len(gws) == 1:
		chosen = gws[0]
	default:
		why = fmt.Sprintf("the files hold %d Gateways and none is selected", len(gws))
		issues = append(issues, model.Issue{Severity: model.Error, Origin: first,
			Msg: fmt.Sprintf("the files hold %d Gateways (%s) and none is selected: %s", len(gws), list(gws), howToChoose)})
	}
	for _, d := range gws {
		switch {
		case d == chosen:
		case chosen != nil:
			d.Note(model.ReasonNotSelected, "not served: jwtgate serves Gateway %s, chosen by %s", nsName(chosen.Ref), s.chosenBy())
		default:
			d.Note(model.ReasonNotSelected, "not served: %s", why)
		}
	}
	return chosen, issues
}

// chosenBy says what chose the Gateway.
func (s *session) chosenBy() string {
	if s.sel.Gateway != "" {
		return "the selection (gateway " + s.sel.Gateway + ")"
	}
	return "being the only Gateway in the files"
}

// list names Gateways: "Gateway ns/a, Gateway ns/b".
func list(gws []*document) string {
	out := make([]string, len(gws))
	for i, d := range gws {
		out[i] = "Gateway " + nsName(d.Ref)
	}
	return strings.Join(out, ", ")
}
