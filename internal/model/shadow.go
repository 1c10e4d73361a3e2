package model

import (
	"strconv"
	"strings"
)

// shadowIndex finds, among the routes added so far, the first that
// covers a later one, without comparing every pair: a route can only be
// covered by an earlier route that restricts neither hosts nor paths, or
// that lists the later route's first host, or has an exact, regex or
// prefix path that covers the later route's first path. Candidates are
// then checked with covers, in order.
type shadowIndex struct {
	anyHost  map[string][]int // by listener: routes without hosts
	byHost   map[string][]int // by listener and lower-case host
	anyPath  map[string][]int // by listener: routes without paths
	byPath   map[string][]int // by listener, kind and value
	prefixes map[string]bool  // by listener: prefix lengths in use, "listener\x00n"
}

func (x *shadowIndex) add(i int, r Route) {
	if x.anyHost == nil {
		x.anyHost, x.byHost = map[string][]int{}, map[string][]int{}
		x.anyPath, x.byPath = map[string][]int{}, map[string][]int{}
		x.prefixes = map[string]bool{}
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
		k := l + "\x00" + string(p.Kind) + "\x00" + p.Value
		if n := len(x.byPath[k]); n == 0 || x.byPath[k][n-1] != i {
			x.byPath[k] = append(x.byPath[k], i)
		}
		if p.Kind == PathPrefix {
			x.prefixes[l+"\x00"+strconv.Itoa(len(p.Value))] = true
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
		byPath = merge(byPath, x.byPath[l+"\x00"+string(p.Kind)+"\x00"+p.Value])
		if p.Kind == PathExact || p.Kind == PathPrefix {
			for n := 0; n <= len(p.Value); n++ {
				if x.prefixes[l+"\x00"+strconv.Itoa(n)] {
					byPath = merge(byPath, x.byPath[l+"\x00"+string(PathPrefix)+"\x00"+p.Value[:n]])
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

func pathCovers(q, p PathMatch) bool {
	switch q.Kind {
	case PathPrefix:
		return (p.Kind == PathExact || p.Kind == PathPrefix) && strings.HasPrefix(p.Value, q.Value)
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
