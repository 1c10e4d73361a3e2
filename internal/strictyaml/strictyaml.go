// Package strictyaml decodes a YAML node tree into Go structs strictly and
// reports every problem it finds, not just the first.
//
// It walks a *yaml.Node (go.yaml.in/yaml/v3) itself, guided by the target's
// `yaml:"name"` struct tags, and collects a Problem for each unknown key,
// wrong node kind (a list where a mapping belongs), malformed scalar (an
// integer, boolean or duration that does not parse), duplicate key and
// missing required field. Each Problem carries the field path in the
// document, such as `routes[2].jwt.providers[0]`, and the line it was found
// on. Decoding continues past a problem: the offending field keeps its zero
// value and the rest of the document is still read, so that a user sees
// all mistakes at once.
//
// Alongside the problems the decoder records Lines, an index from every
// field path it visited to its line, so that checks made later on the
// decoded values (semantic validation) can be placed in the file too.
//
// Supported targets: structs (nested, pointers to structs, embedded
// structs, which are inlined when untagged or tagged `yaml:",inline"`),
// strings, bools, signed and unsigned integers (decimal, or hexadecimal
// with 0x), floats, time.Duration (Go duration strings such as "60s" or "1m30s"; a bare
// number, even 0, is refused for want of a unit), slices,
// maps with string keys, yaml.Node (the raw node, for fields a dialect
// decodes itself) and interface values (decoded by yaml.v3, unchecked).
// Named types of these kinds (type Action string) work as well.
//
// Tag options: `omitempty` is accepted and ignored; `required` reports
// `missing required field "name"` when the key is absent or null; `inline`
// merges an embedded struct's fields into its parent. A field tagged "-",
// or unexported, is never decoded.
//
// Anchors and aliases are followed (within a budget of decoded nodes that
// stops alias bombs); merge keys ("<<") are rejected.
package strictyaml

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a document.
type Problem struct {
	// Path is the field path, such as "routes[2].jwt.providers[0]"; empty
	// for the document root.
	Path string
	// Line is 1-based; zero when unknown.
	Line int
	Msg  string
}

// Error formats the problem as "line N: path: message".
func (p Problem) Error() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// DefaultMaxNodes is the default node budget of a Decoder.
const DefaultMaxNodes = 1 << 20

// Decoder decodes nodes into values and accumulates Problems and Lines
// across calls, so that a dialect can decode a document piecewise (a raw
// yaml.Node field decoded later under its own path).
type Decoder struct {
	Problems []Problem
	Lines    Lines
	// Invalid lists the paths whose values were rejected (wrong kind or a
	// malformed scalar) and left at their zero value, so that a caller can
	// avoid reporting the zero value again ("required") in later checks.
	Invalid []string
	// MaxNodes bounds the nodes decoded (aliases count each time they are
	// expanded). Zero means DefaultMaxNodes.
	MaxNodes int

	nodes    int
	exceeded bool
}

// NewDecoder returns an empty Decoder.
func NewDecoder() *Decoder { return &Decoder{Lines: Lines{}} }

// Decode decodes n into out, which must be a non-nil pointer, recording
// problems and lines under the field path path ("" for a document root).
// A DocumentNode is unwrapped.
func Decode(n *yaml.Node, out any) ([]Problem, Lines) {
	d := NewDecoder()
	d.Decode(n, "", out)
	return d.Problems, d.Lines
}

// Decode decodes n into out (a non-nil pointer) under path.
func (d *Decoder) Decode(n *yaml.Node, path string, out any) {
	if d.Lines == nil {
		d.Lines = Lines{}
	}
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		panic("strictyaml: Decode needs a non-nil pointer, got " + v.Type().String())
	}
	if n != nil && n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	d.value(n, path, v.Elem())
}

