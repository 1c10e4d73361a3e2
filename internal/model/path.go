package model

import (
	"errors"
	"strings"
)

// ErrUnsafePath is returned by NormalizePath for a path that cannot be
// normalized safely. The proxy answers such requests with 400.
var ErrUnsafePath = errors.New("path cannot be normalized safely")

// NormalizePath normalizes the path of a request target as RFC 3986
// section 6 describes, in the form routes and policies match and the
// upstream receives:
//
//   - anything from the first '?' or '#' on (query, fragment) is dropped;
//   - percent-encoded unreserved characters (ALPHA, DIGIT, "-", ".", "_",
//     "~") are decoded, other escapes are kept with upper-case hex digits;
//   - bytes that may not appear raw in a path (space, quotes, '{', bytes
//     beyond ASCII, ...) are percent-encoded;
//   - runs of slashes are merged ("/a//b" is "/a/b"), as Envoy's
//     merge_slashes does, so that "//admin" cannot slip past a rule on
//     "/admin" while the upstream serves /admin;
//   - "." and ".." segments are removed ("/a/../b" is "/b"; ".." never
//     climbs above the root).
//
// It fails with ErrUnsafePath, and the request is rejected rather than
// matched loosely, when the path does not start with "/", contains an
// encoded slash (%2F), an encoded or raw backslash (%5C, \), an encoded or
// raw NUL, or a '%' not followed by two hex digits. Those are the inputs
// on which the gateway and an upstream could disagree about the resource.
//
// The result is idempotent: NormalizePath of a normalized path returns it
// unchanged. A path that is already normalized is returned without
// allocating.
func NormalizePath(p string) (string, error) {
	out, class := normalizePath(p)
	if class != "" {
		return "", ErrUnsafePath
	}
	return out, nil
}

// normalizePath is NormalizePath, saying why a path is unsafe: the class
// is empty when the path was normalized.
func normalizePath(p string) (string, PathClass) {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if len(p) == 0 || p[0] != '/' {
		return "", PathNotAbsolute
	}
	if normalized(p) {
		return p, ""
	}
	c, class := canonicalPath(p)
	if class != "" {
		return "", class
	}
	return removeDotSegments(c), ""
}

// PathOptions relax, per listener, the refusal of request paths that
// common backends read differently from the gateway (see
// NormalizeRequestPath). The zero value refuses all of them.
type PathOptions struct {
	// AllowSemicolons accepts ';' (and %3B) in a path: matrix parameters,
	// such as Tomcat's ";jsessionid=...". Routes and policies then see
	// the parameters as part of the path, while a backend such as Tomcat
	// drops them: "/admin;x=1" does not equal "/admin" for an exact
	// rule. A dot segment carrying parameters ("..;") stays refused.
	AllowSemicolons bool `yaml:"allowSemicolons,omitempty"`
	// AllowEncodedHash accepts %23, an encoded '#', which a backend that
	// decodes the path and parses it again takes for the start of a
	// fragment, dropping the rest.
	AllowEncodedHash bool `yaml:"allowEncodedHash,omitempty"`
	// AllowDoubleEncoding accepts %25 followed by two hex digits (or by
	// 'u' and four, IIS's %uXXXX), as in %252e: once decoded it is an
	// escape again, which a backend that decodes twice reads as '.'.
	// Allow it only when every backend of the listener decodes once.
	AllowDoubleEncoding bool `yaml:"allowDoubleEncoding,omitempty"`
	// AllowTrailingEncodedWhitespace accepts a segment ending in encoded
	// whitespace or a control character (%20, %09, %00-%1F, %7F), which
	// some servers strip: "/admin%20" served as "/admin".
	AllowTrailingEncodedWhitespace bool `yaml:"allowTrailingEncodedWhitespace,omitempty"`
}

// PathClass names the reason a request path is refused.
type PathClass string

// Path classes. The first five are the paths NormalizePath rejects; the
// others are refused by NormalizeRequestPath, each unless its PathOptions
// field allows it, except PathDotSegmentParams, which is always refused.
const (
	PathNotAbsolute        PathClass = "notAbsolute"
	PathBadEscape          PathClass = "badEscape"
	PathEncodedSlash       PathClass = "encodedSlash"
	PathBackslash          PathClass = "backslash"
	PathNUL                PathClass = "nul"
	PathSemicolon          PathClass = "semicolon"
	PathEncodedHash        PathClass = "encodedHash"
	PathDoubleEncoding     PathClass = "doubleEncoding"
	PathTrailingWhitespace PathClass = "trailingWhitespace"
	PathDotSegmentParams   PathClass = "dotSegmentParameters"
)

