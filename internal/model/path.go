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
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if len(p) == 0 || p[0] != '/' {
		return "", ErrUnsafePath
	}
	if normalized(p) {
		return p, nil
	}
	c, err := CanonicalPath(p)
	if err != nil {
		return "", err
	}
	return removeDotSegments(c), nil
}

// CanonicalPath brings s to the character form of a normalized path: the
// escapes and raw characters as NormalizePath writes them, and runs of
// slashes merged. It does not require a leading slash and does not remove
// dot segments, so it also serves path patterns ("*.json", "/v1/"), which
// must be written in the form requests are compared in. It fails with
// ErrUnsafePath where NormalizePath would.
func CanonicalPath(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", ErrUnsafePath
			}
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			switch {
			case v == '/' || v == '\\' || v == 0:
				return "", ErrUnsafePath
			case isUnreserved(v):
				b.WriteByte(v)
			default:
				b.WriteByte('%')
				b.WriteByte(upperHex[v>>4])
				b.WriteByte(upperHex[v&15])
			}
			i += 2
		case c == 0 || c == '\\':
			return "", ErrUnsafePath
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
	return b.String(), nil
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
