// Package kgateway reads kgateway's gateway.kgateway.dev/v1alpha1
// resources as they are: the GatewayExtension (its jwt providers), the
// TrafficPolicy (jwtAuth and rbac, attached to Gateway API Gateways,
// listeners, HTTPRoutes, GRPCRoutes and their rules) and the Backend
// (static hosts, as an HTTPRoute or GRPCRoute backendRef or where a
// remote key set is fetched from).
//
// kgateway's policies attach to the Gateway API resources that the
// gatewayapi dialect translates into model listeners and routes. The two
// dialects are families of their own that meet through
// gatewayapi.Join: Finish reads the Gateway API side of the load (the
// Gateways, HTTPRoutes and GRPCRoutes read, the model routes made and
// their labels), and the gatewayapi dialect asks this one for the
// Backends its routes name (ResolveBackend).
//
// Attachment (see attach.go): a TrafficPolicy targets resources of its
// own namespace only; one that names a resource found in another
// namespace only is not applied, and its status says so (kgateway
// ignores it silently). On each route the most specific attachment wins,
// for jwtAuth and for rbac separately: a route's rule (sectionName) over
// the route (an HTTPRoute or a GRPCRoute, whose model routes carry
// gatewayapi.LabelHTTPRoute or gatewayapi.LabelGRPCRoute), over a
// Gateway listener (sectionName), over the Gateway; at one level, the
// oldest policy wins. jwtAuth.disable at a more specific level turns JWT
// off. Every route gets at most one model
// JWT policy and one set of authorization policies from this dialect, so
// nothing depends on the order policies are tried in.
//
// Names in the model: the GatewayExtension NS/EXT's provider P is the
// provider "NS/EXT/P"; the TrafficPolicy NS/POL attached to a target is
// the JWT policy and the authorization policy "NS/POL/KIND/NAME[/SECTION]"
// (KIND gateway, httproute or grpcroute).
//
// Every document gets a status; what cannot be translated exactly is
// reported at its field and served in the way that grants less: a
// jwtAuth that cannot be enforced, and access control jwtgate does not
// implement (extAuth, basicAuth...), make the routes they reach answer
// 403 "RBAC: access denied". rbac matchExpressions are evaluated per
// request with cel-go (model.CondCEL); one that reads an Envoy attribute
// jwtgate does not provide never allows (Allow) and always denies
// (Deny). See rbac.go.
package kgateway

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/gatewayapi"
	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// The API group, version and kinds this dialect reads.
const (
	Group                = "gateway.kgateway.dev"
	V1alpha1             = Group + "/v1alpha1"
	KindGatewayExtension = "GatewayExtension"
	KindTrafficPolicy    = "TrafficPolicy"
	KindBackend          = "Backend"
)

// New makes the Session of one load, for the gateway env.Selection names.
// It is a dialect.Family.
func New(env dialect.Env) dialect.Session {
	st := env.Kube
	s := &session{sel: env.Selection, kube: st}
	s.peer = gatewayapi.Join(st, s) // nil st joins nothing
	if s.kube == nil {
		s.kube = &kube.Store{}
	}
	return s
}

// session collects every kgateway document of a load.
type session struct {
	sel  dialect.Selection
	kube *kube.Store
	peer *gatewayapi.Peer
	docs []*document
}

// document is one kgateway document, decoded.
type document struct {
	dialect.Doc
	// created is metadata.creationTimestamp; zero when absent.
	created time.Time

	ext *object[extensionSpec]
	tp  *object[trafficPolicySpec]
	be  *object[backendSpec]
	// rbac is a TrafficPolicy's rbac, translated by Decode.
	rbac *rbacOut
}

// Decode reads one document and checks what can be checked without the
// others. TrafficPolicies are attached by Finish.
func (s *session) Decode(in dialect.Document) dialect.Result {
	d := &document{}
	dec := strictyaml.NewDecoder()
	var meta *metadata
	switch in.Kind {
	case KindGatewayExtension:
		d.ext = dialect.DecodeObject[extensionSpec](dec, in.Node)
		meta = &d.ext.Metadata
	case KindTrafficPolicy:
		d.tp = dialect.DecodeObject[trafficPolicySpec](dec, in.Node)
		meta = &d.tp.Metadata
	case KindBackend:
		d.be = dialect.DecodeObject[backendSpec](dec, in.Node)
		meta = &d.be.Metadata
	default:
		// Only reachable when the loader's table lists a kind this
		// package does not know.
		line := 0
		if in.Node != nil {
			line = in.Node.Line
		}
		is := model.Issue{Severity: model.Error, Origin: model.Origin{File: in.File, Line: line},
			Msg: fmt.Sprintf("kgateway: kind %q is not read by this dialect", in.Kind)}
		return dialect.Result{Issues: model.Issues{is}}
	}
	d.Begin(in, dec, meta.Namespace, meta.Name)
	d.ReportProblems(dec.Problems, dialect.UnknownNotServed)
	d.created = d.CheckMetadata(meta.Name, meta.Namespace, meta.CreationTimestamp)
	switch {
	case d.ext != nil:
		d.checkExtension()
	case d.tp != nil:
		d.checkPolicy()
	case d.be != nil:
		d.checkBackend()
	}
	for _, o := range s.docs {
		if o.Ref.Kind == d.Ref.Kind && o.Ref.Namespace == d.Ref.Namespace && o.Ref.Name == d.Ref.Name && d.Ref.Name != "" {
			d.Errorf("metadata.name", "%s %s is defined already at %s:%d", d.Ref.Kind, d.Name(), o.File, o.Line)
			break
		}
	}
	s.docs = append(s.docs, d)
	return d.Result()
}

// set reports whether a raw field is present and not null.
func set(n yaml.Node) bool {
	return n.Kind != 0 && !(n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// nsName is "namespace/name".
func nsName(r model.Ref) string { return r.Namespace + "/" + r.Name }

// byAge orders documents by metadata.creationTimestamp, oldest first
// (those without one after every other, as if created last), then by
// namespace/name: the order kgateway merges policies of one level in.
func byAge(a, b *document) int {
	switch {
	case a.created.IsZero() != b.created.IsZero():
		if a.created.IsZero() {
			return 1
		}
		return -1
	case !a.created.Equal(b.created):
		return a.created.Compare(b.created)
	}
	return strings.Compare(a.Name(), b.Name())
}

// find returns the document of kind namespace/name, or nil.
func (s *session) find(kind, ns, name string) *document {
	for _, d := range s.docs {
		if d.Ref.Kind == kind && d.Ref.Namespace == ns && d.Ref.Name == name {
			return d
		}
	}
	return nil
}

// Finish attaches the TrafficPolicies to the routes the Gateway API
// dialect made, and returns the model providers, JWT policies and
// authorization policies with every issue and status found since Decode.
func (s *session) Finish() dialect.Result {
	defer s.peer.Leave()
	var res dialect.Result
	// The view first: translating the Gateway API side resolves the
	// routes' backendRefs to Backends, whose notes are ours.
	t := &translator{s: s, view: s.peer.View(), out: &res.Config, used: map[*document]bool{}}
	t.attach()
	for _, d := range s.docs {
		res.Issues = append(res.Issues, d.Issues...)
		d.Issues = nil
		if n := d.Status(); n != nil {
			res.Notes = append(res.Notes, *n)
		}
	}
	return res
}
