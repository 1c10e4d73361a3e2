package authz

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// claimPath is a compiled claim name (model.ParseClaimPath): a
// top-level claim, a dotted path into nested objects
// ("realm_access.roles"), or bracketed segments taken literally
// ("[kubernetes.io][namespace]"). For a dotted name, a top-level claim
// whose name is the whole string ("https://example.com/roles") is looked
// up before the path is walked.
type claimPath struct {
	full string // the whole name, looked up first; "" for a bracketed path
	segs []string
	// spaceList: the claim's string value is a space-separated list
	// (RFC 8693 section 4.2) for every token; splitIssuers lists the
	// issuers whose tokens have it split besides (see
	// model.Policy.SpaceDelimitedClaims).
	spaceList    bool
	splitIssuers []string
}

// compileClaimPath compiles name for a policy whose space-delimited
// claims are split (nil: the default, scope and scp at any depth).
func compileClaimPath(name string, split map[string][]string) (claimPath, error) {
	p, err := model.ParseClaimPath(name)
	if err != nil {
		return claimPath{}, err
	}
	cp := claimPath{segs: p.Segments}
	if !p.Exact {
		cp.full = name
	}
	if split == nil {
		last := p.Segments[len(p.Segments)-1]
		cp.spaceList = last == "scope" || last == "scp"
		return cp, nil
	}
	if len(p.Segments) != 1 {
		return cp, nil // only top-level claims are split
	}
	for iss, names := range split {
		if !slices.Contains(names, p.Segments[0]) {
			continue
		}
		if iss == "*" {
			cp.spaceList = true
		} else {
			cp.splitIssuers = append(cp.splitIssuers, iss)
		}
	}
	slices.Sort(cp.splitIssuers)
	return cp, nil
}

// split reports whether the claim is a space-separated list in a token
// of issuer iss.
func (cp *claimPath) split(iss string) bool {
	return cp.spaceList || (cp.splitIssuers != nil && slices.Contains(cp.splitIssuers, iss))
}

// lookup finds the claim in claims.
func (cp *claimPath) lookup(claims map[string]any) (any, bool) {
	if cp.full != "" {
		if v, ok := claims[cp.full]; ok {
			return v, true
		}
		if len(cp.segs) == 1 {
			return nil, false
		}
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
