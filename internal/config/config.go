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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/kube"
	"jwtgate.dev/jwtgate/internal/model"
)

// Load reads the given files and folders, in order, and returns the merged
// configuration with every issue found. A folder contributes its *.yaml and
// *.yml files in lexical order (not its subfolders). When any issue is an
// error, the configuration is nil; warnings come with a usable
// configuration too.
func Load(paths ...string) (*model.Config, model.Issues) {
	return Read(paths...).Validated()
}

// LoadBytes is Load for one file's contents; name is used in issues and to
// resolve relative file names in it.
func LoadBytes(name string, data []byte) (*model.Config, model.Issues) {
	return ReadBytes(name, data).Validated()
}

// Loaded is what the files hold, read and merged but not yet validated.
type Loaded struct {
	// Config is the merged model: every piece that decoded, even when
	// there are errors (so that every error can be found in one pass).
	Config *model.Config
	// Resources are every resource read, in reading order, for status.
	Resources []model.Origin
	// Notes are statuses the dialects decided.
	Notes []model.Note
	// Issues are the problems found while reading and decoding.
	Issues model.Issues
	// Files are the files read, in order.
	Files []string
	// Digest is a SHA-256 over every file's name and contents, in reading
	// order: the configuration's version.
	Digest string

	order map[string]int // position of each file, for sorting issues
}

// Read reads the given files and folders, in order, and merges what the
// dialects make of their documents. It does not validate the result.
func Read(paths ...string) *Loaded {
	return ReadSelected(dialect.Selection{}, paths...)
}

// ReadSelected is Read for the gateway and workloads sel names; vendor
// dialects aim their resources with it.
func ReadSelected(sel dialect.Selection, paths ...string) *Loaded {
	l := loader{sel: sel}
	if len(paths) == 0 {
		l.errorf("", 0, "no configuration files given")
	}
	for _, p := range paths {
		l.loadPath(p)
	}
	return l.finish()
}

// ReadBytes is Read for one file's contents.
func ReadBytes(name string, data []byte) *Loaded {
	return ReadBytesSelected(dialect.Selection{}, name, data)
}

// ReadBytesSelected is ReadBytes for the gateway and workloads sel names.
func ReadBytesSelected(sel dialect.Selection, name string, data []byte) *Loaded {
	l := loader{sel: sel}
	l.addFile(name, data)
	return l.finish()
}

// Validated validates the merged model and returns it with every issue,
// placed and sorted; the model is nil when any issue is an error.
func (ld *Loaded) Validated() (*model.Config, model.Issues) {
	issues := ld.Place(append(slices.Clone(ld.Issues), ld.Config.Validate()...))
	if len(issues.Errors()) > 0 {
		return nil, issues
	}
	return ld.Config, issues
}

// Place locates every issue at its field (see model.Issue.Located),
// drops those that repeat a problem a dialect reported, and sorts them
// in reading order: by file, then by line.
func (ld *Loaded) Place(in model.Issues) model.Issues {
	var out model.Issues
	for _, is := range in {
		if is, ok := is.Located(); ok {
			out = append(out, is)
		}
	}
	slices.SortStableFunc(out, func(a, b model.Issue) int {
		if c := cmp.Compare(ld.order[a.Origin.File], ld.order[b.Origin.File]); c != 0 {
			return c
		}
		return cmp.Compare(a.Origin.Line, b.Origin.Line)
	})
	return out
}

type loader struct {
	kube      kube.Store        // the load's Kubernetes core objects
	ignored   []model.Origin    // Kubernetes objects with no gateway meaning
	sel       dialect.Selection // from the command line
	docSel    *dialect.Selection
	docSelAt  model.Origin
	pending   []pendingDoc               // documents of Session dialects, read at the end
	sessions  map[string]dialect.Session // by family, in the order first used
	families  []string
	cfg       model.Config
	resources []model.Origin
	notes     []model.Note
	issues    model.Issues
	files     map[string]int // order in which files were first read
	list      []string
	digest    hash.Hash
}

