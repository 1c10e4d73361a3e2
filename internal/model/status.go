package model

import (
	"fmt"
	"strings"
)

// The status condition type every resource gets, and its reasons.
const (
	ConditionAccepted = "Accepted"

	// ReasonAccepted: the resource is enforced exactly as written.
	ReasonAccepted = "Accepted"
	// ReasonInvalid: the resource has errors; the configuration is refused.
	ReasonInvalid = "Invalid"
	// ReasonConflicted: another resource wins over this one (an older JWT
	// policy on the same route, for one).
	ReasonConflicted = "Conflicted"
	// ReasonTargetNotFound: the resource names targets that do not exist.
	ReasonTargetNotFound = "TargetNotFound"
	// ReasonNotSelected: the resource is aimed at another gateway or
	// workload than the one jwtgate stands for.
	ReasonNotSelected = "NotSelected"
	// ReasonUnsupported: the resource, or its kind, is not supported; it
	// grants nothing.
	ReasonUnsupported = "Unsupported"
	// ReasonPartiallyAccepted: part of the resource could not be
	// translated and was dropped or narrowed, failing closed.
	ReasonPartiallyAccepted = "PartiallyAccepted"
	// ReasonNotServed: the resource itself is fine, but the configuration
	// it belongs to has errors elsewhere and is refused whole.
	ReasonNotServed = "NotServed"
	// ReasonIgnored: a Kubernetes object with no meaning for the gateway
	// (a Deployment, a ServiceAccount); it is read and set aside.
	ReasonIgnored = "Ignored"
)

// StatusCondition is one status condition, in the shape of Kubernetes'.
type StatusCondition struct {
	Type string `json:"type" yaml:"type"`
	// Status is "True" or "False".
	Status  string `json:"status" yaml:"status"`
	Reason  string `json:"reason" yaml:"reason"`
	Message string `json:"message" yaml:"message"`
}

// Status is the outcome of reading one resource.
type Status struct {
	Ref        `yaml:",inline"`
	File       string            `json:"file" yaml:"file,omitempty"`
	Line       int               `json:"line" yaml:"line,omitempty"`
	Conditions []StatusCondition `json:"conditions" yaml:"conditions"`
}

// Accepted reports whether the resource's Accepted condition is True.
func (s Status) Accepted() bool {
	for _, c := range s.Conditions {
		if c.Type == ConditionAccepted {
			return c.Status == "True"
		}
	}
	return false
}

// String is the status line `validate` prints: `Kind ns/name
// (file:line): Accepted` or `...: Invalid: message`.
func (s Status) String() string {
	var b strings.Builder
	b.WriteString(s.Ref.String())
	if s.File != "" {
		fmt.Fprintf(&b, " (%s", s.File)
		if s.Line > 0 {
			fmt.Fprintf(&b, ":%d", s.Line)
		}
		b.WriteString(")")
	}
	for _, c := range s.Conditions {
		fmt.Fprintf(&b, ": %s=%s %s", c.Type, c.Status, c.Reason)
		if c.Message != "" {
			b.WriteString(": ")
			b.WriteString(c.Message)
		}
	}
	return b.String()
}

// Note is a status decided while reading or compiling a resource, other
// than by its errors: conflicts, unsupported parts, other targets.
type Note struct {
	Ref Ref
	// Reason is one of the Reason constants other than ReasonAccepted
	// and ReasonInvalid.
	Reason  string
	Message string
}

// Statuses gives every resource read its status: Invalid with its first
// error when it has errors; else the reason of its first note; else, when
// the configuration is not served (served is false because of errors
// elsewhere), NotServed; else Accepted (mentioning warnings). Resources
// listed twice get one status.
func Statuses(resources []Origin, issues Issues, notes []Note, served bool) []Status {
	var out []Status
	seen := map[Ref]bool{}
	for _, o := range resources {
		if seen[o.Ref] {
			continue
		}
		seen[o.Ref] = true
		st := Status{Ref: o.Ref, File: o.File, Line: o.Line}
		c := StatusCondition{Type: ConditionAccepted, Status: "True", Reason: ReasonAccepted}
		var errs, warns Issues
		for _, is := range issues {
			if is.Origin.Ref != o.Ref {
				continue
			}
			if is.Severity == Error {
				errs = append(errs, is)
			} else {
				warns = append(warns, is)
			}
		}
		var note *Note
		for i := range notes {
			if notes[i].Ref == o.Ref {
				note = &notes[i]
				break
			}
		}
		switch {
		case len(errs) > 0:
			c.Status, c.Reason, c.Message = "False", ReasonInvalid, summarize(errs, "error")
		case note != nil:
			c.Status, c.Reason, c.Message = "False", note.Reason, note.Message
		case !served:
			c.Status, c.Reason, c.Message = "False", ReasonNotServed, "the configuration has errors in other resources and is refused whole"
		case len(warns) > 0:
			c.Message = summarize(warns, "warning")
		}
		st.Conditions = []StatusCondition{c}
		out = append(out, st)
	}
	return out
}

// summarize is the first issue's field and message, and how many more.
func summarize(is Issues, word string) string {
	first := is[0]
	msg := first.Msg
	if p := first.Path(); p != "" {
		msg = p + ": " + msg
	}
	if n := len(is) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more %s", n, word)
		if n > 1 {
			msg += "s"
		}
		msg += ")"
	}
	return msg
}
