package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

const validateSynopsis = `-c PATH [-c PATH...] [-o text|json]

Loads and compiles the configuration without opening any socket, prints
every error and warning, then for each route what it requires: the
effective authentication requirement and the authorization policies that
apply, in the order they are evaluated; then one status line per
resource read. -o json prints the statuses, errors and warnings as one
JSON object instead. Exit 0 when there is no error.`

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", validateSynopsis, stderr)
	var paths listFlag
	fs.Var(&paths, "c", "configuration file or folder; repeatable")
	format := fs.String("o", "text", "output format: text or json")
	target := addTargetFlags(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	sel, err := target.selection()
	if err != nil {
		fmt.Fprintf(stderr, "jwtgate validate: %v\n", err)
		return exitUsage
	}
	if len(paths.values) == 0 {
		fmt.Fprintln(stderr, "jwtgate validate: at least one -c PATH is required")
		fs.Usage()
		return exitUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "jwtgate validate: -o %q: want text or json\n", *format)
		return exitUsage
	}
	snap := gateway.CompileFor(sel, paths.values, proxy.Options{Resolve: target.resolve.values})
	if snap.Runtime != nil {
		defer snap.Runtime.Close()
	}
	if *format == "json" {
		return validateJSON(snap, stdout)
	}
	return validate(snap, stdout)
}

func validate(snap *gateway.Snapshot, w io.Writer) int {
	cfg, issues := snap.Config, snap.Issues
	for _, is := range issues {
		fmt.Fprintln(w, is.Error())
	}
	nerr, nwarn := len(issues.Errors()), len(issues.Warnings())
	if len(issues) > 0 {
		fmt.Fprintln(w)
	}
	if snap.OK() {
		explain(w, cfg, snap.Runtime.Explain())
	}
	printStatuses(w, snap.Statuses)
	if !snap.OK() {
		fmt.Fprintf(w, "invalid: %s, %s\n", plural(nerr, "error"), plural(nwarn, "warning"))
		return exitError
	}
	egress := ""
	if n := len(cfg.Egress.Servers); n > 0 {
		egress = ", " + plural(n, "egress server")
	}
	fmt.Fprintf(w, "valid: %s, %s, %s, %s%s; %s\n",
		plural(len(cfg.Listeners), "listener"), plural(len(cfg.Providers), "provider"),
		plural(len(cfg.Routes), "route"), plural(len(cfg.Policies), "policy"), egress, plural(nwarn, "warning"))
	return exitOK
}

// printStatuses prints one line per resource read.
func printStatuses(w io.Writer, statuses []model.Status) {
	if len(statuses) == 0 {
		return
	}
	fmt.Fprintln(w, "resources:")
	for _, st := range statuses {
		fmt.Fprintf(w, "  %s\n", st)
	}
	fmt.Fprintln(w)
}

// validateReport is the JSON that `validate -o json` prints.
type validateReport struct {
	Resources []model.Status `json:"resources"`
	Errors    []issueJSON    `json:"errors"`
	Warnings  []issueJSON    `json:"warnings"`
}

// issueJSON is one error or warning as data.
type issueJSON struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Field    string `json:"field"`
	Resource string `json:"resource"`
	Message  string `json:"message"`
}

func validateJSON(snap *gateway.Snapshot, w io.Writer) int {
	rep := validateReport{Resources: snap.Statuses, Errors: []issueJSON{}, Warnings: []issueJSON{}}
	if rep.Resources == nil {
		rep.Resources = []model.Status{}
	}
	for _, is := range snap.Issues {
		j := issueJSON{File: is.Origin.File, Line: is.Origin.Line, Field: is.Path(), Resource: is.Resource, Message: is.Msg}
		if is.Severity == model.Error {
			rep.Errors = append(rep.Errors, j)
		} else {
			rep.Warnings = append(rep.Warnings, j)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
	if !snap.OK() {
		return exitError
	}
	return exitOK
}

// explain prints, for each route in order, what it matches, where it
// forwards, the authentication requirement that governs it and the
// authorization policies that apply, in evaluation order.
func explain(w io.Writer, cfg *model.Config, routes []proxy.RouteExplanation) {
	addrs, egress := map[string]string{}, map[string]bool{}
	for _, l := range cfg.Listeners {
		addrs[l.Name] = l.Address
		egress[l.Name] = l.IsEgress()
	}
	for _, r := range routes {
		kind := "route"
		if egress[r.Listener] {
			kind = "egress server"
		}
		fmt.Fprintf(w, "%s %q", kind, r.Route)
		if r.Listener != "" {
			fmt.Fprintf(w, " on listener %q", r.Listener)
			if a := addrs[r.Listener]; a != "" {
				fmt.Fprintf(w, " (%s)", a)
			}
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "  match:          %s\n", r.Match)
		fmt.Fprintf(w, "  backend:        %s\n", r.Backend)
		fmt.Fprintf(w, "  authentication: %s\n", describeJWT(r.JWT))
		if r.JWT != nil && len(r.JWT.NotApplied) > 0 {
			fmt.Fprintf(w, "  not applied:    %s (only the first requirement that reaches a route applies)\n", quoteList("jwtPolicy", r.JWT.NotApplied))
		}
		fmt.Fprintln(w, "  authorization:")
		policies := r.Policies
		if len(policies) == 0 {
			policies = []string{"no policies: allow every request"}
		}
		for _, line := range policies {
			fmt.Fprintf(w, "    %s\n", line)
		}
		fmt.Fprintln(w)
	}
	if plans := cfg.EgressPlans(); len(plans) > 0 {
		fmt.Fprintln(w, "egress hosts (which rules decide):")
		for _, p := range plans {
			fmt.Fprintf(w, "  %s\n", p)
		}
		fmt.Fprintln(w)
	}
}

func describeJWT(j *proxy.JWTExplanation) string {
	if j == nil {
		return "none: the route is open"
	}
	var b strings.Builder
	switch j.Mode {
	case model.AuthAllowMissing:
		b.WriteString("allowMissing (no token passes unauthenticated; an invalid token is 401)")
	case model.AuthAllowMissingOrFailed:
		b.WriteString("allowMissingOrFailed (every request passes; only a verified token gives an identity)")
	default:
		b.WriteString("required")
	}
	if j.RequireAll {
		b.WriteString(", a token for each of ")
	} else {
		b.WriteString(", a token for any of ")
	}
	b.WriteString(quoteList("provider", j.Providers))
	phase := j.Phase
	if phase == "" {
		phase = model.PhasePreAuthz
	}
	fmt.Fprintf(&b, ", phase %s", phase)
	if j.Priority != 0 {
		fmt.Fprintf(&b, " priority %d", j.Priority)
	}
	fmt.Fprintf(&b, ", from %s", j.From)
	return b.String()
}

func quoteList(kind string, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(names) == 1 {
		return kind + " " + q[0]
	}
	return kind + "s " + strings.Join(q, ", ")
}
