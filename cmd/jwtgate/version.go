package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version is jwtgate's release version.
const version = "0.1.0-dev"

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "", stderr)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	fmt.Fprintln(stdout, versionString())
	return exitOK
}

// versionString is the version plus what the Go toolchain recorded about
// the build: the VCS revision and whether the tree was modified.
func versionString() string {
	var b strings.Builder
	b.WriteString("jwtgate " + version)
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b.String()
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		b.WriteString(" (" + rev)
		if t := settings["vcs.time"]; t != "" {
			b.WriteString(" " + t)
		}
		if settings["vcs.modified"] == "true" {
			b.WriteString(" modified")
		}
		b.WriteString(")")
	}
	b.WriteString(" " + info.GoVersion)
	return b.String()
}
