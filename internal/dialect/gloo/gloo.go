// Package gloo reads Gloo Platform (Gloo Mesh, Gloo Gateway) v2
// resources as they are: the networking.gloo.solo.io/v2 RouteTable and
// VirtualGateway and the security.policy.gloo.solo.io/v2 JWTPolicy,
// with the Kubernetes Services, EndpointSlices and Secrets they name
// (see package kube).
//
// jwtgate stands in for one gateway or one workload (see choose): a
// VirtualGateway, whose listeners it binds and whose route tables it
// serves, or a workload with a sidecar, for which it serves the route
// tables whose workloadSelectors select it (mesh routes) on the native
// listener named "mesh". The dialect is a dialect.Session: Decode reads
// and checks each document on its own; Finish, once every document is
// read, makes that choice, translates the route tables that apply into
// routes, and attaches the JWT policies to them, the oldest first
// (metadata.creationTimestamp, then namespace/name): when several reach
// one route, the oldest applies and the others are reported Conflicted.
//
// Names in the model: the route named ROUTE of the RouteTable
// NAMESPACE/TABLE is the route "NAMESPACE/TABLE/ROUTE" (an unnamed
// route: its index in http), with "#I" for its I-th matcher when it has
// several and "@PORT" when the table binds to several listener ports; a
// VirtualGateway listener is the listener "NAMESPACE/GATEWAY/PORT"; the
// JWTPolicy NAMESPACE/NAME is the JWT policy "NAMESPACE/NAME", its
// provider KEY the provider "NAMESPACE/NAME/KEY", and its claims and
// requiredScopes the ALLOW policy "NAMESPACE/NAME".
//
// Every document gets a status; what cannot be translated exactly is
// reported at its field, and served narrower or not at all (failing
// closed): a route whose action jwtgate cannot perform answers 503. The
// fields of each model piece are mapped back to the document's fields
// (strictyaml.Document.Renames), so that what validation finds later is
// reported at the vendor document's own file, line and field path.
package gloo

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// The apiVersions and kinds this dialect reads.
const (
	NetworkingAPIVersion = "networking.gloo.solo.io/v2"
	SecurityAPIVersion   = "security.policy.gloo.solo.io/v2"

	KindRouteTable     = "RouteTable"
	KindVirtualGateway = "VirtualGateway"
	KindJWTPolicy      = "JWTPolicy"
)

// MeshListener is the name of the native listener mesh routes (route
// tables for sidecars) are served on.
const MeshListener = "mesh"

// New makes the Session of one load, for the gateway or workload
// env.Selection names. It is a dialect.Family.
func New(env dialect.Env) dialect.Session {
	st := env.Kube
	if st == nil {
		st = &kube.Store{}
	}
	return &session{sel: env.Selection, kube: st}
}

// session collects every Gloo document of a load.
type session struct {
	sel  dialect.Selection
	kube *kube.Store
	docs []*document
}

// document is one Gloo document, decoded.
type document struct {
	file, dir string
	kind      string
	ref       model.Ref
	line      int // of the document's first key
	meta      *metadata
	// created is metadata.creationTimestamp; zero when absent.
	created time.Time
	lines   strictyaml.Lines
	layout  *strictyaml.Document

	rt *object[routeTableSpec]
	vg *object[virtualGatewaySpec]
	jp *object[jwtPolicySpec]

	// dup is true for a second document of the same kind, namespace and
	// name: it is reported, and not translated.
	dup bool

	issues model.Issues
	notes  []note
	pieces int // model pieces made, for their Locator bases
}

// note is a status the dialect decides for a document.
type note = dialect.NoteDraft

