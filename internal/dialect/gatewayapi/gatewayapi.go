// Package gatewayapi reads the Kubernetes Gateway API: the
// gateway.networking.k8s.io Gateway, HTTPRoute, GRPCRoute, ReferenceGrant
// and GatewayClass, in v1 and (where the API still serves it) v1beta1,
// and translates the Gateway jwtgate stands for, with the HTTPRoutes and
// GRPCRoutes attached to it, into model listeners and routes.
//
// The dialect is a dialect.Session: Decode reads and checks each document
// on its own, and Finish, once every document is read (so that the
// Services, EndpointSlices and Secrets of the load are in the kube.Store),
// chooses the Gateway (see choose), translates its listeners (see
// listeners.go), attaches the HTTPRoutes that name it (attach.go),
// translates their rules (rules.go, filters.go, backends.go; a
// GRPCRoute's in grpcroute.go) and orders the model routes by the API's
// precedence (precedence.go).
//
// Names in the model: the Gateway listeners that share a port become one
// model listener, "NS/GATEWAY/LISTENER" after the first of them; each
// match of each rule of an HTTPRoute, on each listener it attaches to,
// becomes the route "NS/ROUTE/rI/mJ/LISTENER" (with "/hK" when the
// match's hostnames fall in several tiers of hostname precedence). Every
// route carries labels naming its HTTPRoute, rule, Gateway and listener
// (see routeLabels), for policies that select routes.
//
// Statuses: the model has one Accepted condition per resource; the
// Gateway API's own conditions and reasons (Accepted, ResolvedRefs,
// Conflicted, with NotAllowedByListeners, BackendNotFound,
// RefNotPermitted...) are spelled out in the status messages.
package gatewayapi