// Addf records a problem found by the caller.
func (d *Decoder) Addf(path string, line int, format string, args ...any) {
	d.Problems = append(d.Problems, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	nodeType     = reflect.TypeFor[yaml.Node]()
)

// resolve follows aliases and charges the node budget. It returns nil when
// the budget is spent.
func (d *Decoder) resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > 100 {
			return nil
		}
		n = n.Alias
	}
	max := d.MaxNodes
	if max == 0 {
		max = DefaultMaxNodes
	}
	d.nodes++
	if d.nodes > max {
		if !d.exceeded {
			d.exceeded = true
			d.Addf("", 0, "document too large: more than %d nodes (counting alias expansions)", max)
		}
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func (d *Decoder) value(n *yaml.Node, path string, v reflect.Value) {
	n = d.resolve(n)
	if n == nil {
		return
	}
	if _, ok := d.Lines[path]; !ok {
		d.Lines[path] = n.Line
	}
	t := v.Type()
	if t == nodeType {
		v.Set(reflect.ValueOf(*n))
		return
	}
	if isNull(n) {
		return // null leaves the zero value
	}
	if t == durationType {
		s, ok := d.scalar(n, path, "a duration")
		if !ok {
			return
		}
		// A bare number, 0 included, is an error: it needs a unit. (Go's
		// ParseDuration accepts "0" alone.)
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			d.invalid(path, n.Line, `invalid duration %q (a duration needs a unit, such as "60s")`, s)
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.invalid(path, n.Line, "invalid duration %q", s)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(n, path, v.Elem())
	case reflect.Struct:
		d.structValue(n, path, v)
	case reflect.Map:
		d.mapValue(n, path, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.wrongKind(n, path, "a list")
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := Index(path, i)
			d.Lines[p] = item.Line
			d.value(item, p, s.Index(i))
		}
		v.Set(s)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		s, ok := d.scalar(n, path, "a boolean")
		if !ok {
			return
		}
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.invalid(path, n.Line, "invalid boolean %q (want true or false)", s)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		i, err := parseInt(s, t.Bits())
		if err != nil {
			d.invalid(path, n.Line, "invalid integer %q%s", s, intHint(s))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		i, err := parseUint(s, t.Bits())
		if err != nil {
			hint := intHint(s)
			if hint == "" {
				hint = " (want a non-negative integer)"
			}
			d.invalid(path, n.Line, "invalid integer %q%s", s, hint)
			return
		}
		v.SetUint(i)
	case reflect.Float32, reflect.Float64:
		s, ok := d.scalar(n, path, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, t.Bits())
		if err != nil || math.IsInf(f, 0) && !strings.Contains(strings.ToLower(s), "inf") {
			d.invalid(path, n.Line, "invalid number %q", s)
			return
		}
		v.SetFloat(f)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.invalid(path, n.Line, "%v", err)
			return
		}
		if x != nil {
			xv := reflect.ValueOf(x)
			if !xv.Type().AssignableTo(t) {
				d.invalid(path, n.Line, "cannot use %s here", describe(n))
				return
			}
			v.Set(xv)
		}
	default:
		panic("strictyaml: unsupported target type " + t.String())
	}
}

// Integers are decimal, or hexadecimal with 0x. Octal (017, 0o17), binary
// (0b11) and digit separators (1_000) are not accepted: YAML versions read
// them differently, and a leading zero read as octal is a silent surprise.
var (
	decimalInt = regexp.MustCompile(`^[+-]?(0|[1-9][0-9]*)$`)
	hexInt     = regexp.MustCompile(`^[+-]?0[xX][0-9a-fA-F]+$`)
)

func parseInt(s string, bits int) (int64, error) {
	if !decimalInt.MatchString(s) && !hexInt.MatchString(s) {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s, 0, bits)
}

func parseUint(s string, bits int) (uint64, error) {
	if !decimalInt.MatchString(s) && !hexInt.MatchString(s) || strings.HasPrefix(s, "-") {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseUint(strings.TrimPrefix(s, "+"), 0, bits)
}

// intHint explains why an integer-looking value was refused.
func intHint(s string) string {
	if _, err := strconv.ParseInt(s, 0, 64); err == nil || strings.Contains(s, "_") {
		if !decimalInt.MatchString(s) && !hexInt.MatchString(s) {
			return " (want a decimal integer, or hexadecimal with 0x)"
		}
	}
	return ""
}

// scalar returns the value of a scalar node, or records a kind problem.
func (d *Decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.wrongKind(n, path, want)
		return "", false
	}
	return n.Value, true
}

func (d *Decoder) wrongKind(n *yaml.Node, path, want string) {
	d.invalid(path, n.Line, "expected %s, got %s", want, describe(n))
}

// invalid records a problem with the value at path.
func (d *Decoder) invalid(path string, line int, format string, args ...any) {
	d.Invalid = append(d.Invalid, path)
	d.Addf(path, line, format, args...)
}

// describe names a node's kind for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("a string %q", clip(n.Value))
	}
	return "an unexpected node"
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// mapping checks that n is a mapping and yields its key/value pairs,
// reporting non-string keys, merge keys and duplicates. It reports whether
// the mapping held a merge key (and so misses what it would have merged).
func (d *Decoder) mapping(n *yaml.Node, path string, each func(key string, k, v *yaml.Node)) (merged bool) {
	if n.Kind != yaml.MappingNode {
		d.wrongKind(n, path, "a mapping")
		return false
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			d.Addf(path, k.Line, "mapping keys must be strings, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			// What the merge would have brought in is missing: later checks
			// on this mapping ("required") would only repeat the problem.
			d.invalid(path, k.Line, `merge keys ("<<") are not supported`)
			merged = true
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.Addf(path, k.Line, "duplicate key %q (first on line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		each(k.Value, k, val)
	}
	return merged
}

func (d *Decoder) mapValue(n *yaml.Node, path string, v reflect.Value) {
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		panic("strictyaml: map keys must be strings, got " + t.String())
	}
	if n.Kind != yaml.MappingNode {
		d.wrongKind(n, path, "a mapping")
		return
	}
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	d.mapping(n, path, func(key string, k, val *yaml.Node) {
		p := Key(path, key)
		d.Lines[p] = k.Line
		ev := reflect.New(t.Elem()).Elem()
		d.value(val, p, ev)
		m.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), ev)
	})
	v.Set(m)
}

