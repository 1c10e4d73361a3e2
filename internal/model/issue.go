package model

import (
	"errors"
	"fmt"
	"strings"
)

// Severity ranks an Issue.
type Severity int

// Severities. An Error makes a configuration unusable; a Warning is shown
// by validate and logged, and the configuration still loads.
const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Issue is one problem found in a configuration, located by the resource
// it belongs to and a field path inside it.
type Issue struct {
	Severity Severity
	// Origin is the resource's origin: its file, document path and line.
	// The loader may refine Line to the field's own line.
	Origin Origin
	// Resource names the resource, such as `route "httpbin"`; empty for
	// issues about a whole file.
	Resource string
	// Field is the path below Origin.Path, such as "jwt.providers[0]";
	// empty when the issue is about the resource as a whole.
	Field string
	Msg   string
	// Because, when set, names another resource this issue follows from
	// (a route shadowed by an earlier one): when that resource has errors
	// of its own, the issue is only their echo and is not reported.
	Because Ref
}

// Located places the issue at its field: through the origin's Locator,
// Origin.Path and Field become the document's own path for the field and
// Origin.Line its line; Resource is filled in from the origin's Ref when
// empty. ok is false when the dialect already reported that field as
// undecodable, so the issue would only repeat it.
func (i Issue) Located() (_ Issue, ok bool) {
	if i.Resource == "" {
		i.Resource = i.Origin.Ref.Describe()
	}
	if i.Origin.Loc == nil {
		return i, true
	}
	full, line, reported := i.Origin.Loc.Locate(i.Field)
	if reported {
		return i, false
	}
	switch o := i.Origin.Path; {
	case full == o:
		i.Field = ""
	case o != "" && FieldWithin(full, o):
		i.Field = strings.TrimPrefix(full[len(o):], ".")
	default:
		i.Origin.Path, i.Field = "", full
	}
	if line > 0 {
		i.Origin.Line = line
	}
	i.Origin.Loc = nil // placed: a second Located is a no-op
	return i, true
}

// FieldWithin reports whether prefix is the field path itself or one of
// its ancestors, comparing whole segments ("a.b[1]" is not within
// "a.b[10]"; every path is within "").
func FieldWithin(path, prefix string) bool {
	if prefix == "" || path == prefix {
		return true
	}
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	c := path[len(prefix)]
	return c == '.' || c == '['
}

// Path is the full field path: Origin.Path joined with Field.
func (i Issue) Path() string {
	switch {
	case i.Origin.Path == "":
		return i.Field
	case i.Field == "":
		return i.Origin.Path
	case strings.HasPrefix(i.Field, "["):
		return i.Origin.Path + i.Field
	}
	return i.Origin.Path + "." + i.Field
}

// Error formats the issue as "file:line: path: message (resource)". Parts
// that are unknown are left out.
func (i Issue) Error() string {
	var b strings.Builder
	if i.Origin.File != "" {
		b.WriteString(i.Origin.File)
		if i.Origin.Line > 0 {
			fmt.Fprintf(&b, ":%d", i.Origin.Line)
		}
		b.WriteString(": ")
	}
	if i.Severity == Warning {
		b.WriteString("warning: ")
	}
	if p := i.Path(); p != "" {
		b.WriteString(p)
		b.WriteString(": ")
	}
	b.WriteString(i.Msg)
	if i.Resource != "" {
		fmt.Fprintf(&b, " (%s)", i.Resource)
	}
	return b.String()
}

// Issues is a list of issues, errors and warnings together.
type Issues []Issue

// Errors returns only the issues of severity Error.
func (is Issues) Errors() Issues { return is.filter(Error) }

// Warnings returns only the issues of severity Warning.
func (is Issues) Warnings() Issues { return is.filter(Warning) }

func (is Issues) filter(s Severity) Issues {
	var out Issues
	for _, i := range is {
		if i.Severity == s {
			out = append(out, i)
		}
	}
	return out
}

// Err joins the errors (not the warnings) into one error, or returns nil
// when there are none.
func (is Issues) Err() error {
	var errs []error
	for _, i := range is.Errors() {
		errs = append(errs, i)
	}
	return errors.Join(errs...)
}
