// Package config reads configuration files and folders into one validated
// model.Config.
//
// Each file may hold several YAML documents separated by "---"; each
// document is handed to the dialect that reads its apiVersion and kind
// (see dialects.go), the pieces are merged in the order read, and the merged
// configuration is validated as a whole. Every problem is reported, each
// placed at its file, line and field path; a configuration with any error
// is rejected whole.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// Load reads the given files and folders, in order, and returns the merged
// configuration with every issue found. A folder contributes its *.yaml and
// *.yml files in lexical order (not its subfolders). When any issue is an
// error, the configuration is nil; warnings come with a usable
// configuration too.
func Load(paths ...string) (*model.Config, model.Issues) {
	var l loader
	if len(paths) == 0 {
		l.errorf("", 0, "no configuration files given")
	}
	for _, p := range paths {
		l.loadPath(p)
	}
	return l.finish()
}

// LoadBytes is Load for one file's contents; name is used in issues and to
// resolve relative file names in it.
func LoadBytes(name string, data []byte) (*model.Config, model.Issues) {
	var l loader
	l.addFile(name, data)
	return l.finish()
}

// decoded is what a dialect makes of one document.
type decoded struct {
	cfg     model.Config
	issues  model.Issues
	lines   strictyaml.Lines
	renames map[string]string
	// invalid paths were reported by the dialect; validation issues at or
	// below them are dropped as consequences.
	invalid []string
}

// document is a decoded document and where it lies.
type document struct {
	file  string
	start int // first line; the document runs to the next one's start
	decoded
}

type loader struct {
	docs   []*document
	issues model.Issues
	files  map[string]int // order in which files were first read
}

// seen records the order in which files are first met, for sorting issues.
func (l *loader) seen(file string) {
	if l.files == nil {
		l.files = map[string]int{}
	}
	if _, ok := l.files[file]; !ok {
		l.files[file] = len(l.files) + 1
	}
}

func (l *loader) errorf(file string, line int, format string, args ...any) {
	l.seen(file)
	l.issues = append(l.issues, model.Issue{
		Severity: model.Error,
		Origin:   model.Origin{File: file, Line: line},
		Msg:      fmt.Sprintf(format, args...),
	})
}

func (l *loader) loadPath(p string) {
	fi, err := os.Stat(p)
	if err != nil {
		l.errorf(p, 0, "%s", fsError(err))
		return
	}
	if !fi.IsDir() {
		l.loadFile(p)
		return
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		l.errorf(p, 0, "%s", fsError(err))
		return
	}
	n := 0
	for _, e := range entries { // sorted by name
		ext := filepath.Ext(e.Name())
		// Hidden files are skipped as a shell's *.yaml skips them: editor
		// lock and backup files (.#gw.yaml) and Kubernetes' ..data links.
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		n++
		l.loadFile(filepath.Join(p, e.Name()))
	}
	if n == 0 {
		l.errorf(p, 0, "folder holds no *.yaml or *.yml files")
	}
}

// fsError words a file system error without repeating the path.
func fsError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return "reading: " + err.Error()
}

// MaxFileBytes bounds the size of one configuration file. Larger files are
// refused before they are parsed: a parsed YAML tree takes many times its
// size in memory.
const MaxFileBytes = 8 << 20