// seen records the order in which files are first met, for sorting issues.
func (l *loader) seen(file string) {
	if l.files == nil {
		l.files = map[string]int{}
	}
	if _, ok := l.files[file]; !ok {
		l.files[file] = len(l.files) + 1
		if file != "" {
			l.list = append(l.list, file)
		}
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
	if l.digest == nil {
		l.digest = sha256.New()
	}
	fmt.Fprintf(l.digest, "%d:%s%d:", len(name), name, len(data))
	l.digest.Write(data)
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
			} else {
				msg = strings.TrimPrefix(msg, "yaml: ")
			}
			line = parserLine(msg, line)
			if n := bytes.Count(bytes.TrimRight(data, "\n"), []byte("\n")) + 1; line > n {
				line = n // the end of the stream: point at the last line
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

// parserErrors are the YAML parser's own messages (not the scanner's).
// For them the parser names the 0-based line of the construct it was in
// (and no line at all for the first): one less than the 1-based line
// every other message uses.
var parserErrors = []string{
	"did not find expected key",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected <document start>",
}

// parserLine turns the line the YAML library names into the 1-based line
// of the construct at fault.
func parserLine(msg string, line int) int {
	for _, p := range parserErrors {
		if strings.HasPrefix(msg, p) {
			return line + 1
		}
	}
	return line
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
	if apiVersion == "v1" && kind == "List" {
		l.addList(file, root)
		return
	}
	d := findDialect(apiVersion, kind)
	if d == nil {
		l.unknown(file, root, apiVersion, kind)
		return
	}
	doc := dialect.Document{File: file, Node: root, APIVersion: apiVersion, Kind: kind}
	if d.session != nil {
		l.pending = append(l.pending, pendingDoc{d, doc})
		return
	}
	l.merge(d.dialect.Decode(doc))
}

// pendingDoc is a document whose dialect reads it once every file is read.
type pendingDoc struct {
	entry *entry
	doc   dialect.Document
}

// session returns the load's Session of d's family, made on first use
// with the selection sel.
func (l *loader) session(d *entry, sel dialect.Selection) dialect.Session {
	if s, ok := l.sessions[d.family]; ok {
		return s
	}
	if l.sessions == nil {
		l.sessions = map[string]dialect.Session{}
	}
	s := d.session(dialect.Env{Selection: sel, Kube: &l.kube})
	l.sessions[d.family] = s
	l.families = append(l.families, d.family)
	return s
}

// merge adds what a dialect made of a document (or of a whole load).
func (l *loader) merge(res dialect.Result) {
	l.cfg.Listeners = append(l.cfg.Listeners, res.Config.Listeners...)
	l.cfg.Providers = append(l.cfg.Providers, res.Config.Providers...)
	l.cfg.Routes = append(l.cfg.Routes, res.Config.Routes...)
	l.cfg.JWTPolicies = append(l.cfg.JWTPolicies, res.Config.JWTPolicies...)
	l.cfg.Policies = append(l.cfg.Policies, res.Config.Policies...)
	l.cfg.Egress.Servers = append(l.cfg.Egress.Servers, res.Config.Egress.Servers...)
	l.cfg.Egress.Authorizations = append(l.cfg.Egress.Authorizations, res.Config.Egress.Authorizations...)
	l.resources = append(l.resources, res.Resources...)
	l.notes = append(l.notes, res.Notes...)
	l.issues = append(l.issues, res.Issues...)
	if s := res.Selection; s != nil {
		if l.docSel != nil && !sameSelection(*l.docSel, *s) {
			o := res.SelectionOrigin
			l.issues = append(l.issues, model.Issue{Severity: model.Error, Origin: o,
				Msg: fmt.Sprintf("gateway and workload already chosen differently at %s:%d", l.docSelAt.File, l.docSelAt.Line)})
			return
		}
		l.docSel, l.docSelAt = s, res.SelectionOrigin
	}
}

func sameSelection(a, b dialect.Selection) bool {
	return a.Gateway == b.Gateway && a.WorkloadNamespace == b.WorkloadNamespace && maps.Equal(a.WorkloadLabels, b.WorkloadLabels)
}

// selection is the load's final selection: the command line's when it
// chooses anything, else the configuration's.
func (l *loader) selection() dialect.Selection {
	if !l.sel.Set() && l.docSel != nil {
		sel := *l.docSel
		sel.BindAddress = l.sel.BindAddress // a flag, never in a document
		return sel
	}
	return l.sel
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

// finish completes the merged model.
func (l *loader) finish() *Loaded {
	sel := l.selection()
	for _, p := range l.pending {
		l.merge(l.session(p.entry, sel).Decode(p.doc))
	}
	for _, f := range l.families {
		l.merge(l.sessions[f].Finish())
	}
	l.reportIgnored()
	cfg := &l.cfg
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
	ld := &Loaded{Config: cfg, Resources: l.resources, Notes: l.notes, Issues: issues, Files: l.list, order: l.files}
	if l.digest != nil {
		ld.Digest = hex.EncodeToString(l.digest.Sum(nil))
	}
	return ld
}
