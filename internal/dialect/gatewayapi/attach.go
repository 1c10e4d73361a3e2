package gatewayapi

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// translator turns the chosen Gateway and the HTTPRoutes and GRPCRoutes
// attached to it into model listeners and routes.
type translator struct {
	s      *session
	gw     *document // nil when no Gateway is served
	out    *model.Config
	grants *grantIndex

	gwListeners []*gwListener // every listener of the Gateway, in spec order
	ports       []*portGroup  // served listeners by port, in order of first use
}

// attachment is where one parentRef of a route attaches.
type attachment struct {
	gl *gwListener
	// hosts are the request hostnames the route serves on the listener,
	// each with the route hostname it came from ("" for none).
	hosts []hostPair
}

// hostPair is one hostname the route and a listener both accept (""
// for any), and the route's own hostname that produced it.
type hostPair struct{ host, original string }

// parentOutcome is what became of one parentRef.
type parentOutcome int

const (
	parentElsewhere   parentOutcome = iota // another Gateway's
	parentUnsupported                      // a kind jwtgate does not attach to
	parentRefused                          // ours, and no listener takes the route
	parentAttached                         // ours, attached to at least one listener
)

// attach attaches an HTTPRoute or a GRPCRoute to the listeners of the
// served Gateway its parentRefs name, translates its rules into route
// candidates on each listener, and records its status.
func (t *translator) attach(d *document) {
	if d.HasErrors {
		return // refused: its status is its errors
	}
	sp := d.common()
	if v := sp.UseDefaultGateways; v != nil && *v != "None" && *v != "" {
		d.NotServed("spec.useDefaultGateways", "default Gateways are not supported: the route attaches through its parentRefs only")
	}
	var atts []attachment
	var outcomes []parentOutcome
	var elsewhere []string
	type refusal struct{ path, msg string }
	var refused []refusal
	for i, pr := range sp.ParentRefs {
		p := strictyaml.Index("spec.parentRefs", i)
		o, as, msg := t.parent(d, pr, p)
		outcomes = append(outcomes, o)
		switch o {
		case parentElsewhere:
			elsewhere = append(elsewhere, msg)
		case parentUnsupported:
			d.Noted(model.ReasonPartiallyAccepted, p, "%s", msg)
		case parentRefused:
			refused = append(refused, refusal{p, msg})
		case parentAttached:
			for _, a := range as {
				atts = mergeAttachment(atts, a)
			}
		}
	}
	// A parentRef of the served Gateway that attaches nowhere: the route
	// is served narrower than written when another one attaches, and not
	// at all otherwise.
	reason := model.ReasonPartiallyAccepted
	if len(atts) == 0 {
		reason = model.ReasonTargetNotFound
	}
	for _, r := range refused {
		d.Noted(reason, r.path, "%s", r.msg)
	}
	if len(atts) == 0 {
		t.notAttached(d, outcomes, elsewhere)
		return
	}
	var rules []*ruleOut
	if d.grpc != nil {
		rules = t.grpcRules(d) // grpcroute.go
	} else {
		rules = t.rules(d)
	}
	if d.HasErrors {
		return
	}
	for _, a := range atts {
		for _, r := range rules {
			t.candidates(d, a, r)
		}
		a.gl.attached = append(a.gl.attached, a.routeOn(d))
	}
}

// notAttached sets the status of a route attached to no listener: its
// notes already say why for the parentRefs of the served Gateway; a route
// whose parentRefs all name other Gateways is NotSelected.
func (t *translator) notAttached(d *document, outcomes []parentOutcome, elsewhere []string) {
	refused, unsupported := false, false
	for _, o := range outcomes {
		refused = refused || o == parentRefused
		unsupported = unsupported || o == parentUnsupported
	}
	switch {
	case refused:
		// TargetNotFound notes say why.
	case unsupported:
		d.Note(model.ReasonUnsupported, "not served: none of its parentRefs is a Gateway listener jwtgate serves")
	case len(outcomes) == 0:
		d.Note(model.ReasonNotSelected, "not served: it has no parentRefs")
	default:
		d.Note(model.ReasonNotSelected, "not served: %s", strings.Join(elsewhere, "; "))
	}
}