func (d *Decoder) structValue(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.wrongKind(n, path, "a mapping")
		return
	}
	fields := fieldsOf(v.Type())
	present := make(map[string]bool, len(fields.list))
	merged := d.mapping(n, path, func(key string, k, val *yaml.Node) {
		f, ok := fields.byName[key]
		if !ok {
			d.Addf(path, k.Line, "unknown field %q", key)
			return
		}
		p := Field(path, key)
		d.Lines[p] = k.Line
		if !isNull(val) && !(val.Kind == yaml.AliasNode && val.Alias != nil && isNull(val.Alias)) {
			present[key] = true
		}
		d.value(val, p, fieldByIndex(v, f.index))
	})
	for _, f := range fields.list {
		if f.required && !present[f.name] && !merged {
			d.Addf(path, n.Line, "missing required field %q", f.name)
		}
	}
}

// fieldByIndex is v.FieldByIndex that allocates nil embedded pointers.
func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

type fieldInfo struct {
	name     string
	index    []int
	required bool
}

type structFields struct {
	list   []fieldInfo
	byName map[string]fieldInfo
}

var fieldCache sync.Map // reflect.Type -> *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	sf := &structFields{byName: map[string]fieldInfo{}}
	collectFields(t, nil, sf)
	fieldCache.Store(t, sf)
	return sf
}

func collectFields(t reflect.Type, index []int, sf *structFields) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, hasTag := f.Tag.Lookup("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		idx := append(append([]int(nil), index...), i)
		inline := false
		required := false
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "inline":
				inline = true
			case "required":
				required = true
			}
		}
		if inline || (f.Anonymous && !hasTag) {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() != reflect.Struct {
				panic("strictyaml: inline field " + f.Name + " is not a struct")
			}
			collectFields(ft, idx, sf)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fi := fieldInfo{name: name, index: idx, required: required}
		if _, dup := sf.byName[name]; dup {
			panic("strictyaml: duplicate field name " + name + " in " + t.String())
		}
		sf.byName[name] = fi
		sf.list = append(sf.list, fi)
	}
}
