package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The documented shape of `validate -o json`.
type jsonReport struct {
	Resources []jsonResource `json:"resources"`
	Errors    []jsonIssue    `json:"errors"`
	Warnings  []jsonIssue    `json:"warnings"`
}

type jsonResource struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Namespace  string          `json:"namespace"`
	Name       string          `json:"name"`
	File       string          `json:"file"`
	Line       int             `json:"line"`
	Conditions []jsonCondition `json:"conditions"`
}

type jsonCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

type jsonIssue struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Field    string `json:"field"`
	Resource string `json:"resource"`
	Message  string `json:"message"`
}

// keysOf are the JSON object keys of each field of v's type, in order.
func keysOf(v any) []string {
	var out []string
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		out = append(out, t.Field(i).Tag.Get("json"))
	}
	slices.Sort(out)
	return out
}

// checkKeys checks that the object raw has exactly the keys of shape's
// fields: none missing (a decoder with DisallowUnknownFields catches
// extra ones only).
func checkKeys(t *testing.T, what string, raw json.RawMessage, shape any) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s is not an object: %v", what, err)
	}
	var got []string
	for k, v := range m {
		got = append(got, k)
		if string(v) == "null" {
			t.Errorf("%s.%s is null", what, k)
		}
	}
	slices.Sort(got)
	if want := keysOf(shape); !slices.Equal(got, want) {
		t.Errorf("%s has the keys %q, want %q", what, got, want)
	}
}