// PathError is the error NormalizeRequestPath returns for a refused path.
// It wraps ErrUnsafePath, so errors.Is(err, ErrUnsafePath) holds for every
// refusal.
type PathError struct {
	// Class says why the path was refused; it is a short, stable word
	// suited to logs and metrics.
	Class PathClass
}

// Error describes the class, and the listener option that allows it when
// there is one.
func (e *PathError) Error() string {
	return "path refused: " + pathClassText[e.Class]
}

// Unwrap returns ErrUnsafePath.
func (e *PathError) Unwrap() error { return ErrUnsafePath }

var pathClassText = map[PathClass]string{
	PathNotAbsolute:        "does not start with /",
	PathBadEscape:          "% not followed by two hex digits",
	PathEncodedSlash:       "encoded slash (%2F)",
	PathBackslash:          "backslash (\\ or %5C)",
	PathNUL:                "NUL (%00)",
	PathSemicolon:          "matrix parameters (; or %3B); paths.allowSemicolons allows them",
	PathEncodedHash:        "encoded # (%23); paths.allowEncodedHash allows it",
	PathDoubleEncoding:     "double encoding (%25 followed by an escape, as in %252e); paths.allowDoubleEncoding allows it",
	PathTrailingWhitespace: "a segment ending in encoded whitespace or a control character (such as %20 or %09); paths.allowTrailingEncodedWhitespace allows it",
	PathDotSegmentParams:   "a dot segment with parameters (such as ..;), refused even when semicolons are allowed",
}

// pathErrors holds one error per class, so that a refusal does not
// allocate.
var pathErrors = func() map[PathClass]error {
	m := make(map[PathClass]error, len(pathClassText))
	for c := range pathClassText {
		m[c] = &PathError{Class: c}
	}
	return m
}()

// NormalizeRequestPath normalizes the path of a request target as
// NormalizePath does (the result is the same) and also refuses, with a
// *PathError naming the class, the paths that common backends read
// differently from the gateway, unless opts allows them:
//
//   - PathSemicolon: a ';' or %3B anywhere in the path. Tomcat and other
//     servlet containers drop ";params" from each segment, so
//     "/admin;x=1" reaches /admin and "/public/..;/admin" climbs out of
//     /public/, while the gateway matched a different path.
//   - PathEncodedHash: %23. A backend that decodes and parses the path
//     again cuts it at the '#'.
//   - PathDoubleEncoding: %25 followed by two hex digits, or by 'u' and
//     four ("%252e", "%25u002e"). A backend that decodes twice reads
//     "%252e%252e" as "..".
//   - PathTrailingWhitespace: a segment whose last character is
//     whitespace or a control character, encoded or raw ("/admin%20",
//     "/admin%09/x"), which some servers strip. A ';' also ends a segment
//     here, as it does for servlet containers.
//
// A segment whose name (the part before its first ';' or %3B) is "." or
// "..", encoded or not, followed by parameters is refused as
// PathDotSegmentParams even with AllowSemicolons: the gateway takes
// "..;x" for a name while Tomcat takes it for "..", so it could climb out
// of the prefix a rule was written for.
//
// The checks run on the path as received, before any decoding, and again
// on the normalized result, since decoding %32%65 after %25 yields
// %252e. Paths NormalizePath rejects are refused first, with their own
// class (PathNotAbsolute, PathBadEscape, PathEncodedSlash, PathBackslash,
// PathNUL). The query and fragment are not part of the path. A path that
// is already normalized and accepted costs two scans and no allocation.
func NormalizeRequestPath(raw string, opts PathOptions) (string, error) {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	out, class := normalizePath(raw)
	if class == "" {
		class = opts.refused(raw)
	}
	if class == "" && out != raw {
		class = opts.refused(out)
	}
	if class != "" {
		return "", pathErrors[class]
	}
	return out, nil
}

