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
	"regexp"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// The API group, versions and kinds this dialect reads.
const (
	Group         = "gateway.networking.k8s.io"
	V1            = Group + "/v1"
	V1beta1       = Group + "/v1beta1"
	KindGateway   = "Gateway"
	KindHTTPRoute = "HTTPRoute"
	// KindGRPCRoute is read in v1 only.
	KindGRPCRoute = "GRPCRoute"
	// KindReferenceGrant is read in v1 and v1beta1.
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
	file   string
	kind   string
	ref    model.Ref
	line   int // of the document's first key
	lines  strictyaml.Lines
	layout *strictyaml.Document
	// created is metadata.creationTimestamp; zero when absent.
	created time.Time

	gateway *object[gatewaySpec]
	route   *object[httpRouteSpec]
	grpc    *object[grpcRouteSpec]
	grant   *object[referenceGrantSpec]
	class   *object[gatewayClassSpec]

	issues model.Issues
	// hasErrors is set by the first error: the document is refused, and
	// translating it would only repeat its errors.
	hasErrors bool
	notes     []note
	pieces    int // model pieces made, for their Locator bases
}

// note is a status the dialect decides for a document.
type note = dialect.NoteDraft

// Decode reads one document and checks what can be checked without the
// others. Gateways and HTTPRoutes are translated by Finish.
func (s *session) Decode(in dialect.Document) dialect.Result {
	d := &document{file: in.File, kind: in.Kind}
	if in.Node != nil {
		d.line = in.Node.Line
	}
	dec := strictyaml.NewDecoder()
	var meta *metadata
	switch in.Kind {
	case KindGateway:
		d.gateway = decode[gatewaySpec](dec, in.Node)
		meta = &d.gateway.Metadata
	case KindHTTPRoute:
		d.route = decode[httpRouteSpec](dec, in.Node)
		meta = &d.route.Metadata
	case KindGRPCRoute:
		d.grpc = decode[grpcRouteSpec](dec, in.Node)
		meta = &d.grpc.Metadata
	case KindReferenceGrant:
		d.grant = decode[referenceGrantSpec](dec, in.Node)
		meta = &d.grant.Metadata
	case KindGatewayClass:
		d.class = decode[gatewayClassSpec](dec, in.Node)
		meta = &d.class.Metadata
	default:
		// Only reachable when the loader's table lists a kind this
		// package does not know.
		is := model.Issue{Severity: model.Error, Origin: model.Origin{File: in.File, Line: d.line},
			Msg: fmt.Sprintf("gatewayapi: kind %q is not read by this dialect", in.Kind)}
		return dialect.Result{Issues: model.Issues{is}}
	}
	d.lines = dec.Lines
	d.layout = &strictyaml.Document{Lines: dec.Lines, Renames: map[string]string{}, Invalid: dec.Invalid}
	d.ref = model.Ref{APIVersion: in.APIVersion, Kind: in.Kind, Namespace: meta.Namespace, Name: meta.Name}
	if d.ref.Namespace == "" {
		d.ref.Namespace = model.DefaultNamespace
	}
	if d.class != nil {
		d.ref.Namespace = "" // cluster-scoped
	}
	for _, p := range dec.Problems {
		if key, ok := unknownField(p.Msg); ok {
			at := strictyaml.Key(p.Path, key)
			d.add(model.Warning, at, p.Line, "unknown field %q: ignored", key)
			if strictyaml.HasPrefix(at, "spec") {
				d.note(model.ReasonPartiallyAccepted, "%s: unknown field, not served", at)
			}
			continue
		}
		d.add(model.Error, p.Path, p.Line, "%s", p.Msg)
	}
	d.metadata(meta)
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
		if o.kind == d.kind && o.ref.Namespace == d.ref.Namespace && o.ref.Name == d.ref.Name && d.ref.Name != "" {
			d.errorf("metadata.name", "%s %s is defined already at %s:%d", d.kind, nsName(d.ref), o.file, o.line)
			break
		}
	}
	s.docs = append(s.docs, d)
	res := dialect.Result{
		Resources: []model.Origin{{Ref: d.ref, File: d.file, Line: d.line}},
		Issues:    d.issues,
	}
	d.issues = nil
	return res
}

func decode[S any](dec *strictyaml.Decoder, n *yaml.Node) *object[S] {
	var o object[S]
	dec.Decode(n, "", &o)
	return &o
}

var unknownFieldRE = regexp.MustCompile(`^unknown field (".*")$`)

