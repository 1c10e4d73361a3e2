package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

const validateSynopsis = `-c PATH [-c PATH...]

Loads and compiles the configuration without opening any socket, prints
every error and warning, then for each route what it requires: the
effective authentication requirement and the authorization policies that
apply, in the order they are evaluated. Exit 0 when there is no error.`

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", validateSynopsis, stderr)
	var paths listFlag
	fs.Var(&paths, "c", "configuration file or folder; repeatable")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if len(paths.values) == 0 {
		fmt.Fprintln(stderr, "jwtgate validate: at least one -c PATH is required")
		fs.Usage()
		return exitUsage
	}
	return validate(paths.values, stdout)
}

func validate(paths []string, w io.Writer) int {
	logger := slog.New(slog.DiscardHandler)
	cfg, issues := loadConfig(paths)
	var routes []proxy.RouteExplanation
	if issues.Err() == nil && cfg != nil {
		rt, more := buildRuntime(cfg, logger)
		issues = append(issues, more...)
		if rt != nil {
			routes = rt.Explain()
			rt.Close()
		}
	}
	for _, is := range issues {
		fmt.Fprintln(w, is.Error())
	}
	nerr, nwarn := len(issues.Errors()), len(issues.Warnings())
	if nerr > 0 || cfg == nil {
		fmt.Fprintf(w, "invalid: %s, %s\n", plural(nerr, "error"), plural(nwarn, "warning"))
		return exitError
	}
	if len(issues) > 0 {
		fmt.Fprintln(w)
	}
	explain(w, cfg, routes)
	fmt.Fprintf(w, "valid: %s, %s, %s, %s; %s\n",
		plural(len(cfg.Listeners), "listener"), plural(len(cfg.Providers), "provider"),
		plural(len(cfg.Routes), "route"), plural(len(cfg.Policies), "policy"), plural(nwarn, "warning"))
	return exitOK
}

// explain prints, for each route in order, what it matches, where it
// forwards, the authentication requirement that governs it and the
// authorization policies that apply, in evaluation order.
func explain(w io.Writer, cfg *model.Config, routes []proxy.RouteExplanation) {
	addrs := map[string]string{}
	for _, l := range cfg.Listeners {
		addrs[l.Name] = l.Address
	}
	for _, r := range routes {
		fmt.Fprintf(w, "route %q", r.Route)
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
