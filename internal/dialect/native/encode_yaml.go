package native

import (
	"bytes"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// render writes the documents as one YAML stream.
func render(docs []*doc, header string) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for i, d := range docs {
		root := &yaml.Node{Kind: yaml.MappingNode}
		root.HeadComment = d.comment
		if i == 0 && header != "" {
			root.HeadComment = header
		}
		add := func(key string, v *yaml.Node) {
			if v != nil {
				root.Content = append(root.Content, scalar(key), v)
			}
		}
		add("apiVersion", scalar(APIVersion))
		add("kind", scalar(Kind))
		add("listeners", list(d.listeners))
		add("providers", list(d.providers))
		add("routes", list(d.routes))
		add("jwtPolicies", list(d.jwtPolicies))
		add("policies", list(d.policies))
		if len(d.servers)+len(d.authorizations) > 0 {
			eg := &yaml.Node{Kind: yaml.MappingNode}
			for _, kv := range []struct {
				key string
				es  []entry
			}{{"servers", d.servers}, {"authorizations", d.authorizations}} {
				if n := list(kv.es); n != nil {
					eg.Content = append(eg.Content, scalar(kv.key), n)
				}
			}
			add("egress", eg)
		}
		if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// list is the sequence of entries, each with its comment; nil when empty.
func list(es []entry) *yaml.Node {
	if len(es) == 0 {
		return nil
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, e := range es {
		n := value(reflect.ValueOf(e.value), true)
		n.HeadComment = e.comment
		seq.Content = append(seq.Content, n)
	}
	return seq
}

var durationType = reflect.TypeFor[time.Duration]()

// value is the node of a document struct's field, following its yaml
// tags: nil when it is left out. A nil pointer, slice or map is left
// out; other zero values are left out unless keep is set (the target of
// a pointer, an element of a list), so that a pointer says "written",
// and an empty but non-nil list or map is written as [] or {}.
func value(v reflect.Value, keep bool) *yaml.Node {
	switch {
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return value(v.Elem(), true)
	case v.Type() == durationType:
		if d := time.Duration(v.Int()); d != 0 || keep {
			return scalar(formatDuration(d))
		}
		return nil
	case v.Kind() == reflect.Struct:
		m := &yaml.Node{Kind: yaml.MappingNode}
		fields(v, m)
		if len(m.Content) == 0 {
			if !keep {
				return nil
			}
			m.Style = yaml.FlowStyle
		}
		return m
	case v.Kind() == reflect.Slice:
		if v.IsNil() {
			return nil
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for i := range v.Len() {
			seq.Content = append(seq.Content, value(v.Index(i), true))
		}
		if short(seq) {
			seq.Style = yaml.FlowStyle // [a, b]
		}
		return seq
	case v.Kind() == reflect.Map:
		if v.IsNil() {
			return nil
		}
		m := &yaml.Node{Kind: yaml.MappingNode}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			m.Content = append(m.Content, scalar(k.String()), value(v.MapIndex(k), true))
		}
		if len(m.Content) == 0 {
			m.Style = yaml.FlowStyle
		}
		return m
	case v.IsZero() && !keep:
		return nil
	case v.Kind() == reflect.String:
		return scalar(v.String())
	case v.Kind() == reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Bool())}
	case v.CanInt():
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v.Int(), 10)}
	}
	panic("native: cannot encode " + v.Type().String())
}

// fields appends the fields of struct v to mapping m, by their yaml tags.
func fields(v reflect.Value, m *yaml.Node) {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" {
			fields(v.Field(i), m)
			continue
		}
		if n := value(v.Field(i), false); n != nil {
			m.Content = append(m.Content, scalar(name), n)
		}
	}
}

// scalar is a string node: quoted where YAML would read it otherwise, a
// block when it spans lines.
func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
	} else if strings.HasPrefix(s, "'") && !strings.ContainsAny(s, "\"\\") {
		n.Style = yaml.DoubleQuotedStyle // a CEL expression: "'a' in x", not '''a'' in x'
	}
	return n
}

// formatDuration is d in Go syntax without zero units: 1h, 1m30s, 500ms.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// short reports whether a list is best written on one line: scalars only,
// few enough to fit.
func short(seq *yaml.Node) bool {
	n := 0
	for _, c := range seq.Content {
		if c.Kind != yaml.ScalarNode || c.Style == yaml.LiteralStyle {
			return false
		}
		n += len(c.Value) + 2
	}
	return n <= 60
}