import (
	"fmt"
	"time"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// The API group, versions and kinds this dialect reads.
const (
	Group   = "gateway.networking.k8s.io"
	V1      = Group + "/v1"
	V1beta1 = Group + "/v1beta1"
	// V1alpha2 is read for the kinds a cluster of Gateway API v1.0 or
	// earlier serves in it, in the same shape as in v1.
	V1alpha2      = Group + "/v1alpha2"
	KindGateway   = "Gateway"
	KindHTTPRoute = "HTTPRoute"
	// KindGRPCRoute is read in v1 and v1alpha2.
	KindGRPCRoute = "GRPCRoute"
	// KindReferenceGrant is read in v1, v1beta1 and v1alpha2.
	KindReferenceGrant = "ReferenceGrant"
	KindGatewayClass   = "GatewayClass"
)

// New makes the Session of one load, for the gateway env.Selection names,
// resolving Services and Secrets in env.Kube. It is a dialect.Family.
func New(env dialect.Env) dialect.Session {
	st := env.Kube
	if st == nil {
		return &session{sel: env.Selection, kube: &kube.Store{}}
	}
	s := &session{sel: env.Selection, kube: st}
	s.peers = join(st, func(l *load) { l.gw = s }) // see peer.go
	return s
}

// session collects every Gateway API document of a load.
type session struct {
	sel  dialect.Selection
	kube *kube.Store
	docs []*document
	// peers is the load's meeting place with peer dialects (peer.go);
	// nil for a session made without a store.
	peers *load
	// res is the translation, made once (by Finish or a peer's View);
	// chosen is the Gateway it serves.
	res    *dialect.Result
	chosen *document
}

// document is one Gateway API document, decoded.
type document struct {
	dialect.Doc
	kind string
	// created is metadata.creationTimestamp; zero when absent.
	created time.Time

	gateway *object[gatewaySpec]
	route   *object[httpRouteSpec]
	grpc    *object[grpcRouteSpec]
	grant   *object[referenceGrantSpec]
	class   *object[gatewayClassSpec]
}

// note is a status the dialect decides for a document.
type note = dialect.NoteDraft

// Decode reads one document and checks what can be checked without the
// others. Gateways and HTTPRoutes are translated by Finish.
func (s *session) Decode(in dialect.Document) dialect.Result {
	d := &document{kind: in.Kind}
	if in.Node != nil {
		d.Line = in.Node.Line
	}
	dec := strictyaml.NewDecoder()
	var meta *metadata
	switch in.Kind {
	case KindGateway:
		d.gateway = dialect.DecodeObject[gatewaySpec](dec, in.Node)
		meta = &d.gateway.Metadata
	case KindHTTPRoute:
		d.route = dialect.DecodeObject[httpRouteSpec](dec, in.Node)
		meta = &d.route.Metadata
	case KindGRPCRoute:
		d.grpc = dialect.DecodeObject[grpcRouteSpec](dec, in.Node)
		meta = &d.grpc.Metadata
	case KindReferenceGrant:
		d.grant = dialect.DecodeObject[referenceGrantSpec](dec, in.Node)
		meta = &d.grant.Metadata
	case KindGatewayClass:
		d.class = dialect.DecodeObject[gatewayClassSpec](dec, in.Node)
		meta = &d.class.Metadata
	default:
		// Only reachable when the loader's table lists a kind this
		// package does not know.
		is := model.Issue{Severity: model.Error, Origin: model.Origin{File: in.File, Line: d.Line},
			Msg: fmt.Sprintf("gatewayapi: kind %q is not read by this dialect", in.Kind)}
		return dialect.Result{Issues: model.Issues{is}}
	}
	d.Begin(in, dec, meta.Namespace, meta.Name)
	if d.class != nil {
		d.Ref.Namespace = "" // cluster-scoped
	}
	d.ReportProblems(dec.Problems, dialect.UnknownNotServed)
	d.created = d.CheckMetadata(meta.Name, meta.Namespace, meta.CreationTimestamp)
	switch {
	case d.gateway != nil:
		d.checkGateway()
	case d.route != nil:
		d.checkRoute()
	case d.grpc != nil:
		d.checkGRPCRoute()
	case d.grant != nil:
		d.checkGrant()
	case d.class != nil:
		d.checkClass()
	}
	for _, o := range s.docs {
		if o.kind == d.kind && o.Ref.Namespace == d.Ref.Namespace && o.Ref.Name == d.Ref.Name && d.Ref.Name != "" {
			d.Errorf("metadata.name", "%s %s is defined already at %s:%d", d.kind, nsName(d.Ref), o.File, o.Line)
			break
		}
	}
	s.docs = append(s.docs, d)
	return d.Result()
}

// checkClass checks a GatewayClass: jwtgate reads nothing of it but
// reports the parameters it does not follow.
func (d *document) checkClass() {
	if d.class.Spec.ControllerName == "" && !d.Reported("spec.controllerName") {
		d.Errorf("spec", "missing required field %q", "controllerName")
	}
	if d.Has("spec.parametersRef") {
		d.NotServed("spec.parametersRef", "the class's implementation-specific parameters are not read by jwtgate")
	}
}

// common is the attachment part of an HTTPRoute's or a GRPCRoute's
// spec; nil for other kinds.
func (d *document) common() *routeCommon {
	switch {
	case d.route != nil:
		return &d.route.Spec.routeCommon
	case d.grpc != nil:
		return &d.grpc.Spec.routeCommon
	}
	return nil
}

// nsName is "namespace/name".
func nsName(r model.Ref) string { return r.Namespace + "/" + r.Name }

// Finish chooses the Gateway jwtgate serves, translates it with the
// HTTPRoutes attached to it, and returns the model pieces with every issue
// and status found since Decode.
func (s *session) Finish() dialect.Result {
	res := s.result()
	if s.peers != nil {
		leave(s.kube)
	}
	return res
}

// result is the translation of every document, made on first use (a
// peer's View may ask for it before Finish does).
func (s *session) result() dialect.Result {
	if s.res == nil {
		r := s.translate()
		s.res = &r
	}
	return *s.res
}

// translate chooses the Gateway, translates it with its HTTPRoutes and
// collects every issue and status found since Decode.
func (s *session) translate() dialect.Result {
	var res dialect.Result
	chosen, issues := s.choose()
	s.chosen = chosen
	res.Issues = append(res.Issues, issues...)
	t := &translator{s: s, gw: chosen, out: &res.Config, grants: s.grants()}
	if chosen != nil && !chosen.HasErrors {
		t.listeners()
	}
	for _, d := range s.docs {
		if d.common() != nil {
			t.attach(d)
		}
	}
	t.resolveKindConflicts() // grpcroute.go
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