// decodeReport decodes out strictly into the documented shape.
func decodeReport(t *testing.T, out string) jsonReport {
	t.Helper()
	var rep jsonReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("not the documented shape: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value:\n%s", out)
	}
	var raw struct {
		Resources []json.RawMessage `json:"resources"`
		Errors    []json.RawMessage `json:"errors"`
		Warnings  []json.RawMessage `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, "the report", json.RawMessage(out), jsonReport{})
	for i, r := range raw.Resources {
		checkKeys(t, fmt.Sprintf("resources[%d]", i), r, jsonResource{})
		var conds struct{ Conditions []json.RawMessage }
		_ = json.Unmarshal(r, &conds)
		for j, c := range conds.Conditions {
			checkKeys(t, fmt.Sprintf("resources[%d].conditions[%d]", i, j), c, jsonCondition{})
		}
	}
	for i, e := range raw.Errors {
		checkKeys(t, fmt.Sprintf("errors[%d]", i), e, jsonIssue{})
	}
	for i, w := range raw.Warnings {
		checkKeys(t, fmt.Sprintf("warnings[%d]", i), w, jsonIssue{})
	}
	return rep
}

// line is the issue as the text output prints it:
// `file:line: [warning: ]field: message (resource)`.
func (is jsonIssue) line(warning bool) string {
	var b strings.Builder
	if is.File != "" {
		b.WriteString(is.File)
		if is.Line > 0 {
			fmt.Fprintf(&b, ":%d", is.Line)
		}
		b.WriteString(": ")
	}
	if warning {
		b.WriteString("warning: ")
	}
	if is.Field != "" {
		b.WriteString(is.Field + ": ")
	}
	b.WriteString(is.Message)
	if is.Resource != "" {
		fmt.Fprintf(&b, " (%s)", is.Resource)
	}
	return b.String()
}

// line is the resource's status line of the text output.
func (r jsonResource) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s/%s", r.Kind, r.Namespace, r.Name)
	if r.File != "" {
		fmt.Fprintf(&b, " (%s", r.File)
		if r.Line > 0 {
			fmt.Fprintf(&b, ":%d", r.Line)
		}
		b.WriteString(")")
	}
	for _, c := range r.Conditions {
		fmt.Fprintf(&b, ": %s=%s %s", c.Type, c.Status, c.Reason)
		if c.Message != "" {
			b.WriteString(": " + c.Message)
		}
	}
	return b.String()
}

// textReport is what the text output says: its issue lines (errors and
// warnings apart), its status lines, and the counts of its last line.
type textReport struct {
	errors, warnings, statuses []string
	last                       string
}

func parseText(out string) textReport {
	var r textReport
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	inIssues, inStatuses := true, false
	for _, l := range lines {
		switch {
		case inIssues && l == "":
			inIssues = false
		case inIssues && strings.HasPrefix(l, "route "):
			inIssues = false // no issue: the explanation comes first
		case inIssues && strings.Contains(l, ": warning: "):
			r.warnings = append(r.warnings, l)
		case inIssues:
			r.errors = append(r.errors, l)
		case l == "resources:":
			inStatuses = true
		case inStatuses && strings.HasPrefix(l, "  "):
			r.statuses = append(r.statuses, strings.TrimPrefix(l, "  "))
		case inStatuses:
			inStatuses = false
		}
	}
	r.last = lines[len(lines)-1]
	return r
}

// TestValidateJSON runs `validate -o json` on the golden inputs, decodes
// the output strictly into the documented shape, and checks that it
// reports the same statuses, errors and warnings as the text output, with
// the same exit code.
func TestValidateJSON(t *testing.T) {
	for _, tc := range []struct {
		name               string
		code               int
		nErrors, nWarnings int
		accepted           int // resources with Accepted=True
	}{
		{"good", exitOK, 0, 2, 10},
		{"bad", exitError, 9, 0, 0},
		{"build", exitError, 7, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := "testdata/validate/" + tc.name + ".yaml"
			code, out, errOut := runCmd(t, "validate", "-o", "json", "-c", file)
			if code != tc.code || errOut != "" {
				t.Fatalf("exit %d, stderr %q; want exit %d and nothing on stderr", code, errOut, tc.code)
			}
			tcode, text, _ := runCmd(t, "validate", "-c", file)
			if tcode != code {
				t.Errorf("text output exits %d, JSON %d", tcode, code)
			}
			again := func() string { _, o, _ := runCmd(t, "validate", "-o", "json", "-c", file); return o }()
			if again != out {
				t.Errorf("two runs differ:\n%s\n%s", out, again)
			}
			rep := decodeReport(t, out)
			txt := parseText(text)

			if len(rep.Errors) != tc.nErrors || len(rep.Warnings) != tc.nWarnings {
				t.Errorf("%d errors and %d warnings, want %d and %d", len(rep.Errors), len(rep.Warnings), tc.nErrors, tc.nWarnings)
			}
			var errs, warns, statuses []string
			for _, e := range rep.Errors {
				errs = append(errs, e.line(false))
			}
			for _, w := range rep.Warnings {
				warns = append(warns, w.line(true))
			}
			accepted := 0
			for _, r := range rep.Resources {
				statuses = append(statuses, r.line())
				if r.APIVersion != "jwtgate.dev/v1alpha1" || r.File != file || r.Line <= 0 || len(r.Conditions) != 1 {
					t.Errorf("resource %+v: want the native apiVersion, its file and line, one condition", r)
				}
				if len(r.Conditions) > 0 && r.Conditions[0].Status == "True" {
					accepted++
				}
			}
			if accepted != tc.accepted {
				t.Errorf("%d resources accepted, want %d", accepted, tc.accepted)
			}
			for _, c := range []struct {
				what       string
				json, text []string
			}{
				{"errors", errs, txt.errors},
				{"warnings", warns, txt.warnings},
				{"statuses", statuses, txt.statuses},
			} {
				if !slices.Equal(c.json, c.text) {
					t.Errorf("%s differ:\nJSON:\n%s\ntext:\n%s", c.what, strings.Join(c.json, "\n"), strings.Join(c.text, "\n"))
				}
			}
			if len(statuses) == 0 {
				t.Error("no resources")
			}
			wantLast := fmt.Sprintf("invalid: %s, %s", plural(len(rep.Errors), "error"), plural(len(rep.Warnings), "warning"))
			if code == exitOK {
				wantLast = fmt.Sprintf("; %s", plural(len(rep.Warnings), "warning"))
			}
			if !strings.HasSuffix(txt.last, wantLast) {
				t.Errorf("the text output ends %q, want it to end %q", txt.last, wantLast)
			}
			if !bytes.HasSuffix([]byte(out), []byte("}\n")) {
				t.Errorf("the JSON output does not end with a newline")
			}
		})
	}
}
