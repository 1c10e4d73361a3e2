// Package envoygateway reads Envoy Gateway's SecurityPolicy
// (gateway.envoyproxy.io/v1alpha1) as it is: its JWT authentication and
// its ordered authorization rules, attached to the Gateway API Gateways,
// listeners, HTTPRoutes, GRPCRoutes and route rules that the Gateway API
// dialect (package gatewayapi) serves.
//
// The dialect is a dialect.Session: Decode reads and checks each
// document on its own. The Gateway API dialect is a family of its own;
// the two meet through gatewayapi.Join, so that Finish, once every
// document is read, sees the Gateways, HTTPRoutes and GRPCRoutes read
// and the model routes made from them (with the labels naming each
// route's HTTPRoute or GRPCRoute, rule, Gateway and listener), whichever family finishes first. Finish
// then resolves every policy's targets (target.go, selector.go), gives
// each model route to the most specific policy that reaches it, as
// Envoy Gateway applies one policy per route, and translates that
// policy's JWT providers and requirement (jwt.go) and its authorization
// (authorization.go, rules.go, formula.go).
//
// Names in the model: the policy NS/NAME's provider P is the provider
// "NS/NAME/P"; on its routes, the policy is the JWT policy and the
// policy "NS/NAME" (with "/KIND/NS/NAME[/SECTION]" of the target when it
// has several targets), each naming its routes.
//
// Statuses: the model has one Accepted condition per resource; the
// Gateway API PolicyStatus reasons (Conflicted, TargetNotFound,
// Overridden...) are spelled out in the messages. What cannot be
// translated exactly is reported at its field and served the way that
// grants less.
package envoygateway

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/gatewayapi"
	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// The API group, version and kind this dialect reads.
const (
	Group              = "gateway.envoyproxy.io"
	V1alpha1           = Group + "/v1alpha1"
	KindSecurityPolicy = "SecurityPolicy"
)

// gatewayAPIGroup is the group of every target.
const gatewayAPIGroup = "gateway.networking.k8s.io"

// New makes the Session of one load, for the gateway env.Selection names,
// reading ConfigMaps from env.Kube. It is a dialect.Family.
func New(env dialect.Env) dialect.Session {
	s := &session{sel: env.Selection, kube: env.Kube}
	s.peer = gatewayapi.Join(env.Kube, nil) // a nil store joins nothing
	if s.kube == nil {
		s.kube = &kube.Store{}
	}
	return s
}

// session collects every SecurityPolicy of a load.
type session struct {
	sel  dialect.Selection
	kube *kube.Store
	peer *gatewayapi.Peer
	docs []*document
}

// document is one SecurityPolicy, decoded.
type document struct {
	dialect.Doc
	obj object
	// created is metadata.creationTimestamp; zero when absent.
	created time.Time

	targets []*target // resolved by Finish
}

// note is a status the dialect decides for a document.
type note = dialect.NoteDraft

// Decode reads one document and checks what can be checked without the
// others.
func (s *session) Decode(in dialect.Document) dialect.Result {
	d := &document{}
	if in.Node != nil {
		d.Line = in.Node.Line
	}
	if in.Kind != KindSecurityPolicy {
		// Only reachable when the loader's table lists a kind this
		// package does not know.
		is := model.Issue{Severity: model.Error, Origin: model.Origin{File: in.File, Line: d.Line},
			Msg: fmt.Sprintf("envoygateway: kind %q is not read by this dialect", in.Kind)}
		return dialect.Result{Issues: model.Issues{is}}
	}
	dec := strictyaml.NewDecoder()
	dec.Decode(in.Node, "", &d.obj)
	m := &d.obj.Metadata
	d.Begin(in, dec, m.Namespace, m.Name)
	d.ReportProblems(dec.Problems, dialect.UnknownRefused)
	d.created = d.CheckMetadata(m.Name, m.Namespace, m.CreationTimestamp)
	d.checkTargets()
	d.checkJWT()
	d.checkAuthorization()
	for _, o := range s.docs {
		if o.Ref.Namespace == d.Ref.Namespace && o.Ref.Name == d.Ref.Name && d.Ref.Name != "" {
			d.Errorf("metadata.name", "%s is defined already at %s:%d", d.Ref, o.File, o.Line)
			break
		}
	}
	s.docs = append(s.docs, d)
	return d.Result()
}

// Finish resolves every policy's targets, translates what applies, and
// returns the model pieces with every issue and status found since
// Decode.
func (s *session) Finish() dialect.Result {
	defer s.peer.Leave()
	var res dialect.Result
	docs := slices.Clone(s.docs)
	slices.SortStableFunc(docs, older)
	t := &translator{s: s, view: s.peer.View(), out: &res.Config}
	t.resolve(docs)
	t.assign(docs)
	t.emit()
	for _, d := range s.docs {
		res.Issues = append(res.Issues, d.Issues...)
		d.Issues = nil
		if n := d.Status(); n != nil {
			res.Notes = append(res.Notes, *n)
		}
	}
	return res
}

// older orders policies as Envoy Gateway does when two target the same
// thing: the oldest (metadata.creationTimestamp; policies without one
// after those with one) first, then by "namespace/name".
func older(a, b *document) int {
	ta, tb := a.created, b.created
	switch {
	case ta.IsZero() != tb.IsZero():
		if ta.IsZero() {
			return 1
		}
		return -1
	case !ta.Equal(tb):
		return ta.Compare(tb)
	}
	return strings.Compare(a.Name(), b.Name())
}
