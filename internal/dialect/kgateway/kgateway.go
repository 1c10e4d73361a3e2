// Package kgateway reads kgateway's gateway.kgateway.dev/v1alpha1
// resources as they are: the GatewayExtension (its jwt providers), the
// TrafficPolicy (jwtAuth and rbac, attached to Gateway API Gateways,
// listeners, HTTPRoutes and rules) and the Backend (static hosts, as an
// HTTPRoute backendRef or where a remote key set is fetched from).
//
// kgateway's policies attach to the Gateway API resources that the
// gatewayapi dialect translates into model listeners and routes. The two
// dialects are families of their own that meet through
// gatewayapi.Join: Finish reads the Gateway API side of the load (the
// Gateways and HTTPRoutes read, the model routes made and their labels),
// and the gatewayapi dialect asks this one for the Backends its
// HTTPRoutes name (ResolveBackend).
//
// Attachment (see attach.go): a TrafficPolicy targets resources of its
// own namespace only; one that names a resource found in another
// namespace only is not applied, and its status says so (kgateway
// ignores it silently). On each route the most specific attachment wins,
// for jwtAuth and for rbac separately: an HTTPRoute rule (sectionName)
// over the HTTPRoute, over a Gateway listener (sectionName), over the
// Gateway; at one level, the oldest policy wins. jwtAuth.disable at a
// more specific level turns JWT off. Every route gets at most one model
// JWT policy and one set of authorization policies from this dialect, so
// nothing depends on the order policies are tried in.
//
// Names in the model: the GatewayExtension NS/EXT's provider P is the
// provider "NS/EXT/P"; the TrafficPolicy NS/POL attached to a target is
// the JWT policy and the authorization policy "NS/POL/KIND/NAME[/SECTION]"
// (KIND gateway or httproute).
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
	"regexp"
	"strconv"
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
	file   string
	kind   string
	ref    model.Ref
	line   int // of the document's first key
	lines  strictyaml.Lines
	layout *strictyaml.Document
	// created is metadata.creationTimestamp; zero when absent.
	created time.Time

	ext *object[extensionSpec]
	tp  *object[trafficPolicySpec]
	be  *object[backendSpec]
	// rbac is a TrafficPolicy's rbac, translated by Decode.
	rbac *rbacOut

	issues model.Issues
	// hasErrors is set by the first error: the document is refused.
	hasErrors bool
	notes     []note
	pieces    int // model pieces made, for their Locator bases
}

// note is a status the dialect decides for a document.
type note = dialect.NoteDraft

// Decode reads one document and checks what can be checked without the
// others. TrafficPolicies are attached by Finish.
func (s *session) Decode(in dialect.Document) dialect.Result {
	d := &document{file: in.File, kind: in.Kind}
	if in.Node != nil {
		d.line = in.Node.Line
	}
	dec := strictyaml.NewDecoder()
	var meta *metadata
	switch in.Kind {
	case KindGatewayExtension:
		d.ext = decode[extensionSpec](dec, in.Node)
		meta = &d.ext.Metadata
	case KindTrafficPolicy:
		d.tp = decode[trafficPolicySpec](dec, in.Node)
		meta = &d.tp.Metadata
	case KindBackend:
		d.be = decode[backendSpec](dec, in.Node)
		meta = &d.be.Metadata
	default:
		// Only reachable when the loader's table lists a kind this
		// package does not know.
		is := model.Issue{Severity: model.Error, Origin: model.Origin{File: in.File, Line: d.line},
			Msg: fmt.Sprintf("kgateway: kind %q is not read by this dialect", in.Kind)}
		return dialect.Result{Issues: model.Issues{is}}
	}
	d.lines = dec.Lines
	d.layout = &strictyaml.Document{Lines: dec.Lines, Renames: map[string]string{}, Invalid: dec.Invalid}
	d.ref = model.Ref{APIVersion: in.APIVersion, Kind: in.Kind, Namespace: meta.Namespace, Name: meta.Name}
	if d.ref.Namespace == "" {
		d.ref.Namespace = model.DefaultNamespace
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
	case d.ext != nil:
		d.checkExtension()
	case d.tp != nil:
		d.checkPolicy()
	case d.be != nil:
		d.checkBackend()
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

// labelRE is a DNS label (RFC 1123), a namespace's name.
var labelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

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

// has reports whether the document sets path to something other than
// null.
func (d *document) has(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// set reports whether a raw field is present and not null.
func set(n yaml.Node) bool {
	return n.Kind != 0 && !(n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// reported reports whether the value at path (or an ancestor) could not
// be decoded, and so was reported already.
func (d *document) reported(path string) bool { return d.layout.Reported(path) }

// add records an issue at the document path, on line. An issue already
// recorded (a Backend named by several backendRefs is resolved once for
// each) is not recorded again.
func (d *document) add(sev model.Severity, path string, line int, format string, args ...any) {
	d.hasErrors = d.hasErrors || sev == model.Error
	is := model.Issue{
		Severity: sev,
		Origin:   model.Origin{Ref: d.ref, File: d.file, Line: line},
		Field:    path,
		Msg:      fmt.Sprintf(format, args...),
	}
	for _, o := range d.issues {
		if o.Severity == is.Severity && o.Field == is.Field && o.Msg == is.Msg {
			return
		}
	}
	d.issues = append(d.issues, is)
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

// notServed reports a field jwtgate does not serve as written: a warning
// at it, and a note (PartiallyAccepted) on the status.
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

// nsName is "namespace/name".
func nsName(r model.Ref) string { return r.Namespace + "/" + r.Name }

// name is the document's "namespace/name".
func (d *document) name() string { return nsName(d.ref) }

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
	return strings.Compare(a.name(), b.name())
}

// find returns the document of kind namespace/name, or nil.
func (s *session) find(kind, ns, name string) *document {
	for _, d := range s.docs {
		if d.kind == kind && d.ref.Namespace == ns && d.ref.Name == name {
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
	// HTTPRoutes' backendRefs to Backends, whose notes are ours.
	t := &translator{s: s, view: s.peer.View(), out: &res.Config, used: map[*document]bool{}}
	t.attach()
	for _, d := range s.docs {
		res.Issues = append(res.Issues, d.issues...)
		d.issues = nil
		if n := d.status(); n != nil {
			res.Notes = append(res.Notes, *n)
		}
	}
	return res
}