// unknownField reads the key out of the decoder's unknown field message.
func unknownField(msg string) (string, bool) {
	m := unknownFieldRE.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	key, err := strconv.Unquote(m[1])
	return key, err == nil
}

// nameRE is a Kubernetes object name (a DNS subdomain, RFC 1123).
var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// metadata checks the name, namespace and creation timestamp.
func (d *document) metadata(m *metadata) {
	switch {
	case m.Name == "":
		if !d.reported("metadata.name") {
			d.errorf("metadata", "missing required field %q", "name")
		}
	case len(m.Name) > 253 || !nameRE.MatchString(m.Name):
		d.errorf("metadata.name", "invalid name %q: want a lower-case DNS subdomain (RFC 1123)", m.Name)
	}
	if ns := m.Namespace; ns != "" && (len(ns) > 63 || !labelRE.MatchString(ns)) {
		d.errorf("metadata.namespace", "invalid namespace %q: want a lower-case DNS label (RFC 1123)", ns)
	}
	if ts := m.CreationTimestamp; ts != "" {
		t, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			d.errorf("metadata.creationTimestamp", "invalid timestamp %q: want RFC 3339, such as 2024-05-01T12:00:00Z", ts)
		}
		d.created = t
	}
}

// checkClass checks a GatewayClass: jwtgate reads nothing of it but
// reports the parameters it does not follow.
func (d *document) checkClass() {
	if d.class.Spec.ControllerName == "" && !d.reported("spec.controllerName") {
		d.errorf("spec", "missing required field %q", "controllerName")
	}
	if d.has("spec.parametersRef") {
		d.notServed("spec.parametersRef", "the class's implementation-specific parameters are not read by jwtgate")
	}
}

// has reports whether the document sets path to something other than
// null.
func (d *document) has(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// reported reports whether the value at path (or an ancestor) could not
// be decoded, and so was reported already.
func (d *document) reported(path string) bool { return d.layout.Reported(path) }

// add records an issue at the document path, on line.
func (d *document) add(sev model.Severity, path string, line int, format string, args ...any) {
	d.hasErrors = d.hasErrors || sev == model.Error
	d.issues = append(d.issues, model.Issue{
		Severity: sev,
		Origin:   model.Origin{Ref: d.ref, File: d.file, Line: line},
		Field:    path,
		Msg:      fmt.Sprintf(format, args...),
	})
}

// errorf records an error at the document path, unless the decoder
// reported its value already. Errors are what the API server itself
// would refuse: the configuration is not served.
func (d *document) errorf(path, format string, args ...any) {
	if !d.reported(path) {
		d.add(model.Error, path, d.lines.Find(path), format, args...)
	}
}

// warnf records a warning at the document path, unless the decoder
// reported its value already.
func (d *document) warnf(path, format string, args ...any) {
	if !d.reported(path) {
		d.add(model.Warning, path, d.lines.Find(path), format, args...)
	}
}

// note records a status for the document.
func (d *document) note(reason, format string, args ...any) {
	d.notes = append(d.notes, note{Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// notServed reports a field jwtgate does not serve: a warning at it, and
// a note (PartiallyAccepted) on the status.
func (d *document) notServed(path, format string, args ...any) {
	d.noted(model.ReasonPartiallyAccepted, path, format, args...)
}

// noted reports a problem at path with a warning, and a note of reason
// whose message starts with the path.
func (d *document) noted(reason, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.warnf(path, "%s", msg)
	d.note(reason, "%s: %s", path, msg)
}

// status joins the document's notes into one model.Note (see
// dialect.JoinNotes); nil when there are none.
func (d *document) status() *model.Note { return dialect.JoinNotes(d.ref, d.notes) }

// piece returns the origin of a model piece made from the document at
// docPath, with the Locator base its field paths are renamed from.
func (d *document) piece(kind, docPath string) (model.Origin, string) {
	base := d.layout.Piece(kind, d.pieces, docPath)
	d.pieces++
	return model.Origin{
		Ref: d.ref, File: d.file, Path: docPath, Line: d.lines.Find(docPath),
		Loc: strictyaml.Locator{Doc: d.layout, Base: base},
	}, base
}

// rename records that the model field path from came from the document
// path to.
func (d *document) rename(from, to string) { d.layout.Renames[from] = to }

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
	if chosen != nil && !chosen.hasErrors {
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
		res.Issues = append(res.Issues, d.issues...)
		d.issues = nil
		if n := d.status(); n != nil {
			res.Notes = append(res.Notes, *n)
		}
	}
	return res
}
