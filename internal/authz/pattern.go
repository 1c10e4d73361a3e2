package authz

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// patternKind says how a pattern compares a value.
type patternKind uint8

const (
	matchExact    patternKind = iota // value == s
	matchPrefix                      // "s*": value starts with s
	matchSuffix                      // "*s": value ends with s
	matchAny                         // "*": any non-empty value
	matchTemplate                    // an Istio path template ({*}, {**})
)

// pattern is one compiled Istio string match: exact, "prefix*", "*suffix"
// or "*". The zero value is never used: compilePattern rejects "".
type pattern struct {
	kind patternKind
	s    string // without the '*'
	fold bool   // compare ASCII letters case-insensitively (hosts)
	port int    // hosts only: the port a "host:PORT" pattern requires, 0 for any
	tmpl *pathTemplate
}

// Pattern errors, wrapped with the offending value.
var (
	errEmptyValue    = errors.New("empty value")
	errInnerWildcard = errors.New(`"*" is only allowed as the whole value, a prefix or a suffix`)
	errHostPort      = errors.New("invalid port in host (want HOST, HOST:PORT or HOST:*)")
)

// compilePattern classifies v. A '*' anywhere but alone, at the start or at
// the end is rejected rather than taken literally (Istio takes it
// literally, which silently never matches: in a DENY rule that is a hole).
func compilePattern(v string) (pattern, error) {
	switch {
	case v == "":
		return pattern{}, errEmptyValue
	case v == "*":
		return pattern{kind: matchAny}, nil
	}
	var p pattern
	switch {
	case strings.HasPrefix(v, "*"):
		p = pattern{kind: matchSuffix, s: v[1:]}
	case strings.HasSuffix(v, "*"):
		p = pattern{kind: matchPrefix, s: v[:len(v)-1]}
	default:
		p = pattern{kind: matchExact, s: v}
	}
	if strings.Contains(p.s, "*") {
		return pattern{}, fmt.Errorf("%q: %w", v, errInnerWildcard)
	}
	return p, nil
}

// compilePathPattern is compilePattern with path checks: Istio's {*} and
// {**} templates are compiled as such (see compileTemplate), and the
// pattern is brought to the form of a normalized request path (see
// normalizePathPattern), so that "/café" or "/a%3fb" is not a pattern
// that silently never matches.
func compilePathPattern(v string) (pattern, error) {
	if model.IsPathTemplate(v) {
		t, err := compileTemplate(v)
		if err != nil {
			return pattern{}, err
		}
		return pattern{kind: matchTemplate, tmpl: t}, nil
	}
	p, err := compilePattern(v)
	if err != nil {
		return p, err
	}
	if p.kind != matchAny {
		if (p.kind == matchExact || p.kind == matchPrefix) && !strings.HasPrefix(p.s, "/") {
			return pattern{}, fmt.Errorf("%q: %w", v, errPathSlash)
		}
		if p.s, err = normalizePathPattern(p.s); err != nil {
			return pattern{}, fmt.Errorf("%q: %w", v, err)
		}
	}
	return p, nil
}

var (
	errPathSlash  = errors.New(`a path starts with "/" (or write "*suffix")`)
	errPathQuery  = errors.New(`"?" and "#" start the query and the fragment, which are not part of the path`)
	errPathEscape = errors.New(`can never match: a "%" not followed by two hex digits, an encoded slash, backslash or NUL (%2F, %5C, %00), or a raw backslash or NUL, is rejected with 400 before policies run`)
)

// normalizePathPattern writes s in the form of a normalized request path
// (model.CanonicalPath): escapes of unreserved characters decoded, other
// escapes with upper-case hex digits, bytes that may not appear raw in a
// path percent-encoded, runs of slashes merged.
func normalizePathPattern(s string) (string, error) {
	if strings.ContainsAny(s, "?#") {
		return "", errPathQuery
	}
	c, err := model.CanonicalPath(s)
	if err != nil {
		return "", errPathEscape
	}
	return c, nil
}

// compileHostPattern is compilePattern for hosts: ASCII case-insensitive.
// A pattern may end in ":PORT", which also requires the request's port, or
// in ":*" (Istio's idiom for "with any port"), which is the same as no port
// since hosts are compared without their port.
func compileHostPattern(v string) (pattern, error) {
	host, port := v, 0
	if hostHasPort(v) {
		i := strings.LastIndexByte(v, ':')
		host = v[:i]
		if ps := v[i+1:]; ps != "*" {
			n, err := strconv.Atoi(ps)
			if err != nil || n < 1 || n > 65535 {
				return pattern{}, fmt.Errorf("%q: %w", v, errHostPort)
			}
			port = n
		}
	}
	p, err := compilePattern(bareHost(host))
	if err != nil {
		if host != v {
			return pattern{}, fmt.Errorf("%q: %w", v, err)
		}
		return p, err
	}
	p.fold = true
	p.port = port
	return p, nil
}

// bareHost returns h without IPv6 brackets and without a trailing dot
// ("example.com." is the fully qualified form of "example.com"), the form
// in which request hosts are compared: "[::1]" is "::1", and a pattern
// written with a trailing dot must not silently never match. A dot right
// after a '*' is kept ("*." stays a suffix pattern rather than becoming
// "*").
func bareHost(h string) string {
	if len(h) > 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	if n := len(h); n > 1 && h[n-1] == '.' && h[n-2] != '*' {
		h = h[:n-1]
	}
	return h
}

// requestHost is the host a request is compared with: without port,
// brackets or trailing dot. It slices h and never allocates.
func requestHost(h string) string {
	return bareHost(stripPort(h))
}

