// Package gateway owns a gateway's lifecycle: load -> build -> serve ->
// reload -> drain. Compile is the one compile-and-check step every
// command uses (serve, validate, demo, bench and the tests); Gateway
// serves the result, reloads it on a signal or a file change, and runs
// the admin listener (health, readiness, metrics, the running
// configuration).
package gateway

import (
	"log/slog"
	"slices"
	"time"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// Snapshot is one compiled configuration and everything known about it.
type Snapshot struct {
	// Config is the merged model; nil only when nothing could be read.
	Config *model.Config
	// Runtime is the compiled runtime, nil when Issues holds an error.
	// The caller owns it: serve it, or Close it.
	Runtime *proxy.Runtime
	// Issues are every error and warning, each at its file, line and
	// field path, in reading order.
	Issues model.Issues
	// Statuses has one entry per resource read.
	Statuses []model.Status
	// Files are the configuration files read; Version is a digest of
	// their names and contents.
	Files   []string
	Version string
	// LoadedAt is when the snapshot was compiled.
	LoadedAt time.Time
}

// OK reports whether the snapshot has no error (and so a Runtime).
func (s *Snapshot) OK() bool { return s.Runtime != nil }

// Compile reads the configuration at paths, checks it and builds its
// runtime, reporting every problem in one pass: what the dialects found,
// what validation finds in the merged model, and what building finds
// (files, keys, certificates, patterns), each once, at its field. A build
// problem on a field that validation already reported is dropped, so a
// mistake is never reported twice. opts.Previous, when set, lends its
// unchanged providers to the new runtime (see proxy.Options).
func Compile(paths []string, opts proxy.Options) *Snapshot {
	return CompileFor(dialect.Selection{}, paths, opts)
}

// CompileFor is Compile for the gateway and workloads sel names (see
// dialect.Selection): vendor resources aimed elsewhere are not served.
func CompileFor(sel dialect.Selection, paths []string, opts proxy.Options) *Snapshot {
	return compileLoaded(config.ReadSelected(sel, paths...), opts)
}

// CompileBytes is Compile for one file's contents, named name.
func CompileBytes(name string, data []byte, opts proxy.Options) *Snapshot {
	return CompileBytesFor(dialect.Selection{}, name, data, opts)
}

// CompileBytesFor is CompileBytes for the gateway and workloads sel names.
func CompileBytesFor(sel dialect.Selection, name string, data []byte, opts proxy.Options) *Snapshot {
	return compileLoaded(config.ReadBytesSelected(sel, name, data), opts)
}

func compileLoaded(ld *config.Loaded, opts proxy.Options) *Snapshot {
	s := &Snapshot{Config: ld.Config, Files: ld.Files, Version: ld.Digest, LoadedAt: time.Now()}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	checked := ld.Place(append(slices.Clone(ld.Issues), ld.Config.Validate()...))
	rt, built := proxy.Build(ld.Config, opts)
	issues := checked
	for _, is := range ld.Place(built) {
		if !repeats(is, checked) {
			issues = append(issues, is)
		}
	}
	s.Issues = dropEchoes(ld.Place(issues)) // sorted again with the build's issues
	served := len(s.Issues.Errors()) == 0
	if served {
		s.Runtime = rt
	} else if rt != nil {
		rt.Close()
	}
	s.Statuses = model.Statuses(ld.Resources, s.Issues, append(slices.Clone(ld.Notes), ld.Config.Notes()...), served)
	return s
}

// dropEchoes removes the issues that only follow from errors of another
// resource (Issue.Because).
func dropEchoes(in model.Issues) model.Issues {
	bad := map[model.Ref]bool{}
	for _, is := range in {
		if is.Severity == model.Error {
			bad[is.Origin.Ref] = true
		}
	}
	out := in[:0]
	for _, is := range in {
		if is.Because != (model.Ref{}) && bad[is.Because] {
			continue
		}
		out = append(out, is)
	}
	return out
}

// repeats reports whether an error found while building is about a field
// (or a parent or child of it) of a resource on which validation already
// reported an error.
func repeats(is model.Issue, checked model.Issues) bool {
	if is.Severity != model.Error {
		return false
	}
	p := is.Path()
	for _, c := range checked {
		if c.Severity != model.Error || c.Origin.File != is.Origin.File || c.Resource != is.Resource {
			continue
		}
		q := c.Path()
		if model.FieldWithin(p, q) || model.FieldWithin(q, p) {
			return true
		}
	}
	return false
}