// mergeAttachment adds a to atts, merging the hostnames of a listener
// reached twice (by two parentRefs).
func mergeAttachment(atts []attachment, a attachment) []attachment {
	for i := range atts {
		if atts[i].gl == a.gl {
			for _, h := range a.hosts {
				atts[i].hosts = addHost(atts[i].hosts, h)
			}
			return atts
		}
	}
	return append(atts, a)
}

// addHost adds a hostname, keeping for a hostname reached twice the most
// specific route hostname it came from.
func addHost(hs []hostPair, h hostPair) []hostPair {
	for i := range hs {
		if hs[i].host == h.host {
			if rankHost(h.original).compare(rankHost(hs[i].original)) < 0 {
				hs[i].original = h.original
			}
			return hs
		}
	}
	return append(hs, h)
}

// parent resolves one parentRef at path p: where it attaches, or why not.
func (t *translator) parent(d *document, pr parentRef, p string) (parentOutcome, []attachment, string) {
	group, kind := deref(pr.Group, Group), deref(pr.Kind, KindGateway)
	ns := deref(pr.Namespace, d.Ref.Namespace)
	if group != Group || kind != KindGateway {
		what := kind
		if kind == "Service" && group == "" {
			what = "Service (mesh routing, GAMMA)"
		}
		return parentUnsupported, nil, fmt.Sprintf("not attached: parents of kind %s are not supported, only Gateways", what)
	}
	name := ns + "/" + pr.Name
	switch {
	case t.gw == nil && !t.s.hasGateway():
		return parentElsewhere, nil, fmt.Sprintf("it names Gateway %s, and the files hold no Gateway", name)
	case t.gw == nil:
		return parentElsewhere, nil, fmt.Sprintf("it names Gateway %s, and no Gateway is served (see the Gateways' status)", name)
	case name != nsName(t.gw.Ref):
		return parentElsewhere, nil, fmt.Sprintf("it names Gateway %s, and jwtgate serves Gateway %s", name, nsName(t.gw.Ref))
	case t.gw.HasErrors:
		return parentRefused, nil, fmt.Sprintf("Accepted=False: Gateway %s has errors (see its status)", name)
	}
	var reach []*gwListener
	for _, gl := range t.gwListeners {
		if (pr.SectionName == nil || *pr.SectionName == gl.spec.Name) && (pr.Port == nil || *pr.Port == gl.spec.Port) {
			reach = append(reach, gl)
		}
	}
	if len(reach) == 0 {
		var want []string
		if pr.SectionName != nil {
			want = append(want, fmt.Sprintf("named %q", *pr.SectionName))
		}
		if pr.Port != nil {
			want = append(want, fmt.Sprintf("on port %d", *pr.Port))
		}
		return parentRefused, nil, fmt.Sprintf("Accepted=False NoMatchingParent: Gateway %s has no listener %s", name, strings.Join(want, " "))
	}
	var atts []attachment
	var why []string
	reason := ""
	for _, gl := range reach {
		a, r, msg := t.listenerTakes(d, gl)
		if r == "" {
			atts = append(atts, a)
			continue
		}
		if reason == "" || r == "NotAllowedByListeners" {
			reason = r
		}
		why = append(why, msg)
	}
	if len(atts) == 0 {
		return parentRefused, nil, fmt.Sprintf("Accepted=False %s: %s", reason, strings.Join(why, "; "))
	}
	return parentAttached, atts, ""
}

// hasGateway reports whether the files hold a Gateway.
func (s *session) hasGateway() bool {
	for _, d := range s.docs {
		if d.gateway != nil {
			return true
		}
	}
	return false
}

