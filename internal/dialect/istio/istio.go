// Package istio reads Istio's security resources as they are:
// RequestAuthentication and AuthorizationPolicy of security.istio.io/v1
// and v1beta1, enforced with Istio's semantics.
//
// jwtgate stands in for one workload (dialect.Selection: its namespace
// and pod labels, and the Gateway API gateway it is, if any). The dialect
// is a dialect.Session: Decode reads and checks each document on its own;
// Finish, once every document is read, decides which resources apply to
// that workload (see attach) and translates them:
//
//   - the RequestAuthentications that apply combine into one JWT policy
//     (model.JWTPolicy, named after the first, "NAMESPACE/NAME") whose
//     providers are all their jwtRules (provider "NAMESPACE/NAME/I" for
//     rule I), in mode allowMissing: a request without a token passes
//     authentication, an invalid token is 401, and a token no rule's
//     issuer names is 401 "Jwt issuer is not configured";
//   - each AuthorizationPolicy that applies becomes a model.Policy
//     ("NAMESPACE/NAME"): ALLOW and DENY as written, CUSTOM as a DENY of
//     what its rules select (the external authorizer cannot be asked),
//     AUDIT and dry-run policies not at all (they never change a
//     decision in Istio either).
//
// Both apply to every route of every non-egress listener. Every document
// gets a status: NotSelected when it is aimed at another workload,
// Unsupported when nothing of it is enforced, PartiallyAccepted when a
// part was dropped, failing closed. The fields of each model piece are
// mapped back to the document's fields (strictyaml.Document.Renames), so
// that what validation finds later is reported at the vendor document's
// own file, line and field path.
package istio

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// The apiVersions and kinds this dialect reads. v1 is the same API as
// v1beta1.
const (
	SecurityV1      = "security.istio.io/v1"
	SecurityV1beta1 = "security.istio.io/v1beta1"

	KindRequestAuthentication = "RequestAuthentication"
	KindAuthorizationPolicy   = "AuthorizationPolicy"
)

// RootNamespace is Istio's default root namespace: resources there apply
// mesh-wide.
const RootNamespace = "istio-system"

// New makes the Session of one load, for the workload env.Selection
// describes. It is a dialect.Family.
func New(env dialect.Env) dialect.Session { return &session{sel: env.Selection} }

// session collects every Istio document of a load.
type session struct {
	sel  dialect.Selection
	docs []*document
}

// document is one Istio document, decoded.
type document struct {
	file   string
	ref    model.Ref
	line   int // of the document's first key
	meta   *metadata
	lines  strictyaml.Lines
	layout *strictyaml.Document

	ra *object[requestAuthenticationSpec]
	ap *object[authorizationPolicySpec]

	issues model.Issues
	notes  []note
	pieces int // model pieces made, for their Locator bases
	// applied is set by Finish when the document applies to the
	// workload. A document that does not is still translated, for the
	// errors Istio itself would refuse it with, but its warnings and
	// the notes of its translation are not reported.
	applied bool
}

// note is a status the dialect decides for a document.
type note struct{ reason, msg string }