func (l *loader) loadFile(name string) {
	l.seen(name)
	f, err := os.Open(name)
	if err != nil {
		l.errorf(name, 0, "%s", fsError(err))
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		l.errorf(name, 0, "%s", fsError(err))
		return
	}
	l.addFile(name, data)
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// addFile splits data into documents and decodes each.
func (l *loader) addFile(name string, data []byte) {
	l.seen(name)
	if len(data) > MaxFileBytes {
		l.errorf(name, 0, "file too large: more than %d bytes", MaxFileBytes)
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := decodeNode(dec, &n)
		if err == io.EOF {
			return
		}
		if err != nil {
			msg, line := err.Error(), 0
			if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = m[2]
			}
			// The parser may name the line of the construct it was in;
			// point at the tab itself.
			switch tl := tabLine(data, line); {
			case tl == 0:
			case strings.Contains(msg, "tab character"),
				strings.Contains(msg, "cannot start any token") && tl == line:
				line, msg = tl, "tab character in indentation (YAML indents with spaces)"
			}
			l.errorf(name, line, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
			return
		}
		l.addDocument(name, &n)
	}
}

// tabLine returns the first line, from line from on, whose indentation
// holds a tab; 0 when there is none.
func tabLine(data []byte, from int) int {
	for i, ln := range bytes.Split(data, []byte("\n")) {
		if i+1 < from {
			continue
		}
		indent := ln[:len(ln)-len(bytes.TrimLeft(ln, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 && len(bytes.TrimSpace(ln)) > 0 {
			return i + 1
		}
	}
	return 0
}

// decodeNode reads the next document, turning a parser panic into an error.
func decodeNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

func (l *loader) addDocument(file string, n *yaml.Node) {
	root := n
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return
		}
		root = root.Content[0]
	}
	if root.Kind == 0 || (root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null") {
		return // an empty document
	}
	if root.Kind != yaml.MappingNode {
		l.errorf(file, root.Line, "expected a mapping with apiVersion and kind, got %s", kindName(root))
		return
	}
	apiVersion, kind := "", ""
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "apiVersion" && k.Value != "kind" {
			continue
		}
		if v.Kind != yaml.ScalarNode {
			l.errorf(file, v.Line, "%s: expected a string, got %s", k.Value, kindName(v))
			return
		}
		if k.Value == "apiVersion" {
			apiVersion = v.Value
		} else {
			kind = v.Value
		}
	}
	d := findDialect(apiVersion, kind)
	if d == nil {
		var known []string
		for _, d := range dialects {
			known = append(known, d.apiVersion+" "+d.kind)
		}
		switch {
		case apiVersion == "" && kind == "":
			l.errorf(file, root.Line, "missing apiVersion and kind (supported: %s)", strings.Join(known, ", "))
		default:
			l.errorf(file, root.Line, "unsupported apiVersion %q and kind %q (supported: %s)", apiVersion, kind, strings.Join(known, ", "))
		}
		return
	}
	doc := &document{file: file, start: root.Line, decoded: d.decode(file, n)}
	l.docs = append(l.docs, doc)
	l.issues = append(l.issues, doc.issues...)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "something else"
}

// finish merges the documents, validates the result and places its issues.
func (l *loader) finish() (*model.Config, model.Issues) {
	cfg := &model.Config{}
	for _, d := range l.docs {
		cfg.Listeners = append(cfg.Listeners, d.cfg.Listeners...)
		cfg.Providers = append(cfg.Providers, d.cfg.Providers...)
		cfg.Routes = append(cfg.Routes, d.cfg.Routes...)
		cfg.JWTPolicies = append(cfg.JWTPolicies, d.cfg.JWTPolicies...)
		cfg.Policies = append(cfg.Policies, d.cfg.Policies...)
	}
	// A route may leave its listener out when there is only one.
	if len(cfg.Listeners) == 1 {
		for i := range cfg.Routes {
			if cfg.Routes[i].Listener == "" {
				cfg.Routes[i].Listener = cfg.Listeners[0].Name
			}
		}
	}
	issues := l.issues
	if len(cfg.Listeners) == 0 && len(issues.Errors()) == 0 {
		// A warning, not an error: one file of a folder may rightly hold
		// providers only. Only when every document was read.
		issues = append(issues, model.Issue{Severity: model.Warning, Field: "listeners", Msg: "no listener in the configuration: there is nothing to serve"})
	}
	for _, is := range cfg.Validate() {
		if is, ok := l.place(is); ok {
			issues = append(issues, is)
		}
	}
	// Report in reading order: by file, then by line.
	slices.SortStableFunc(issues, func(a, b model.Issue) int {
		if c := cmp.Compare(l.files[a.Origin.File], l.files[b.Origin.File]); c != 0 {
			return c
		}
		return cmp.Compare(a.Origin.Line, b.Origin.Line)
	})
	if len(issues.Errors()) > 0 {
		return nil, issues
	}
	return cfg, issues
}

// place maps a model issue's path back to the document's own field path
// and refines its line to the field's. It reports false for an issue that
// merely repeats a problem the dialect reported already.
func (l *loader) place(is model.Issue) (model.Issue, bool) {
	d := l.docOf(is.Origin)
	if d == nil {
		return is, true
	}
	full := is.Path()
	best := ""
	for from := range d.renames {
		if len(from) > len(best) && strictyaml.HasPrefix(full, from) {
			best = from
		}
	}
	if best != "" {
		full = d.renames[best] + full[len(best):]
	}
	switch o := is.Origin.Path; {
	case full == o:
		is.Field = ""
	case o != "" && strictyaml.HasPrefix(full, o):
		is.Field = strings.TrimPrefix(full[len(o):], ".")
	default:
		is.Origin.Path, is.Field = "", full
	}
	for _, p := range d.invalid {
		if strictyaml.HasPrefix(full, p) {
			return is, false
		}
	}
	if line := d.lines.Find(full); line > 0 {
		is.Origin.Line = line
	}
	return is, true
}

// docOf finds the document a resource came from by file and line.
func (l *loader) docOf(o model.Origin) *document {
	var found *document
	for _, d := range l.docs {
		if d.file != o.File {
			continue
		}
		if found == nil || d.start <= o.Line {
			found = d
		}
	}
	return found
}
