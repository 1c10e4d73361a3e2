package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // a bad configuration, a failed command
	exitUsage = 2 // bad flags or arguments
)

// command is one subcommand: it parses args itself and returns the exit
// code.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the gateway from configuration files", runServe},
		{"validate", "check configuration files and explain what each route requires", runValidate},
		{"explain", "show what the gateway would do with one request, sending nothing", runExplain},
		{"convert", "print the native configuration equivalent to vendor YAML", runConvert},
		{"demo", "run a self-contained demo: issuer, echo upstream and gateway", runDemo},
		{"token", "mint a signed JWT from a private key or secret", runToken},
		{"jwks", "print the JWKS of a key, for inline or served key sets", runJWKS},
		{"echo", "serve an echo upstream (a backend for trying configurations)", runEcho},
		{"version", "print the version", runVersion},
		{"help", "show this help", runHelp},
	}
}

// run dispatches to the subcommand named by args[0].
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "jwtgate: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

func runHelp(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		for _, c := range commands() {
			if c.name == args[0] && c.name != "help" {
				return c.run(context.Background(), []string{"-h"}, stdout, stderr)
			}
		}
		if args[0] != "help" {
			fmt.Fprintf(stderr, "jwtgate help: unknown command %q\n\n", args[0])
			usage(stderr)
			return exitUsage
		}
	}
	usage(stdout)
	return exitOK
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("jwtgate: a JWT-verifying HTTP gateway\n\nUsage:\n  jwtgate <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun \"jwtgate <command> -h\" for a command's flags.\n")
	_, _ = io.WriteString(w, b.String())
}

// newFlags returns a flag set that reports errors instead of exiting and
// prints its usage to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: jwtgate %s\n\nFlags:\n", strings.TrimSpace(name+" "+synopsis))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and returns the exit code to return, or -1 to
// go on. -h answers with usage and exit 0.
func parseFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "jwtgate %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	return -1
}

// listFlag is a repeatable string flag; a value may also hold several
// comma-separated items when split is set.
type listFlag struct {
	values []string
	split  bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }

func (l *listFlag) Set(v string) error {
	if !l.split {
		l.values = append(l.values, v)
		return nil
	}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			l.values = append(l.values, s)
		}
	}
	return nil
}
