package authz

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// claimPath is a compiled claim name: a top-level claim, or a dotted path
// into nested objects ("realm_access.roles"). A top-level claim whose name
// itself contains dots ("https://example.com/roles") is looked up before
// the path is split.
type claimPath struct {
	full string
	segs []string // nil for a name without dots
	// spaceList: the last segment is scope or scp, whose string value is
	// a space-separated list (RFC 8693 section 4.2).
	spaceList bool
}

var errEmptyClaim = errors.New("empty claim name")

func compileClaimPath(name string) (claimPath, error) {
	if name == "" {
		return claimPath{}, errEmptyClaim
	}
	cp := claimPath{full: name}
	last := name
	if strings.Contains(name, ".") {
		cp.segs = strings.Split(name, ".")
		for _, s := range cp.segs {
			if s == "" {
				return claimPath{}, errors.New("claim path " + strconv.Quote(name) + " has an empty segment")
			}
		}
		last = cp.segs[len(cp.segs)-1]
	}
	cp.spaceList = last == "scope" || last == "scp"
	return cp, nil
}

// lookup finds the claim in claims.
func (cp *claimPath) lookup(claims map[string]any) (any, bool) {
	if v, ok := claims[cp.full]; ok {
		return v, true
	}
	if cp.segs == nil {
		return nil, false
	}
	m := claims
	for i, s := range cp.segs {
		v, ok := m[s]
		if !ok {
			return nil, false
		}
		if i == len(cp.segs)-1 {
			return v, true
		}
		if m, ok = v.(map[string]any); !ok {
			return nil, false
		}
	}
	return nil, false
}

// claimValueMatch reports whether the claim value v, or any element when
// it is an array, matches ps. Numbers and booleans compare by their JSON
// text; objects and null match nothing. With spaceList a string is a
// space-separated list of values.
func claimValueMatch(v any, ps patterns, spaceList bool) bool {
	switch v := v.(type) {
	case string:
		if spaceList {
			return spaceListMatch(v, ps)
		}
		return ps.match(v)
	case json.Number:
		return ps.match(string(v))
	case bool:
		if v {
			return ps.match("true")
		}
		return ps.match("false")
	case []any:
		for _, e := range v {
			switch e.(type) {
			case []any, map[string]any:
				continue // arrays of arrays or objects are not looked into
			}
			if claimValueMatch(e, ps, false) {
				return true
			}
		}
		return false
	case []string: // claims built in code
		for _, e := range v {
			if ps.match(e) {
				return true
			}
		}
		return false
	case float64: // claims decoded without UseNumber
		return ps.match(strconv.FormatFloat(v, 'f', -1, 64))
	case int:
		return ps.match(strconv.Itoa(v))
	case int64:
		return ps.match(strconv.FormatInt(v, 10))
	}
	return false
}

// spaceListMatch matches each space-separated field of s.
func spaceListMatch(s string, ps patterns) bool {
	for s != "" {
		var f string
		f, s, _ = strings.Cut(s, " ")
		if f != "" && ps.match(f) {
			return true
		}
	}
	return false
}