// refused returns the class of the first part of p that o does not allow,
// or "". p starts with "/" and has only valid escapes.
func (o PathOptions) refused(p string) PathClass {
	name := true   // in the current segment's name, before any ';'
	dots := 0      // dots the name is made of; -1 once it holds anything else
	space := false // the character before was whitespace or a control
	for i := 0; i < len(p); i++ {
		c, enc := p[i], false
		if c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			c, enc = unhex(p[i+1])<<4|unhex(p[i+2]), true
		}
		switch {
		case c == '/' && !enc:
			if space && !o.AllowTrailingEncodedWhitespace {
				return PathTrailingWhitespace
			}
			name, dots = true, 0
		case c == ';':
			switch {
			case !o.AllowSemicolons:
				return PathSemicolon
			case space && !o.AllowTrailingEncodedWhitespace:
				return PathTrailingWhitespace
			case name && (dots == 1 || dots == 2):
				return PathDotSegmentParams
			}
			name = false
		case enc && c == '#':
			if !o.AllowEncodedHash {
				return PathEncodedHash
			}
		case enc && c == '%':
			if !o.AllowDoubleEncoding && escapeFollows(p[i+3:]) {
				return PathDoubleEncoding
			}
		}
		if name && c != '/' {
			if c == '.' && dots >= 0 {
				dots++
			} else {
				dots = -1
			}
		}
		space = c <= ' ' || c == 0x7f
		if enc {
			i += 2
		}
	}
	if space && !o.AllowTrailingEncodedWhitespace {
		return PathTrailingWhitespace
	}
	return ""
}

// escapeFollows reports whether s starts with what a decoder would take
// for an escape once a '%' is put before it: two hex digits, or 'u' and
// four hex digits (IIS's %uXXXX).
func escapeFollows(s string) bool {
	if len(s) >= 2 && isHex(s[0]) && isHex(s[1]) {
		return true
	}
	if len(s) >= 5 && (s[0] == 'u' || s[0] == 'U') {
		for _, c := range []byte(s[1:5]) {
			if !isHex(c) {
				return false
			}
		}
		return true
	}
	return false
}

// CanonicalPath brings s to the character form of a normalized path: the
// escapes and raw characters as NormalizePath writes them, and runs of
// slashes merged. It does not require a leading slash and does not remove
// dot segments, so it also serves path patterns ("*.json", "/v1/"), which
// must be written in the form requests are compared in. It fails with
// ErrUnsafePath where NormalizePath would.
func CanonicalPath(s string) (string, error) {
	c, class := canonicalPath(s)
	if class != "" {
		return "", ErrUnsafePath
	}
	return c, nil
}

// canonicalPath is CanonicalPath, saying why a path is unsafe.
func canonicalPath(s string) (string, PathClass) {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", PathBadEscape
			}
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			switch {
			case v == '/':
				return "", PathEncodedSlash
			case v == '\\':
				return "", PathBackslash
			case v == 0:
				return "", PathNUL
			case isUnreserved(v):
				b.WriteByte(v)
			default:
				b.WriteByte('%')
				b.WriteByte(upperHex[v>>4])
				b.WriteByte(upperHex[v&15])
			}
			i += 2
		case c == 0:
			return "", PathNUL
		case c == '\\':
			return "", PathBackslash
		case c == '/' && i > 0 && s[i-1] == '/':
			// A run of slashes is one.
		case isPathChar(c):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
	}
	return b.String(), ""
}

// normalized reports whether p (starting with "/") is already in normal
// form, so that the common case costs one scan and no allocation.
func normalized(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%':
			if i+2 >= len(p) || !isUpperHex(p[i+1]) || !isUpperHex(p[i+2]) {
				return false
			}
			v := unhex(p[i+1])<<4 | unhex(p[i+2])
			if v == '/' || v == '\\' || v == 0 || isUnreserved(v) {
				return false
			}
			i += 2
		case c == '/':
			if i > 0 && p[i-1] == '/' {
				return false
			}
		case c == '.':
			// A segment made of "." or ".." only.
			if p[i-1] == '/' {
				j := i + 1
				if j < len(p) && p[j] == '.' {
					j++
				}
				if j == len(p) || p[j] == '/' {
					return false
				}
			}
		case !isPathChar(c):
			return false
		}
	}
	return true
}

// removeDotSegments removes "." and ".." segments from p, which starts
// with "/" and has no escapes that could hide a dot or a slash.
func removeDotSegments(p string) string {
	if !strings.Contains(p, "/.") {
		return p
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			trailing = last
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = last
		default:
			out = append(out, s)
			trailing = false
		}
	}
	r := "/" + strings.Join(out, "/")
	if trailing && !strings.HasSuffix(r, "/") {
		r += "/"
	}
	return r
}

const upperHex = "0123456789ABCDEF"

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// isUnreserved: RFC 3986 unreserved characters.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isPathChar: characters that may appear raw in a path: pchar minus
// pct-encoded, plus "/".
func isPathChar(c byte) bool {
	if isUnreserved(c) {
		return true
	}
	switch c {
	case '/', ':', '@', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}