// matchHost matches a host (without port) and the request's port.
func (p *pattern) matchHost(host string, port int) bool {
	return (p.port == 0 || p.port == port) && p.match(host)
}

// hostHasPort reports whether h ends in ":port". An unbracketed IPv6
// literal (two or more colons) has none.
func hostHasPort(h string) bool {
	i := strings.LastIndexByte(h, ':')
	if i < 0 {
		return false
	}
	if strings.HasPrefix(h, "[") {
		return i > strings.LastIndexByte(h, ']')
	}
	return strings.IndexByte(h, ':') == i
}

// stripPort returns h without a trailing ":port".
func stripPort(h string) string {
	if !hostHasPort(h) {
		return h
	}
	return h[:strings.LastIndexByte(h, ':')]
}

// match reports whether v matches. An empty v (an absent value) matches
// nothing, not even "*".
func (p *pattern) match(v string) bool {
	if v == "" {
		return false
	}
	switch p.kind {
	case matchAny:
		return true
	case matchTemplate:
		return p.tmpl.match(v)
	case matchPrefix:
		if len(v) < len(p.s) {
			return false
		}
		if p.fold {
			return asciiEqualFold(v[:len(p.s)], p.s)
		}
		return v[:len(p.s)] == p.s
	case matchSuffix:
		if len(v) < len(p.s) {
			return false
		}
		if p.fold {
			return asciiEqualFold(v[len(v)-len(p.s):], p.s)
		}
		return v[len(v)-len(p.s):] == p.s
	}
	if p.fold {
		return asciiEqualFold(v, p.s)
	}
	return v == p.s
}

// patterns matches when any of its patterns does.
type patterns []pattern

func (ps patterns) match(v string) bool {
	for i := range ps {
		if ps[i].match(v) {
			return true
		}
	}
	return false
}

func (ps patterns) matchHost(host string, port int) bool {
	for i := range ps {
		if ps[i].matchHost(host, port) {
			return true
		}
	}
	return false
}

// asciiEqualFold reports whether a and b are equal with ASCII letters
// compared case-insensitively. Host names are ASCII (IDNs arrive in
// punycode); Unicode folding would let "\u212a" (Kelvin) match "k".
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// pathTemplate is a compiled Istio path template (Envoy's URI template
// matcher): literal text, "{*}" segments (one non-empty segment) and at
// most one "{**}", the last operator, which takes any rest of the path
// (zero or more segments) before the literal tail that follows it.
type pathTemplate struct {
	head []templatePart // what comes before {**}, or everything
	rest bool           // the template has {**}
	tail string         // the literal text after {**}
}

// templatePart is literal text or, with one set, a {*} segment.
type templatePart struct {
	lit string
	one bool
}

var (
	errTemplateDots    = errors.New(`can never match: "." and ".." segments are removed from every request path`)
	errTemplateSlashes = errors.New(`can never match: runs of slashes are merged in every request path`)
)

// compileTemplate compiles an Istio path template (its shape is checked
// by model.CheckPathTemplate). Literal segments are brought to the form
// of a normalized request path, as other path patterns are.
func compileTemplate(v string) (*pathTemplate, error) {
	if err := model.CheckPathTemplate(v); err != nil {
		return nil, err
	}
	if strings.ContainsAny(v, "?#") {
		return nil, fmt.Errorf("%q: %w", v, errPathQuery)
	}
	t := &pathTemplate{}
	var lit strings.Builder
	lit.WriteByte('/')
	flush := func() {
		if lit.Len() > 0 {
			t.head = append(t.head, templatePart{lit: lit.String()})
			lit.Reset()
		}
	}
	segs := strings.Split(v[1:], "/")
	for i, seg := range segs {
		if seg == "" && i < len(segs)-1 {
			return nil, fmt.Errorf("%q: %w", v, errTemplateSlashes)
		}
	}
	for i, seg := range segs {
		if i > 0 {
			lit.WriteByte('/')
		}
		switch seg {
		case "{*}":
			flush()
			t.head = append(t.head, templatePart{one: true})
			continue
		case "{**}":
			flush()
			t.rest = true
			var tail strings.Builder
			for _, s := range segs[i+1:] {
				n, err := templateLiteral(v, s)
				if err != nil {
					return nil, err
				}
				tail.WriteString("/" + n)
			}
			t.tail = tail.String()
			return t, nil
		}
		n, err := templateLiteral(v, seg)
		if err != nil {
			return nil, err
		}
		lit.WriteString(n)
	}
	flush()
	return t, nil
}

// templateLiteral normalizes one literal segment of template v.
func templateLiteral(v, seg string) (string, error) {
	if seg == "." || seg == ".." {
		return "", fmt.Errorf("%q: %w", v, errTemplateDots)
	}
	if seg == "" {
		return "", nil
	}
	n, err := normalizePathPattern("/" + seg)
	if err != nil {
		return "", fmt.Errorf("%q: %w", v, err)
	}
	return n[1:], nil
}

// match reports whether the normalized path p matches the template.
func (t *pathTemplate) match(p string) bool {
	for _, part := range t.head {
		if !part.one {
			if !strings.HasPrefix(p, part.lit) {
				return false
			}
			p = p[len(part.lit):]
			continue
		}
		i := strings.IndexByte(p, '/')
		if i < 0 {
			i = len(p)
		}
		if i == 0 {
			return false
		}
		p = p[i:]
	}
	if !t.rest {
		return p == ""
	}
	return strings.HasSuffix(p, t.tail)
}
