package envoygateway

import (
	"net/netip"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// A formula is a Boolean condition on a request in disjunctive normal
// form, built from literals that a model.Rule can state exactly, each
// one positive or negated. The ordered rules of an authorization are
// translated into such formulas (see authorization.go), and each term of
// the final formula becomes one model rule: a policy matches when any of
// its rules does, and a rule when all its parts do, which is a term.

// litKind says what a literal looks at.
type litKind uint8

const (
	// litMethod: the method is one of values.
	litMethod litKind = iota
	// litPath: the normalized path matches one of values, model path
	// patterns ("/a" exact, "/a/*" prefix).
	litPath
	// litClient: the client address is in one of values, CIDR blocks.
	litClient
	// litClaim: the claim name (a model claim path) has one of values.
	litClaim
	// litHeader: the header name has one of values.
	litHeader
	// litIssuer: the verified token's issuer is values[0] (negated: is
	// none of values, or there is no verified token).
	litIssuer
	// litCEL: the CEL expression values[0] is true, the verified
	// token's claims being under the key name (model.CondCEL).
	litCEL
)

// lit is one literal.
type lit struct {
	kind   litKind
	neg    bool
	name   string
	values []string
}

// term is a conjunction of literals; the empty term is true.
type term []lit

// formula is a disjunction of terms; the empty formula is false.
type formula []term

// truth is the formula that always holds.
var truth = formula{term{}}

// maxTerms bounds the terms of a formula: the rules one policy becomes.
const maxTerms = 512

// one is the formula of a single literal.
func one(l lit) formula { return formula{term{l}} }

// or is a ∨ b.
func or(a, b formula) formula { return append(slices.Clip(a), b...) }

// and is a ∧ b, distributed; terms that can never hold are dropped. ok
// is false when the result would exceed maxTerms.
func and(a, b formula) (formula, bool) {
	var out formula
	for _, x := range a {
		for _, y := range b {
			t := append(slices.Clip(x), y...)
			if _, sat := t.rule(); !sat {
				continue
			}
			if len(out) == maxTerms {
				return nil, false
			}
			out = append(out, t)
		}
	}
	return out, true
}

// not is ¬f: by De Morgan, the conjunction over f's terms of the
// disjunction of their negated literals.
func not(f formula) (formula, bool) {
	out := truth
	for _, t := range f {
		var alt formula
		for _, l := range t {
			l.neg = !l.neg
			alt = append(alt, term{l})
		}
		var ok bool
		if out, ok = and(out, alt); !ok {
			return nil, false
		}
	}
	return out, true
}

// rule states the term as a model rule; sat is false when the term can
// never hold (an empty intersection, or a value required and excluded).
func (t term) rule() (r model.Rule, sat bool) {
	var to model.To
	var from model.From
	var methods, paths, blocks []string
	hasMethods, hasPaths, hasBlocks := false, false, false
	issuer := ""
	for _, l := range t {
		switch {
		case l.kind == litMethod && !l.neg:
			methods, hasMethods = intersect(methods, l.values, hasMethods, sameString), true
		case l.kind == litMethod:
			to.NotMethods = union(to.NotMethods, l.values)
		case l.kind == litPath && !l.neg:
			paths, hasPaths = intersect(paths, l.values, hasPaths, pathMeet), true
		case l.kind == litPath:
			to.NotPaths = union(to.NotPaths, l.values)
		case l.kind == litClient && !l.neg:
			blocks, hasBlocks = intersect(blocks, l.values, hasBlocks, blockMeet), true
		case l.kind == litClient:
			from.NotRemoteIPBlocks = union(from.NotRemoteIPBlocks, l.values)
		case l.kind == litIssuer && !l.neg:
			if issuer != "" && issuer != l.values[0] {
				return model.Rule{}, false
			}
			issuer = l.values[0]
		default:
			c := model.Condition{Kind: model.CondClaim, Name: l.name}
			switch l.kind {
			case litHeader:
				c.Kind = model.CondHeader
			case litIssuer:
				c.Kind, c.Name = model.CondIssuer, ""
			case litCEL:
				c.Kind = model.CondCEL
			}
			if l.neg {
				c.NotValues = l.values
			} else {
				c.Values = l.values
			}
			r.When = append(r.When, c)
		}
	}
	if issuer != "" {
		r.When = append([]model.Condition{{Kind: model.CondIssuer, Values: []string{issuer}}}, r.When...)
	}
	// What is required must not be wholly excluded.
	methods = slices.DeleteFunc(methods, func(m string) bool { return slices.Contains(to.NotMethods, m) })
	paths = slices.DeleteFunc(paths, func(p string) bool {
		return slices.ContainsFunc(to.NotPaths, func(n string) bool { return pathCovers(n, p) })
	})
	blocks = slices.DeleteFunc(blocks, func(b string) bool {
		return slices.ContainsFunc(from.NotRemoteIPBlocks, func(n string) bool { return blockCovers(n, b) })
	})
	if (hasMethods && len(methods) == 0) || (hasPaths && len(paths) == 0) || (hasBlocks && len(blocks) == 0) {
		return model.Rule{}, false
	}
	if slices.Contains(from.NotRemoteIPBlocks, "0.0.0.0/0") && slices.Contains(from.NotRemoteIPBlocks, "::/0") {
		return model.Rule{}, false // every client is in one of them
	}
	// What is excluded but never required anyway says nothing.
	if hasMethods {
		to.NotMethods = slices.DeleteFunc(to.NotMethods, func(m string) bool { return !slices.Contains(methods, m) })
	}
	if hasPaths {
		to.NotPaths = slices.DeleteFunc(to.NotPaths, func(n string) bool {
			return !slices.ContainsFunc(paths, func(p string) bool { _, meet := pathMeet(n, p); return meet })
		})
	}
	if hasBlocks {
		from.NotRemoteIPBlocks = slices.DeleteFunc(from.NotRemoteIPBlocks, func(n string) bool {
			return !slices.ContainsFunc(blocks, func(b string) bool { _, meet := blockMeet(n, b); return meet })
		})
	}
	for _, c := range r.When {
		if len(c.Values) == 0 {
			continue
		}
		for _, o := range r.When {
			if o.Kind == c.Kind && o.Name == c.Name && len(o.NotValues) > 0 && subset(c.Values, o.NotValues) {
				return model.Rule{}, false
			}
		}
	}
	to.Methods, to.Paths, from.RemoteIPBlocks = methods, paths, blocks
	if len(to.NotMethods) == 0 {
		to.NotMethods = nil
	}
	if len(to.NotPaths) == 0 {
		to.NotPaths = nil
	}
	if len(from.NotRemoteIPBlocks) == 0 {
		from.NotRemoteIPBlocks = nil
	}
	if hasMethods || hasPaths || len(to.NotMethods)+len(to.NotPaths) > 0 {
		r.To = []model.To{to}
	}
	if hasBlocks || len(from.NotRemoteIPBlocks) > 0 {
		r.From = []model.From{from}
	}
	return r, true
}

// atoms are the conditions a rule made by term.rule states, each on its
// own: a rule whose atoms are a subset of another's matches every request
// the other matches, which is then left out (absorbed).
func atoms(r model.Rule) []string {
	var out []string
	add := func(kind string, vs []string, each bool) {
		if !each {
			if vs != nil {
				out = append(out, kind+"="+strings.Join(vs, "\x00"))
			}
			return
		}
		for _, v := range vs {
			out = append(out, kind+"!"+v)
		}
	}
	for _, to := range r.To {
		add("method", to.Methods, false)
		add("method", to.NotMethods, true)
		add("path", to.Paths, false)
		add("path", to.NotPaths, true)
	}
	for _, f := range r.From {
		add("client", f.RemoteIPBlocks, false)
		add("client", f.NotRemoteIPBlocks, true)
	}
	for _, c := range r.When {
		k := string(c.Kind) + "[" + c.Name + "]"
		add(k, c.Values, false)
		add(k, c.NotValues, true)
	}
	return out
}

// intersect is the values both a and b allow, by meet; with set false,
// a is not yet set and b is taken whole.
func intersect(a, b []string, set bool, meet func(x, y string) (string, bool)) []string {
	if !set {
		return slices.Clone(b)
	}
	var out []string
	for _, x := range a {
		for _, y := range b {
			if m, ok := meet(x, y); ok && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func union(a, b []string) []string {
	for _, v := range b {
		if !slices.Contains(a, v) {
			a = append(a, v)
		}
	}
	return a
}

func subset(a, b []string) bool {
	for _, v := range a {
		if !slices.Contains(b, v) {
			return false
		}
	}
	return true
}

func sameString(x, y string) (string, bool) { return x, x == y }

// pathMeet is the pattern matching what both path patterns match: exact
// "/a" or prefix "/a*".
func pathMeet(x, y string) (string, bool) {
	switch {
	case pathCovers(x, y):
		return y, true
	case pathCovers(y, x):
		return x, true
	}
	return "", false
}

// pathCovers reports whether every path pattern p matches, c matches.
func pathCovers(c, p string) bool {
	if cp, ok := strings.CutSuffix(c, "*"); ok {
		return strings.HasPrefix(strings.TrimSuffix(p, "*"), cp)
	}
	return c == p
}

// blockMeet is the CIDR block in both x and y.
func blockMeet(x, y string) (string, bool) {
	switch {
	case blockCovers(x, y):
		return y, true
	case blockCovers(y, x):
		return x, true
	}
	return "", false
}

// blockCovers reports whether block c holds all of block b.
func blockCovers(c, b string) bool {
	pc, err1 := netip.ParsePrefix(c)
	pb, err2 := netip.ParsePrefix(b)
	return err1 == nil && err2 == nil && pc.Bits() <= pb.Bits() && pc.Contains(pb.Addr())
}
