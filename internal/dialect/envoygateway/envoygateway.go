// Package envoygateway reads Envoy Gateway's SecurityPolicy
// (gateway.envoyproxy.io/v1alpha1) as it is: its JWT authentication and
// its ordered authorization rules, attached to the Gateway API Gateways,
// listeners, HTTPRoutes and route rules that the Gateway API dialect
// (package gatewayapi) serves.
//
// The dialect is a dialect.Session: Decode reads and checks each
// document on its own. The Gateway API dialect is a family of its own;
// the two meet through gatewayapi.Join, so that Finish, once every
// document is read, sees the Gateways and HTTPRoutes read and the model
// routes made from them (with the labels naming each route's HTTPRoute,
// rule, Gateway and listener), whichever family finishes first. Finish
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
	"regexp"
	"slices"
	"strconv"
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
	file   string
	ref    model.Ref
	line   int // of the document's first key
	obj    object
	lines  strictyaml.Lines
	layout *strictyaml.Document
	// created is metadata.creationTimestamp; zero when absent.
	created time.Time

	issues model.Issues
	// hasErrors is set by the first error: the document is refused, and
	// translating it would only repeat its errors.
	hasErrors bool
	notes     []note
	pieces    int // model pieces made, for their Locator bases

	targets []*target // resolved by Finish
}

// note is a status the dialect decides for a document.
type note = dialect.NoteDraft

// Decode reads one document and checks what can be checked without the
// others.
func (s *session) Decode(in dialect.Document) dialect.Result {
	d := &document{file: in.File}
	if in.Node != nil {
		d.line = in.Node.Line
	}
	if in.Kind != KindSecurityPolicy {
		// Only reachable when the loader's table lists a kind this
		// package does not know.
		is := model.Issue{Severity: model.Error, Origin: model.Origin{File: in.File, Line: d.line},
			Msg: fmt.Sprintf("envoygateway: kind %q is not read by this dialect", in.Kind)}
		return dialect.Result{Issues: model.Issues{is}}
	}
	dec := strictyaml.NewDecoder()
	dec.Decode(in.Node, "", &d.obj)
	d.lines = dec.Lines
	d.layout = &strictyaml.Document{Lines: dec.Lines, Renames: map[string]string{}, Invalid: dec.Invalid}
	m := &d.obj.Metadata
	d.ref = model.Ref{APIVersion: in.APIVersion, Kind: in.Kind, Namespace: m.Namespace, Name: m.Name}
	if d.ref.Namespace == "" {
		d.ref.Namespace = model.DefaultNamespace
	}
	for _, p := range dec.Problems {
		if key, ok := unknownField(p.Msg); ok && strictyaml.HasPrefix(p.Path, "metadata") {
			d.add(model.Warning, strictyaml.Key(p.Path, key), p.Line, "unknown field %q: ignored", key)
			continue
		}
		// An unknown key in a security resource may be a misspelt field
		// whose absence would grant more: refused.
		d.add(model.Error, p.Path, p.Line, "%s", p.Msg)
	}
	d.metadata()
	d.checkTargets()
	d.checkJWT()
	d.checkAuthorization()
	for _, o := range s.docs {
		if o.ref.Namespace == d.ref.Namespace && o.ref.Name == d.ref.Name && d.ref.Name != "" {
			d.errorf("metadata.name", "%s is defined already at %s:%d", d.ref, o.file, o.line)
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

// nameRE is a Kubernetes object name (a DNS subdomain, RFC 1123);
// labelRE a namespace (a DNS label).
var (
	nameRE  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// metadata checks the name, namespace and creation timestamp.
func (d *document) metadata() {
	m := &d.obj.Metadata
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

// reported reports whether the value at path (or an ancestor) could not
// be decoded, and so was reported already.
func (d *document) reported(path string) bool { return d.layout.Reported(path) }

// add records an issue at the document path, on line; an issue already
// recorded (a rule read for two targets) is not recorded again.
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
	d.hasErrors = d.hasErrors || sev == model.Error
	d.issues = append(d.issues, is)
}

// errorf records an error at the document path, unless the decoder
// reported its value already. Errors are what Envoy Gateway (or its
// API server) refuses, and what jwtgate cannot serve without granting
// more: the configuration is not served.
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
	msg := fmt.Sprintf(format, args...)
	if !slices.Contains(d.notes, note{Reason: reason, Message: msg}) {
		d.notes = append(d.notes, note{Reason: reason, Message: msg})
	}
}

// noted reports a problem at path with a warning, and a note of reason
// whose message starts with the path.
func (d *document) noted(reason, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.warnf(path, "%s", msg)
	d.note(reason, "%s: %s", path, msg)
}

// narrowed reports a part that jwtgate cannot enforce as written and
// translated failing closed: a warning at it, and PartiallyAccepted.
func (d *document) narrowed(path, format string, args ...any) {
	d.noted(model.ReasonPartiallyAccepted, path, format, args...)
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

// name is "NAMESPACE/NAME", the model name of what the document becomes.
func (d *document) name() string { return d.ref.Namespace + "/" + d.ref.Name }

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
		res.Issues = append(res.Issues, d.issues...)
		d.issues = nil
		if n := d.status(); n != nil {
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
	return strings.Compare(a.name(), b.name())
}
