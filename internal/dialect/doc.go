package dialect

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// Doc is what a vendor dialect keeps of one document while it reads it:
// the resource's identity, where its fields are, the issues found at
// them and the notes its status is made of. Each dialect's document type
// embeds a Doc, so that every dialect reports a field, a refusal and a
// status the same way.
type Doc struct {
	// Ref is the resource's identity.
	Ref model.Ref
	// File is the file the document came from; Dir is its directory,
	// which relative file names in the document resolve against.
	File, Dir string
	// Line is the line of the document's first key.
	Line int
	// Lines maps each document path to its line.
	Lines strictyaml.Lines
	// Layout is the Locator document of the model pieces made from this
	// one: renames from model field paths to document paths.
	Layout *strictyaml.Document
	// Issues are the problems found so far; the dialect hands them to
	// the loader and clears the slice.
	Issues model.Issues
	// Notes are the status messages collected so far (see Status).
	Notes []NoteDraft
	// HasErrors is set once an error is recorded.
	HasErrors bool
	// Muted drops warnings and noted problems: set on a document that
	// is read for the errors its own product would refuse it with but
	// does not apply to this gateway.
	Muted bool

	pieces int // model pieces made, for their Locator bases
}

// Begin sets the document's file, line and field table from a decoder
// that has read it, and its Ref; an empty namespace is
// model.DefaultNamespace.
func (d *Doc) Begin(in Document, dec *strictyaml.Decoder, namespace, name string) {
	d.File = in.File
	if in.File != "" {
		d.Dir = filepath.Dir(in.File)
	}
	if in.Node != nil {
		d.Line = in.Node.Line
	}
	d.Lines = dec.Lines
	d.Layout = &strictyaml.Document{Lines: dec.Lines, Renames: map[string]string{}, Invalid: dec.Invalid}
	if namespace == "" {
		namespace = model.DefaultNamespace
	}
	d.Ref = model.Ref{APIVersion: in.APIVersion, Kind: in.Kind, Namespace: namespace, Name: name}
}

// Result is the Result of the document's Decode: the resource and the
// issues found so far, which are then forgotten.
func (d *Doc) Result() Result {
	res := Result{
		Resources: []model.Origin{{Ref: d.Ref, File: d.File, Line: d.Line}},
		Issues:    d.Issues,
	}
	d.Issues = nil
	return res
}

// Has reports whether the document sets path to something other than
// null.
func (d *Doc) Has(path string) bool {
	_, ok := d.Lines[path]
	return ok
}

// Reported reports whether the value at path (or an ancestor) could not
// be decoded, and so was reported already.
func (d *Doc) Reported(path string) bool { return d.Layout.Reported(path) }

// Add records an issue at the document path, on line. An issue recorded
// already (a document translated once for each place it is served) is
// not recorded again.
func (d *Doc) Add(sev model.Severity, path string, line int, format string, args ...any) {
	is := model.Issue{
		Severity: sev,
		Origin:   model.Origin{Ref: d.Ref, File: d.File, Line: line},
		Field:    path,
		Msg:      fmt.Sprintf(format, args...),
	}
	d.HasErrors = d.HasErrors || sev == model.Error
	for _, o := range d.Issues {
		if o.Severity == is.Severity && o.Field == is.Field && o.Msg == is.Msg {
			return
		}
	}
	d.Issues = append(d.Issues, is)
}

// Errorf records an error at the document path, unless the decoder
// reported its value already. Errors are what the product itself would
// refuse: the configuration is not served.
func (d *Doc) Errorf(path, format string, args ...any) {
	if !d.Reported(path) {
		d.Add(model.Error, path, d.Lines.Find(path), format, args...)
	}
}

// Warnf records a warning at the document path, unless the decoder
// reported its value already or the document is muted.
func (d *Doc) Warnf(path, format string, args ...any) {
	if !d.Muted && !d.Reported(path) {
		d.Add(model.Warning, path, d.Lines.Find(path), format, args...)
	}
}

