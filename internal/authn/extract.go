package authn

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// Where a location looks.
const (
	inHeader = iota + 1
	inQuery
	inCookie
)

// location is one compiled token source.
type location struct {
	kind int
	// name is the canonical header name, the query parameter or the cookie
	// name.
	name string
	// prefix precedes the token in a header value; compared
	// case-insensitively.
	prefix string
}

// key identifies a location across providers: two providers reading the
// same header with the same prefix read the same tokens.
func (l location) key() string {
	return fmt.Sprintf("%d\x00%s\x00%s", l.kind, l.name, strings.ToLower(l.prefix))
}

func (l location) String() string {
	switch l.kind {
	case inHeader:
		if l.prefix != "" {
			return fmt.Sprintf("header %s (prefix %q)", l.name, l.prefix)
		}
		return "header " + l.name
	case inQuery:
		return "query parameter " + l.name
	default:
		return "cookie " + l.name
	}
}

// compileSources compiles a provider's token sources; none means
// model.DefaultTokenSources.
func compileSources(from []model.TokenSource) ([]location, error) {
	if len(from) == 0 {
		from = model.DefaultTokenSources()
	}
	var locs []location
	seen := map[string]bool{}
	for i, s := range from {
		var l location
		n := 0
		if s.Header != "" {
			l = location{kind: inHeader, name: textproto.CanonicalMIMEHeaderKey(s.Header), prefix: s.Prefix}
			n++
		}
		if s.Query != "" {
			l = location{kind: inQuery, name: s.Query}
			n++
		}
		if s.Cookie != "" {
			l = location{kind: inCookie, name: s.Cookie}
			n++
		}
		if n != 1 {
			return nil, fmt.Errorf("from[%d]: exactly one of header, query and cookie must be set", i)
		}
		if s.Prefix != "" && l.kind != inHeader {
			return nil, fmt.Errorf("from[%d]: prefix applies to headers only", i)
		}
		if k := l.key(); !seen[k] {
			seen[k] = true
			locs = append(locs, l)
		}
	}
	if len(locs) == 0 {
		return nil, errors.New("no token source")
	}
	return locs, nil
}

// found is one token found in a request.
type found struct {
	loc   int    // index into the requirement's locations
	token string // the token
	// raw is what held it: the whole header value, the query value, or
	// the cookie value.
	raw string
	// malformed: raw holds more than one token (or a token and more
	// words), so there is no single token to verify; it fails with
	// ErrNotOneToken.
	malformed bool
}

// extract appends the tokens found at l in r. An empty token counts as
// not present. A place holds at most one token: a value with a space, tab
// or comma inside what would be its token is found as malformed rather
// than cut at the separator, so that what the gateway verifies is never
// just a part of what the client sent.
func (l *location) extract(r *http.Request, idx int, query url.Values, out []found) []found {
	switch l.kind {
	case inHeader:
		for _, v := range r.Header[l.name] {
			if t, bad := headerToken(v, l.prefix); t != "" {
				out = append(out, found{loc: idx, token: t, raw: v, malformed: bad})
			}
		}
	case inQuery:
		for _, v := range query[l.name] {
			if v != "" {
				out = append(out, found{loc: idx, token: v, raw: v, malformed: notOneToken(v)})
			}
		}
	case inCookie:
		for _, c := range r.CookiesNamed(l.name) {
			if c.Value != "" {
				out = append(out, found{loc: idx, token: c.Value, raw: c.Value, malformed: notOneToken(c.Value)})
			}
		}
	}
	return out
}

// notOneToken reports whether s holds a separator of words or list items
// in a header value (space, tab, comma; none can occur in a compact JWS),
// so is not one token.
// (Three byte scans: strings.ContainsAny is several times slower on a
// token's length, and this runs on every request.)
func notOneToken(s string) bool {
	return strings.IndexByte(s, ' ') >= 0 || strings.IndexByte(s, '\t') >= 0 || strings.IndexByte(s, ',') >= 0
}

// headerToken takes the token from a header value. The prefix (compared
// case-insensitively) must start the value, else the value holds no token
// and headerToken returns "". What follows the prefix, without the spaces
// and tabs around it, is the token; it is "" when nothing follows. When
// it still holds a space, tab or comma ("Bearer a b", "Bearer a, Bearer
// b") the value is malformed: it is returned whole (trimmed) with
// malformed set, never cut down to its first word.
func headerToken(v, prefix string) (tok string, malformed bool) {
	if len(v) < len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return "", false
	}
	tok = strings.Trim(v[len(prefix):], " \t")
	return tok, notOneToken(tok)
}

// removeHeaderValue removes one value of a header.
func removeHeaderValue(h http.Header, name, value string) {
	vs := h[name]
	for i, v := range vs {
		if v == value {
			vs = append(vs[:i:i], vs[i+1:]...)
			break
		}
	}
	if len(vs) == 0 {
		delete(h, name)
	} else {
		h[name] = vs
	}
}

// removeQueryParam removes the parameters name=value from a raw query,
// leaving the others exactly as they were written.
func removeQueryParam(rawQuery, name, value string) string {
	if rawQuery == "" {
		return rawQuery
	}
	parts := strings.Split(rawQuery, "&")
	kept := parts[:0]
	for _, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == name {
			if uv, err := url.QueryUnescape(v); err == nil && uv == value {
				continue
			}
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "&")
}

// removeCookie removes the cookies name=value from every Cookie header
// line, keeping the other cookies as written.
func removeCookie(h http.Header, name, value string) {
	lines := h["Cookie"]
	var out []string
	for _, line := range lines {
		parts := strings.Split(line, ";")
		kept := make([]string, 0, len(parts))
		for _, p := range parts {
			tp := strings.TrimSpace(p)
			if tp == "" {
				continue
			}
			n, v, _ := strings.Cut(tp, "=")
			if strings.TrimSpace(n) == name {
				v = strings.TrimSpace(v)
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				if v == value {
					continue
				}
			}
			kept = append(kept, tp)
		}
		if len(kept) > 0 {
			out = append(out, strings.Join(kept, "; "))
		}
	}
	if len(out) == 0 {
		delete(h, "Cookie")
	} else {
		h["Cookie"] = out
	}
}
