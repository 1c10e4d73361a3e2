package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/dialect/native"
	"jwtgate.dev/jwtgate/internal/egress"
	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

const convertSynopsis = `-c PATH [-c PATH...] [-o FILE]

Compiles the configuration as validate does, for the gateway the flags
(or the configuration's gateway and workload keys) choose, and prints the
equivalent native configuration: one YAML stream, each resource with a
comment naming the resource it came from. Relative file names are written
for the folder of FILE with -o, else of the first -c PATH (the folder
itself when PATH is one): save the output there. --resolve entries are
written into every egress listener. A configuration with errors, or
anything without a native equivalent, is refused with the reasons on
stderr and exit 1.`

func runConvert(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("convert", convertSynopsis, stderr)
	var paths listFlag
	fs.Var(&paths, "c", "configuration file or folder; repeatable")
	out := fs.String("o", "", "write the native YAML to FILE (relative file names are then written for its folder) instead of stdout")
	target := addTargetFlags(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	sel, err := target.selection()
	if err != nil {
		fmt.Fprintf(stderr, "jwtgate convert: %v\n", err)
		return exitUsage
	}
	if len(paths.values) == 0 {
		fmt.Fprintln(stderr, "jwtgate convert: at least one -c PATH is required")
		fs.Usage()
		return exitUsage
	}
	snap := gateway.CompileFor(sel, paths.values, proxy.Options{Resolve: target.resolve.values})
	if snap.Runtime != nil {
		snap.Runtime.Close()
	}
	for _, is := range snap.Issues {
		fmt.Fprintln(stderr, is.Error())
	}
	if !snap.OK() {
		fmt.Fprintf(stderr, "jwtgate convert: configuration has %s; nothing converted\n", plural(len(snap.Issues.Errors()), "error"))
		return exitError
	}
	if *out != "" && slices.ContainsFunc(snap.Files, func(f string) bool { return sameFile(f, *out) }) {
		fmt.Fprintf(stderr, "jwtgate convert: -o %s is a configuration file read; write the output elsewhere\n", *out)
		return exitUsage
	}
	cfg := withResolve(snap.Config, target.resolve.values)
	opts := native.EncodeOptions{Dir: outputDir(paths.values[0], *out), Header: header(paths.values, target)}
	yml, refusals := native.EncodeWith(cfg, opts)
	if len(refusals) > 0 {
		for _, is := range refusals {
			fmt.Fprintln(stderr, is.Error())
		}
		fmt.Fprintf(stderr, "jwtgate convert: %s without a native equivalent; nothing converted\n", plural(len(refusals), "resource field"))
		return exitError
	}
	if *out != "" {
		// 0600: inline key sets may hold HMAC secrets.
		if err := os.WriteFile(*out, yml, 0o600); err != nil {
			fmt.Fprintf(stderr, "jwtgate convert: %v\n", err)
			return exitError
		}
		return exitOK
	}
	_, _ = stdout.Write(yml)
	return exitOK
}

// sameFile reports whether a and b name the same file (or would).
func sameFile(a, b string) bool {
	if fa, err := os.Stat(a); err == nil {
		if fb, err := os.Stat(b); err == nil {
			return os.SameFile(fa, fb)
		}
	}
	aa, err1 := filepath.Abs(a)
	ab, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == ab
}

// outputDir is the folder the output will be read from: out's, else the
// first configuration path's (itself when it is a folder).
func outputDir(first, out string) string {
	if out != "" {
		return filepath.Dir(out)
	}
	if fi, err := os.Stat(first); err == nil && fi.IsDir() {
		return first
	}
	return filepath.Dir(first)
}

// withResolve returns cfg with the --resolve entries written into every
// egress listener, after the listener's own (which win for the same host
// and port, as when serving), so that the output needs no flag.
func withResolve(cfg *model.Config, resolve []string) *model.Config {
	if len(resolve) == 0 {
		return cfg
	}
	c := *cfg
	c.Listeners = slices.Clone(cfg.Listeners)
	for i, l := range c.Listeners {
		if l.Egress == nil {
			continue
		}
		eg := *l.Egress
		eg.Resolve = slices.Clone(eg.Resolve)
		have := map[string]bool{}
		for _, r := range eg.Resolve {
			if hp, _, err := egress.ParseOverride(r); err == nil {
				have[hp] = true
			}
		}
		var add []string // the last flag for a host and port wins, as when serving
		for _, r := range slices.Backward(resolve) {
			if hp, _, err := egress.ParseOverride(r); err == nil && !have[hp] {
				have[hp] = true
				add = append(add, r)
			}
		}
		slices.Reverse(add)
		eg.Resolve = append(eg.Resolve, add...)
		c.Listeners[i].Egress = &eg
	}
	return &c
}

// header is the comment at the top of the output: what it was made from.
func header(paths []string, t *targetFlags) string {
	var b strings.Builder
	b.WriteString("jwtgate native configuration, converted by jwtgate convert from " + strings.Join(paths, ", "))
	var sel []string
	for _, f := range []struct{ name, v string }{
		{"--gateway", *t.gateway}, {"--workload-namespace", *t.namespace}, {"--workload-labels", *t.labels}, {"--bind-address", *t.bind},
	} {
		if f.v != "" {
			sel = append(sel, f.name+" "+f.v)
		}
	}
	for _, r := range t.resolve.values {
		sel = append(sel, "--resolve "+r)
	}
	if len(sel) > 0 {
		b.WriteString("\nwith " + strings.Join(sel, " "))
	}
	b.WriteString("\nEach entry names the resource it came from.")
	return b.String()
}