// Note records a status message for the document.
func (d *Doc) Note(reason, format string, args ...any) {
	d.Notes = append(d.Notes, NoteDraft{Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// Noted reports a problem at path twice: a warning at the field, and a
// note of reason whose message starts with the path. A muted document
// reports nothing.
func (d *Doc) Noted(reason, path, format string, args ...any) {
	if d.Muted {
		return
	}
	msg := fmt.Sprintf(format, args...)
	d.Warnf(path, "%s", msg)
	d.Note(reason, "%s: %s", path, msg)
}

// NotServed reports a field jwtgate does not serve (or serves narrower,
// failing closed): Noted with reason PartiallyAccepted.
func (d *Doc) NotServed(path, format string, args ...any) {
	d.Noted(model.ReasonPartiallyAccepted, path, format, args...)
}

// NotFound reports a reference that names nothing: Noted with reason
// TargetNotFound.
func (d *Doc) NotFound(path, format string, args ...any) {
	d.Noted(model.ReasonTargetNotFound, path, format, args...)
}

// Status joins the document's notes into one model.Note (see
// JoinNotes); nil when there are none.
func (d *Doc) Status() *model.Note { return JoinNotes(d.Ref, d.Notes) }

// Piece returns the origin of a model piece made from the document at
// docPath, with the Locator base its field paths are renamed from.
func (d *Doc) Piece(kind, docPath string) (model.Origin, string) {
	base := d.Layout.Piece(kind, d.pieces, docPath)
	d.pieces++
	return model.Origin{
		Ref: d.Ref, File: d.File, Path: docPath, Line: d.Lines.Find(docPath),
		Loc: strictyaml.Locator{Doc: d.Layout, Base: base},
	}, base
}

// Rename records that the model field path from came from the document
// path to.
func (d *Doc) Rename(from, to string) { d.Layout.Renames[from] = to }

// FilePath resolves a file name the document names against the
// document's directory.
func (d *Doc) FilePath(p string) string {
	if p == "" || filepath.IsAbs(p) || d.Dir == "" {
		return p
	}
	return filepath.Join(d.Dir, p)
}

// Name is the model name of what the document becomes: "NAMESPACE/NAME".
func (d *Doc) Name() string { return d.Ref.Namespace + "/" + d.Ref.Name }

// CheckMetadata checks a Kubernetes object's name, namespace and
// creation timestamp, and returns the timestamp (zero when absent or
// invalid).
func (d *Doc) CheckMetadata(name, namespace, created string) time.Time {
	switch {
	case name == "":
		if !d.Reported("metadata.name") {
			d.Errorf("metadata", "missing required field %q", "name")
		}
	case len(name) > 253 || !nameRE.MatchString(name):
		d.Errorf("metadata.name", "invalid name %q: want a lower-case DNS subdomain (RFC 1123)", name)
	}
	if namespace != "" && (len(namespace) > 63 || !labelRE.MatchString(namespace)) {
		d.Errorf("metadata.namespace", "invalid namespace %q: want a lower-case DNS label (RFC 1123)", namespace)
	}
	if created == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, created)
	if err != nil {
		d.Errorf("metadata.creationTimestamp", "invalid timestamp %q: want RFC 3339, such as 2024-05-01T12:00:00Z", created)
	}
	return t
}

var (
	// nameRE is a Kubernetes object name (a DNS subdomain, RFC 1123).
	nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// labelRE is a DNS label (RFC 1123): a namespace, a port name.
	labelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// unknownFieldRE is strictyaml's message for a key no field has.
	unknownFieldRE = regexp.MustCompile(`^unknown field (".*")$`)
)

// IsDNSLabel reports whether s is a DNS label (RFC 1123), as Kubernetes
// namespaces and port names are.
func IsDNSLabel(s string) bool { return len(s) <= 63 && labelRE.MatchString(s) }

// UnknownField reads the key out of the decoder's unknown field message.
func UnknownField(msg string) (string, bool) {
	m := unknownFieldRE.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	key, err := strconv.Unquote(m[1])
	return key, err == nil
}

// Unknown says what a dialect makes of a key its API does not have.
type Unknown int

const (
	// UnknownIgnored: a warning, and the key is ignored.
	UnknownIgnored Unknown = iota
	// UnknownNotServed: a warning, and a key under spec also makes the
	// status PartiallyAccepted (the resource may ask for more than is
	// served).
	UnknownNotServed
	// UnknownRefused: a key under metadata is ignored with a warning; any
	// other is an error. For security resources, where a misspelt field
	// whose absence grants more must not pass.
	UnknownRefused
)

// ReportProblems records what the decoder could not decode: unknown keys
// as unknown says, every other problem as an error at its field.
func (d *Doc) ReportProblems(problems []strictyaml.Problem, unknown Unknown) {
	for _, p := range problems {
		key, ok := UnknownField(p.Msg)
		if !ok || unknown == UnknownRefused && !strictyaml.HasPrefix(p.Path, "metadata") {
			d.Add(model.Error, p.Path, p.Line, "%s", p.Msg)
			continue
		}
		at := strictyaml.Key(p.Path, key)
		d.Add(model.Warning, at, p.Line, "unknown field %q: ignored", key)
		if unknown == UnknownNotServed && strictyaml.HasPrefix(at, "spec") {
			d.Note(model.ReasonPartiallyAccepted, "%s: unknown field, not served", at)
		}
	}
}