// Decode reads one document and checks what can be checked without the
// others. Everything is translated by Finish.
func (s *session) Decode(in dialect.Document) dialect.Result {
	d := &document{file: in.File, kind: in.Kind}
	if in.File != "" {
		d.dir = filepath.Dir(in.File)
	}
	if in.Node != nil {
		d.line = in.Node.Line
	}
	dec := strictyaml.NewDecoder()
	switch in.Kind {
	case KindRouteTable:
		d.rt = decode[routeTableSpec](dec, in.Node)
		d.meta = &d.rt.Metadata
	case KindVirtualGateway:
		d.vg = decode[virtualGatewaySpec](dec, in.Node)
		d.meta = &d.vg.Metadata
	case KindJWTPolicy:
		d.jp = decode[jwtPolicySpec](dec, in.Node)
		d.meta = &d.jp.Metadata
	default:
		// Only reachable when the loader's table lists a kind this
		// package does not know.
		is := model.Issue{Severity: model.Error, Origin: model.Origin{File: in.File, Line: d.line},
			Msg: fmt.Sprintf("gloo: kind %q is not read by this dialect", in.Kind)}
		return dialect.Result{Issues: model.Issues{is}}
	}
	d.lines = dec.Lines
	d.layout = &strictyaml.Document{Lines: dec.Lines, Renames: map[string]string{}, Invalid: dec.Invalid}
	d.ref = model.Ref{APIVersion: in.APIVersion, Kind: in.Kind, Namespace: d.meta.Namespace, Name: d.meta.Name}
	if d.ref.Namespace == "" {
		d.ref.Namespace = model.DefaultNamespace
	}
	for _, p := range dec.Problems {
		if key, ok := unknownField(p.Msg); ok {
			at := strictyaml.Key(p.Path, key)
			d.add(model.Warning, at, p.Line, "unknown field %q: ignored", key)
			d.note(model.ReasonPartiallyAccepted, "%s: unknown field, ignored", at)
			continue
		}
		d.add(model.Error, p.Path, p.Line, "%s", p.Msg)
	}
	if d.meta.Name == "" && !d.reported("metadata.name") {
		d.errorf("metadata", "missing required field %q", "name")
	}
	if ts := d.meta.CreationTimestamp; ts != "" {
		t, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			d.errorf("metadata.creationTimestamp", "invalid time %q (want RFC 3339, such as 2024-05-01T10:00:00Z)", ts)
		}
		d.created = t
	}
	for _, o := range s.docs {
		if o.ref == d.ref && d.ref.Name != "" {
			d.errorf("metadata.name", "%s is defined already at %s:%d", d.ref, o.file, o.line)
			d.dup = true
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

// has reports whether the document sets path.
func (d *document) has(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// reported reports whether the value at path (or an ancestor) could not
// be decoded, and so was reported already.
func (d *document) reported(path string) bool { return d.layout.Reported(path) }

// add records an issue at the document path, on line.
// An issue already recorded (a route table served on several listeners
// is read once for each) is not recorded again.
func (d *document) add(sev model.Severity, path string, line int, format string, args ...any) {
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
// reported its value already.
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

// notServed reports a part of the document that jwtgate does not serve
// as written: a warning at its field, and a note (PartiallyAccepted) on
// the status.
func (d *document) notServed(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.warnf(path, "%s", msg)
	d.note(model.ReasonPartiallyAccepted, "%s: %s", path, msg)
}

// notFound reports a reference that names nothing: a warning at its
// field, and a note (TargetNotFound) on the status.
func (d *document) notFound(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.warnf(path, "%s", msg)
	d.note(model.ReasonTargetNotFound, "%s: %s", path, msg)
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

// filePath resolves a file name relative to the document's directory.
func (d *document) filePath(p string) string {
	if p == "" || filepath.IsAbs(p) || d.dir == "" {
		return p
	}
	return filepath.Join(d.dir, p)
}

// name is the document's "namespace/name".
func (d *document) name() string { return d.ref.Namespace + "/" + d.ref.Name }

// Finish chooses what jwtgate serves, translates it, and returns the
// model pieces with every issue and status found since Decode.
func (s *session) Finish() dialect.Result {
	var res dialect.Result
	t := &translator{s: s, out: &res.Config}
	res.Issues = append(res.Issues, t.choose()...)
	if t.gw != nil {
		t.listeners()
	}
	t.claimHeaders = s.claimHeaders()
	t.routeTables()
	t.jwtPolicies()
	for _, d := range s.docs {
		res.Issues = append(res.Issues, d.issues...)
		d.issues = nil
		if n := d.status(); n != nil {
			res.Notes = append(res.Notes, *n)
		}
	}
	return res
}

// translator turns the documents of one load into model pieces.
type translator struct {
	s   *session
	out *model.Config
	// gw is the VirtualGateway jwtgate serves; mesh is true when it
	// serves the mesh route tables of the selected workload instead.
	// Neither: no route table is served.
	gw   *document
	mesh bool
	// failed is true when the choice is in error (reported).
	failed bool
	// claimHeaders maps every header a JWT policy sets from tokens
	// (lower case) to the policy.
	claimHeaders map[string]string
	// ports are the chosen gateway's listeners, one per port.
	ports []*port
	// routes are every route made, in the order they are tried.
	routes []*route
}

// claimHeaders maps every header a JWT policy of the load sets from
// tokens (claimsToHeaders, outputPayloadToHeader), in lower case, to the
// policy's "namespace/name".
func (s *session) claimHeaders() map[string]string {
	out := map[string]string{}
	for _, d := range s.docs {
		if d.jp == nil || d.jp.Spec.Config == nil {
			continue
		}
		for _, p := range d.jp.Spec.Config.Providers {
			hs := []string{p.OutputPayloadToHeader}
			for _, c := range p.ClaimsToHeaders {
				hs = append(hs, c.Header)
			}
			for _, h := range hs {
				if h = strings.ToLower(h); h != "" && out[h] == "" {
					out[h] = d.name()
				}
			}
		}
	}
	return out
}

// byAge orders documents by metadata.creationTimestamp, oldest first
// (those without one after every other, as if created last), then by
// namespace/name.
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
