package model

import (
	"slices"
	"strconv"
	"strings"
)

// shadowIndex finds, among the routes added so far, the first that
// covers a later one, without comparing every pair: a route can only be
// covered by an earlier route that restricts neither hosts nor paths, or
// that lists the later route's first host, or has an exact, regex,
// prefix or segment prefix path that covers the later route's first
// path. Candidates are then checked with covers, in order.
type shadowIndex struct {
	anyHost  map[string][]int // by listener: routes without hosts
	byHost   map[string][]int // by listener and lower-case host
	anyPath  map[string][]int // by listener: routes without paths
	byPath   map[string][]int // by listener, kind and value
	prefixes map[string]bool  // by listener: prefix lengths in use, "listener\x00n"
	segments map[string]bool  // listeners with segment prefix paths
}

func (x *shadowIndex) add(i int, r Route) {
	if x.anyHost == nil {
		x.anyHost, x.byHost = map[string][]int{}, map[string][]int{}
		x.anyPath, x.byPath = map[string][]int{}, map[string][]int{}
		x.prefixes = map[string]bool{}
		x.segments = map[string]bool{}
	}
	l := r.Listener
	if len(r.Match.Hosts) == 0 {
		x.anyHost[l] = append(x.anyHost[l], i)
	}
	for _, h := range r.Match.Hosts {
		k := l + "\x00" + strings.ToLower(h)
		if n := len(x.byHost[k]); n == 0 || x.byHost[k][n-1] != i {
			x.byHost[k] = append(x.byHost[k], i)
		}
	}
	if len(r.Match.Paths) == 0 {
		x.anyPath[l] = append(x.anyPath[l], i)
	}
	for _, p := range r.Match.Paths {
		k := l + "\x00" + string(p.Kind) + "\x00" + pathKey(p)
		if n := len(x.byPath[k]); n == 0 || x.byPath[k][n-1] != i {
			x.byPath[k] = append(x.byPath[k], i)
		}
		if p.Kind == PathPrefix {
			x.prefixes[l+"\x00"+strconv.Itoa(len(p.Value))] = true
		}
		if p.Kind == PathSegmentPrefix {
			x.segments[l] = true
		}
	}
}

// first returns the index of the first added route that covers r, or -1.
func (x *shadowIndex) first(r Route, routes []Route) int {
	if x.anyHost == nil {
		return -1
	}
	l := r.Listener
	byHost := x.anyHost[l]
	if len(r.Match.Hosts) > 0 {
		byHost = merge(byHost, x.byHost[l+"\x00"+strings.ToLower(r.Match.Hosts[0])])
	}
	byPath := x.anyPath[l]
	if len(r.Match.Paths) > 0 {
		p := r.Match.Paths[0]
		byPath = merge(byPath, x.byPath[l+"\x00"+string(p.Kind)+"\x00"+pathKey(p)])
		if p.Kind == PathExact || p.Kind == PathPrefix || p.Kind == PathSegmentPrefix {
			for n := 0; n <= len(p.Value); n++ {
				if x.prefixes[l+"\x00"+strconv.Itoa(n)] {
					byPath = merge(byPath, x.byPath[l+"\x00"+string(PathPrefix)+"\x00"+p.Value[:n]])
				}
			}
			// Segment prefixes that may cover it: "/" and the value up to
			// each "/" in it, and the whole value.
			v := pathKey(PathMatch{Kind: PathSegmentPrefix, Value: p.Value})
			for n := 0; x.segments[l] && n <= len(v); n++ {
				if n == len(v) || v[n] == '/' {
					s := v[:n]
					if s == "" {
						s = "/"
					}
					byPath = merge(byPath, x.byPath[l+"\x00"+string(PathSegmentPrefix)+"\x00"+s])
				}
			}
		}
	}
	// Both lists are sorted: walk their intersection in order.
	for i, j := 0, 0; i < len(byHost) && j < len(byPath); {
		switch a, b := byHost[i], byPath[j]; {
		case a < b:
			i++
		case a > b:
			j++
		default:
			if covers(routes[a].Match, r.Match) {
				return a
			}
			i++
			j++
		}
	}
	return -1
}

// merge returns the sorted union of two sorted lists.
func merge(a, b []int) []int {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]int, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case a[0] > b[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// covers reports whether match e matches every request that m matches. It
// is sound but not complete: it answers false when unsure.
func covers(e, m RouteMatch) bool {
	if len(e.Hosts) > 0 && (len(m.Hosts) == 0 || !subsetFold(m.Hosts, e.Hosts)) {
		return false
	}
	if len(e.Methods) > 0 && (len(m.Methods) == 0 || !subsetFold(m.Methods, e.Methods)) {
		return false
	}
	for k, ev := range e.Headers {
		mv, ok := lookupFold(m.Headers, k)
		if !ok || (ev != "*" && ev != mv) {
			return false
		}
	}
	// A header or query condition of e covers only the requests of
	// routes that have the very same condition.
	for _, c := range e.HeaderMatches {
		if !slices.ContainsFunc(m.HeaderMatches, func(d ValueMatch) bool { return strings.EqualFold(c.Name, d.Name) && sameCondition(c, d) }) {
			return false
		}
	}
	for _, c := range e.Query {
		if !slices.ContainsFunc(m.Query, func(d ValueMatch) bool { return c.Name == d.Name && sameCondition(c, d) }) {
			return false
		}
	}
	if len(e.Paths) == 0 {
		return true
	}
	if len(m.Paths) == 0 {
		return false
	}
	for _, p := range m.Paths {
		covered := false
		for _, q := range e.Paths {
			if pathCovers(q, p) {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

// sameCondition reports whether two conditions on one name hold for the
// same values.
func sameCondition(c, d ValueMatch) bool {
	return c.Kind == d.Kind && c.Value == d.Value && c.Invert == d.Invert
}

// pathKey is the value a path match is indexed by: a segment prefix
// without its trailing slash ("/foo/" matches what "/foo" does).
func pathKey(p PathMatch) string {
	if p.Kind == PathSegmentPrefix && len(p.Value) > 1 {
		return strings.TrimSuffix(p.Value, "/")
	}
	return p.Value
}

// underSegment reports whether every path that starts with v lies at or
// below the segment prefix s (without a trailing slash, or "/").
func underSegment(v, s string) bool {
	return s == "/" || v == s || strings.HasPrefix(v, s+"/")
}

func pathCovers(q, p PathMatch) bool {
	switch q.Kind {
	case PathPrefix:
		// A segment prefix matches paths that start with its value.
		return (p.Kind == PathExact || p.Kind == PathPrefix || p.Kind == PathSegmentPrefix) && strings.HasPrefix(pathKey(p), q.Value)
	case PathSegmentPrefix:
		s := pathKey(q)
		switch p.Kind {
		case PathExact:
			return underSegment(p.Value, s)
		case PathPrefix:
			// "/foo/x" and everything after it lies under "/foo"; "/foo"
			// itself also starts "/foobar".
			return s == "/" || strings.HasPrefix(p.Value, s+"/")
		case PathSegmentPrefix:
			return underSegment(pathKey(p), s)
		}
		return false
	case PathExact:
		return p.Kind == PathExact && p.Value == q.Value
	case PathRegex:
		return p.Kind == PathRegex && p.Value == q.Value
	}
	return false
}

func subsetFold(sub, super []string) bool {
	for _, s := range sub {
		found := false
		for _, x := range super {
			if strings.EqualFold(s, x) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