// Decode reads one document and checks what can be checked without the
// others. Finish translates what applies.
func (s *session) Decode(in dialect.Document) dialect.Result {
	d := &document{file: in.File}
	if in.Node != nil {
		d.line = in.Node.Line
	}
	dec := strictyaml.NewDecoder()
	var at *attachment
	switch in.Kind {
	case KindRequestAuthentication:
		d.ra = &object[requestAuthenticationSpec]{}
		dec.Decode(in.Node, "", d.ra)
		d.meta, at = &d.ra.Metadata, &d.ra.Spec.attachment
	case KindAuthorizationPolicy:
		d.ap = &object[authorizationPolicySpec]{}
		dec.Decode(in.Node, "", d.ap)
		d.meta, at = &d.ap.Metadata, &d.ap.Spec.attachment
	default:
		// Only reachable when the loader's table lists a kind this
		// package does not know.
		is := model.Issue{Severity: model.Error, Origin: model.Origin{File: in.File, Line: d.line},
			Msg: fmt.Sprintf("istio: kind %q is not read by this dialect", in.Kind)}
		return dialect.Result{Issues: model.Issues{is}}
	}
	d.lines = dec.Lines
	d.layout = &strictyaml.Document{Lines: dec.Lines, Renames: map[string]string{}, Invalid: dec.Invalid}
	d.ref = model.Ref{APIVersion: in.APIVersion, Kind: in.Kind, Namespace: d.meta.Namespace, Name: d.meta.Name}
	if d.ref.Namespace == "" {
		d.ref.Namespace = model.DefaultNamespace
	}
	for _, p := range dec.Problems {
		if key, ok := unknownField(p.Msg); ok && strictyaml.HasPrefix(p.Path, "metadata") {
			d.add(model.Warning, strictyaml.Key(p.Path, key), p.Line, "unknown field %q: ignored", key)
			continue
		}
		// An unknown key outside metadata may be a misspelt field of a
		// security resource, whose absence would grant more: refused.
		d.add(model.Error, p.Path, p.Line, "%s", p.Msg)
	}
	if d.meta.Name == "" && !d.reported("metadata.name") {
		d.errorf("metadata", "missing required field %q", "name")
	}
	d.checkAttachment(at)
	for _, o := range s.docs {
		if o.ref == d.ref && d.ref.Name != "" {
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

// has reports whether the document sets path.
func (d *document) has(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// reported reports whether the value at path (or an ancestor) could not
// be decoded, and so was reported already.
func (d *document) reported(path string) bool {
	for _, p := range d.layout.Invalid {
		if strictyaml.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// add records an issue at the document path, on line.
func (d *document) add(sev model.Severity, path string, line int, format string, args ...any) {
	d.issues = append(d.issues, model.Issue{
		Severity: sev,
		Origin:   model.Origin{Ref: d.ref, File: d.file, Line: line},
		Field:    path,
		Msg:      fmt.Sprintf(format, args...),
	})
}

// errorf records an error at the document path, unless the decoder
// reported its value already.
func (d *document) errorf(path, format string, args ...any) {
	if !d.reported(path) {
		d.add(model.Error, path, d.lines.Find(path), format, args...)
	}
}

// warnf records a warning at the document path, unless the decoder
// reported its value already or the document does not apply.
func (d *document) warnf(path, format string, args ...any) {
	if d.applied && !d.reported(path) {
		d.add(model.Warning, path, d.lines.Find(path), format, args...)
	}
}

// note records a status for the document.
func (d *document) note(reason, format string, args ...any) {
	d.notes = append(d.notes, note{reason, fmt.Sprintf(format, args...)})
}

// narrowed reports a part of the document that jwtgate cannot enforce
// and translated failing closed: a warning at its field, and a note
// (PartiallyAccepted) on the status.
func (d *document) narrowed(path, format string, args ...any) {
	if !d.applied {
		return
	}
	msg := fmt.Sprintf(format, args...)
	d.warnf(path, "%s", msg)
	d.note(model.ReasonPartiallyAccepted, "%s: %s", path, msg)
}

// notePriority orders reasons: the status shows the strongest, with every
// message.
var notePriority = []string{
	model.ReasonNotSelected, model.ReasonUnsupported, model.ReasonTargetNotFound, model.ReasonPartiallyAccepted,
}

// status joins the document's notes into one model.Note; nil when there
// are none.
func (d *document) status() *model.Note {
	if len(d.notes) == 0 {
		return nil
	}
	best := len(notePriority)
	var msgs []string
	for _, n := range d.notes {
		if i := slices.Index(notePriority, n.reason); i >= 0 && i < best {
			best = i
		}
		if !slices.Contains(msgs, n.msg) {
			msgs = append(msgs, n.msg)
		}
	}
	reason := model.ReasonPartiallyAccepted
	if best < len(notePriority) {
		reason = notePriority[best]
	}
	return &model.Note{Ref: d.ref, Reason: reason, Message: strings.Join(msgs, "; ")}
}

// piece returns the origin of a model piece made from the document at
// docPath, with the Locator base its field paths are renamed from.
func (d *document) piece(kind, docPath string) (model.Origin, string) {
	base := "$" + kind + "[" + strconv.Itoa(d.pieces) + "]"
	d.pieces++
	d.rename(base, docPath)
	return model.Origin{
		Ref: d.ref, File: d.file, Path: docPath, Line: d.lines.Find(docPath),
		Loc: strictyaml.Locator{Doc: d.layout, Base: base},
	}, base
}

// rename records that the model field path from came from the document
// path to.
func (d *document) rename(from, to string) { d.layout.Renames[from] = to }

// name is the model name of what the document becomes: "NAMESPACE/NAME".
func (d *document) name() string { return d.ref.Namespace + "/" + d.ref.Name }

// Finish decides what applies to the workload, translates it, and returns
// the model pieces with every issue and status found since Decode.
func (s *session) Finish() dialect.Result {
	var res dialect.Result
	var ras, aps []*document
	for _, d := range s.docs {
		d.applied = s.attach(d)
		if d.ra != nil {
			ras = append(ras, d)
		} else {
			aps = append(aps, d)
		}
	}
	split := requestAuthentications(ras, &res.Config)
	for _, d := range aps {
		if p, ok := d.authorizationPolicy(split); ok && d.applied {
			res.Config.Policies = append(res.Config.Policies, p)
		}
	}
	for _, d := range s.docs {
		res.Issues = append(res.Issues, d.issues...)
		d.issues = nil
		if n := d.status(); n != nil {
			res.Notes = append(res.Notes, *n)
		}
	}
	return res
}