// listenerTakes checks whether the listener gl takes the route: served,
// its allowedRoutes, and a hostname in common. It returns the attachment,
// or the API's reason and a message.
func (t *translator) listenerTakes(d *document, gl *gwListener) (attachment, string, string) {
	name := gl.spec.Name
	if !gl.served || gl.group == nil {
		return attachment{}, "NoMatchingParent", fmt.Sprintf("listener %q is not served (see the Gateway's status)", name)
	}
	if !gl.allows(d.kind) {
		return attachment{}, "NotAllowedByListeners", fmt.Sprintf("listener %q does not allow %ss (allowedRoutes)", name, d.kind)
	}
	if ok, why := t.namespaceAllowed(gl, d.Ref.Namespace); !ok {
		return attachment{}, "NotAllowedByListeners", fmt.Sprintf("listener %q %s", name, why)
	}
	a := attachment{gl: gl}
	hosts := d.common().Hostnames
	if len(hosts) == 0 {
		a.hosts = []hostPair{{host: gl.hostname}}
		return a, "", ""
	}
	for _, h := range hosts {
		if x, ok := intersect(gl.hostname, h); ok {
			a.hosts = addHost(a.hosts, hostPair{host: x, original: h})
		}
	}
	if len(a.hosts) == 0 {
		return attachment{}, "NoMatchingListenerHostname", fmt.Sprintf("listener %q accepts hostname %s, which none of the route's hostnames (%s) matches", name, gl.hostname, strings.Join(hosts, ", "))
	}
	// Requests for a hostname that a more specific listener on the port
	// accepts go to that listener (listener isolation): on this one, the
	// route never sees them.
	var kept []hostPair
	for _, h := range a.hosts {
		if !slices.ContainsFunc(gl.group.listeners, func(o *gwListener) bool {
			return o != gl && compareListenerHosts(o.hostname, gl.hostname) < 0 && covers(o.hostname, h.host)
		}) {
			kept = append(kept, h)
		}
	}
	if len(kept) == 0 {
		return attachment{}, "NoMatchingListenerHostname", fmt.Sprintf("the requests for the route's hostnames on listener %q go to more specific listeners on port %d", name, gl.spec.Port)
	}
	a.hosts = kept
	return a, "", ""
}

// metadataName is the label every namespace carries with its own name.
const metadataName = "kubernetes.io/metadata.name"

// namespaceAllowed applies a listener's allowedRoutes.namespaces to a
// route's namespace. Namespace objects are not read, so a selector can
// only be decided on the kubernetes.io/metadata.name label every
// namespace has; a selector on any other label admits nothing (failing
// closed), and the reason says so.
func (t *translator) namespaceAllowed(gl *gwListener, ns string) (bool, string) {
	gwNS := t.gw.Ref.Namespace
	switch gl.from {
	case "All":
		return true, ""
	case "Same":
		if ns == gwNS {
			return true, ""
		}
		return false, fmt.Sprintf("allows routes from its Gateway's namespace %s only (allowedRoutes.namespaces.from Same)", gwNS)
	case "Selector":
		ok, known := selects(gl.sel, map[string]string{metadataName: ns})
		switch {
		case !known:
			return false, fmt.Sprintf("selects route namespaces by labels jwtgate cannot see (it reads no Namespace objects; only %s is known)", metadataName)
		case !ok:
			return false, fmt.Sprintf("does not select namespace %s (allowedRoutes.namespaces.selector)", ns)
		}
		return true, ""
	}
	return false, "allows no routes (allowedRoutes.namespaces.from None)"
}

// selects evaluates a label selector on labels; known is false when the
// answer depends on a label other than those given (whose value is
// unknown): a requirement that fails on the known labels decides false,
// else one on an unknown label leaves the answer unknown.
func selects(sel *labelSelector, labels map[string]string) (ok, known bool) {
	unknown := false
	for k, v := range sel.MatchLabels {
		got, has := labels[k]
		switch {
		case !has:
			unknown = true
		case got != v:
			return false, true
		}
	}
	for _, e := range sel.MatchExpressions {
		got, has := labels[e.Key]
		in := false
		for _, v := range e.Values {
			in = in || v == got
		}
		switch {
		case !has || (e.Operator != "In" && e.Operator != "NotIn" && e.Operator != "Exists" && e.Operator != "DoesNotExist"):
			unknown = true
		case e.Operator == "In" && !in, e.Operator == "NotIn" && in, e.Operator == "DoesNotExist":
			return false, true
		}
	}
	if unknown {
		return false, false
	}
	return true, true
}

// isNullNode reports whether n is an explicit null.
func isNullNode(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }
