package kgateway

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"jwtgate.dev/jwtgate/internal/model"
)

// An rbac matchExpression is CEL over Envoy's request attributes, the
// verified token's claims being in the jwt_authn filter's dynamic
// metadata. jwtgate checks every expression with cel-go (the syntax and
// the types of the functions it calls) and translates the shapes below
// into model rules; anything else is reported, and fails closed: an
// expression of an Allow policy that jwtgate cannot translate never
// matches (it allows nobody), one of a Deny policy always matches (it
// denies everybody). Supported, where P is
// metadata.filter_metadata['envoy.filters.http.jwt_authn']['payload']
// (P['a']['b'] and P.a.b reach nested claims) and each value is a
// non-empty string literal without "*":
//
//	P['team'] == 'dev'                 'dev' == P['team']
//	P['team'] in ['dev', 'ops']        'admin' in P['groups']
//	'admin' in P['scope'].split(' ')   (a top-level claim)
//	request.method == 'GET'            request.method in ['GET', 'HEAD']
//	request.url_path == '/a'           request.url_path.startsWith('/a')
//	request.headers['x-name'] == 'v'   (a lower-case header name)
//	true    false    a && b    a || b    (a)

// jwtPayload is the path, below the metadata variable, of the verified
// token's payload.
var jwtPayload = []string{"filter_metadata", "envoy.filters.http.jwt_authn", "payload"}

// maxTerms bounds the disjunctive normal form of one expression: (a || b)
// && (c || d) ... multiplies terms.
const maxTerms = 64

// celEnv is the environment expressions are checked in: Envoy's
// attributes (each of dynamic type) and string.split (splitFunction).
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	var opts []cel.EnvOption
	for _, v := range []string{"request", "source", "destination", "connection", "upstream", "metadata", "filter_state", "xds"} {
		opts = append(opts, cel.Variable(v, cel.DynType))
	}
	return cel.NewEnv(append(opts, splitFunction)...)
})

// term is a conjunction of tests on a request; the empty term matches
// every request.
type term struct {
	when []model.Condition
	// methods is the set a request's method must be in; nil for any.
	methods []string
	// path is a path pattern the request's path must match; "" for any.
	path string
	// split and whole are the top-level claims the term compares as
	// space-separated lists, and whole.
	split, whole []string
	// bad says why the term cannot be expressed (two path tests); it is
	// then treated as unsupported.
	bad string
}

// dnf is a disjunction of terms: none never matches.
type dnf []term

// celOut is what one expression translates to.
type celOut struct {
	terms dnf
	// unsupported are the parts not translated, each with why.
	unsupported []string
}

// compileCEL checks src with cel-go and translates it for an Allow
// (deny false) or a Deny (deny true) policy. The error is a syntax or
// type error, with its column.
func compileCEL(src string, deny bool) (celOut, error) {
	env, err := celEnv()
	if err != nil {
		return celOut{}, err
	}
	a, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		e := iss.Errors()[0]
		return celOut{}, fmt.Errorf("%s (line %d, column %d of the expression)", e.Message, e.Location.Line(), e.Location.Column()+1)
	}
	if _, err := env.Program(a); err != nil {
		return celOut{}, err
	}
	tr := &celTranslator{deny: deny}
	out := tr.expr(a.NativeRep().Expr())
	var kept dnf
	for _, t := range out {
		if t.bad == "" {
			kept = append(kept, t)
			continue
		}
		tr.why(t.bad)
		if deny {
			return celOut{terms: dnf{{}}, unsupported: tr.unsupported}, nil
		}
	}
	return celOut{terms: kept, unsupported: tr.unsupported}, nil
}

// celTranslator walks one expression's syntax tree.
type celTranslator struct {
	deny        bool
	unsupported []string
}

func (c *celTranslator) why(msg string) {
	if !slices.Contains(c.unsupported, msg) {
		c.unsupported = append(c.unsupported, msg)
	}
}

// fail is what an untranslatable part becomes: false for Allow, true for
// Deny.
func (c *celTranslator) fail(format string, args ...any) dnf {
	c.why(fmt.Sprintf(format, args...))
	if c.deny {
		return dnf{{}}
	}
	return nil
}

func (c *celTranslator) expr(e ast.Expr) dnf {
	switch e.Kind() {
	case ast.LiteralKind:
		if b, ok := e.AsLiteral().(types.Bool); ok {
			if b {
				return dnf{{}}
			}
			return nil
		}
	case ast.CallKind:
		call := e.AsCall()
		args := call.Args()
		switch call.FunctionName() {
		case operators.LogicalAnd:
			out := dnf{{}}
			for _, a := range args {
				out = c.and(out, c.expr(a))
			}
			return out
		case operators.LogicalOr:
			var out dnf
			for _, a := range args {
				out = append(out, c.expr(a)...)
			}
			if len(out) > maxTerms {
				return c.fail("more than %d alternatives", maxTerms)
			}
			return out
		case operators.Equals:
			if t, ok := c.equals(args[0], args[1]); ok {
				return dnf{t}
			}
			if t, ok := c.equals(args[1], args[0]); ok {
				return dnf{t}
			}
		case operators.In:
			if t, ok := c.in(args[0], args[1]); ok {
				return dnf{t}
			}
		case "startsWith":
			if call.IsMemberFunction() && len(args) == 1 {
				if root, keys := reference(call.Target()); root == "request" && slices.Equal(keys, []string{"url_path"}) {
					if s, ok := stringLit(args[0]); ok && pathValue(s) {
						return dnf{{path: s + "*"}}
					}
				}
			}
		}
	}
	return c.fail("%s", describe(e))
}

// and is the conjunction of two disjunctions.
func (c *celTranslator) and(a, b dnf) dnf {
	var out dnf
	for _, x := range a {
		for _, y := range b {
			t, ok := merge(x, y)
			if ok {
				out = append(out, t)
			}
		}
	}
	if len(out) > maxTerms {
		return c.fail("more than %d alternatives", maxTerms)
	}
	return out
}

// merge is the conjunction of two terms; false when it never matches.
func merge(x, y term) (term, bool) {
	t := term{bad: x.bad + y.bad}
	t.when = append(slices.Clone(x.when), y.when...)
	t.split = append(slices.Clone(x.split), y.split...)
	t.whole = append(slices.Clone(x.whole), y.whole...)
	switch {
	case x.methods == nil:
		t.methods = y.methods
	case y.methods == nil:
		t.methods = x.methods
	default:
		for _, m := range x.methods {
			if slices.Contains(y.methods, m) {
				t.methods = append(t.methods, m)
			}
		}
		if len(t.methods) == 0 {
			return t, false
		}
	}
	switch {
	case x.path == "" || x.path == y.path:
		t.path = y.path
	case y.path == "":
		t.path = x.path
	default:
		t.bad = "two tests of request.url_path in one conjunction"
	}
	for _, s := range t.split {
		if slices.Contains(t.whole, s) {
			t.bad = fmt.Sprintf("claim %q compared both whole and split in one conjunction", s)
		}
	}
	return t, true
}

// equals translates x == y for the reference x and the literal y.
func (c *celTranslator) equals(x, y ast.Expr) (term, bool) {
	v, ok := stringLit(y)
	if !ok {
		return term{}, false
	}
	return c.test(x, []string{v})
}

// in translates x in y: a literal in a claim (a list claim, or a
// space-separated one split), or a reference in a list of literals.
func (c *celTranslator) in(x, y ast.Expr) (term, bool) {
	if v, ok := stringLit(x); ok {
		if y.Kind() == ast.CallKind && y.AsCall().FunctionName() == "split" && y.AsCall().IsMemberFunction() {
			call := y.AsCall()
			if len(call.Args()) != 1 {
				return term{}, false
			}
			if sep, ok := stringLit(call.Args()[0]); !ok || sep != " " {
				return term{}, false
			}
			seg, ok := claimRef(call.Target())
			if !ok || len(seg) != 1 || !value(v) {
				return term{}, false
			}
			name, ok := claimName(seg)
			if !ok {
				return term{}, false
			}
			return term{when: []model.Condition{{Kind: model.CondClaim, Name: name, Values: []string{v}}}, split: []string{seg[0]}}, true
		}
		if _, ok := claimRef(y); ok {
			return c.test(y, []string{v})
		}
		return term{}, false
	}
	if y.Kind() != ast.ListKind {
		return term{}, false
	}
	var vs []string
	for _, el := range y.AsList().Elements() {
		v, ok := stringLit(el)
		if !ok {
			return term{}, false
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return term{}, false
	}
	return c.test(x, vs)
}

// test is "the value x refers to is one of vs".
func (c *celTranslator) test(x ast.Expr, vs []string) (term, bool) {
	root, keys := reference(x)
	switch {
	case root == "metadata":
		seg, ok := claimRef(x)
		name, named := claimName(seg)
		if !ok || !named || !all(vs, value) {
			return term{}, false
		}
		t := term{when: []model.Condition{{Kind: model.CondClaim, Name: name, Values: vs}}}
		if len(seg) == 1 {
			t.whole = seg
		}
		return t, true
	case root == "request" && slices.Equal(keys, []string{"method"}):
		if !all(vs, methodRE.MatchString) {
			return term{}, false
		}
		return term{methods: vs}, true
	case root == "request" && slices.Equal(keys, []string{"url_path"}) && len(vs) == 1 && pathValue(vs[0]):
		return term{path: vs[0]}, true
	case root == "request" && len(keys) == 2 && keys[0] == "headers":
		h := keys[1]
		if !headerRE.MatchString(h) || h != strings.ToLower(h) || h == "host" || !all(vs, value) {
			return term{}, false
		}
		return term{when: []model.Condition{{Kind: model.CondHeader, Name: h, Values: vs}}}, true
	}
	return term{}, false
}

var (
	methodRE = regexp.MustCompile(`^[A-Z]+$`)
	headerRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'+\\-.^_`|~]+$")
)

// value reports whether a literal is a value jwtgate compares exactly: a
// "*" would be a wildcard in a model condition.
func value(v string) bool { return v != "" && !strings.Contains(v, "*") }

// pathValue reports whether a literal is a path jwtgate compares
// exactly.
func pathValue(v string) bool { return strings.HasPrefix(v, "/") && !strings.ContainsAny(v, "*{}") }

func all(vs []string, ok func(string) bool) bool {
	for _, v := range vs {
		if !ok(v) {
			return false
		}
	}
	return true
}

// stringLit is the value of a string literal.
func stringLit(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

// reference reads a chain of field selections and constant string
// indexes from a variable: request.headers['x'] is ("request",
// ["headers", "x"]). The root is "" for anything else.
func reference(e ast.Expr) (string, []string) {
	var keys []string
	for {
		switch e.Kind() {
		case ast.IdentKind:
			slices.Reverse(keys)
			return e.AsIdent(), keys
		case ast.SelectKind:
			s := e.AsSelect()
			if s.IsTestOnly() {
				return "", nil
			}
			keys = append(keys, s.FieldName())
			e = s.Operand()
		case ast.CallKind:
			call := e.AsCall()
			if call.FunctionName() != operators.Index || len(call.Args()) != 2 {
				return "", nil
			}
			k, ok := stringLit(call.Args()[1])
			if !ok {
				return "", nil
			}
			keys = append(keys, k)
			e = call.Args()[0]
		default:
			return "", nil
		}
	}
}

// claimRef reads a reference to a claim of the verified token: its
// segments, from the top-level claim down.
func claimRef(e ast.Expr) ([]string, bool) {
	root, keys := reference(e)
	if root != "metadata" || len(keys) <= len(jwtPayload) || !slices.Equal(keys[:len(jwtPayload)], jwtPayload) {
		return nil, false
	}
	return keys[len(jwtPayload):], true
}

// claimName is a claim path in the model's syntax that reaches exactly
// the segments: a plain name, or bracketed segments (taken literally).
func claimName(seg []string) (string, bool) {
	if len(seg) == 1 && !strings.ContainsAny(seg[0], ".[]") && seg[0] != "" {
		return seg[0], true
	}
	var b strings.Builder
	for _, s := range seg {
		if s == "" || strings.ContainsAny(s, "[]") {
			return "", false
		}
		b.WriteString("[" + s + "]")
	}
	return b.String(), len(seg) > 0
}

// describe names an untranslated part of an expression for the report.
func describe(e ast.Expr) string {
	switch e.Kind() {
	case ast.CallKind:
		call := e.AsCall()
		name := call.FunctionName()
		switch name {
		case operators.LogicalNot:
			return "a negation (!)"
		case operators.NotEquals:
			return "an inequality (!=)"
		case operators.Equals, operators.In:
			return comparison(call.Args())
		case operators.Conditional:
			return "a conditional (?:)"
		}
		if op, ok := operators.FindReverse(name); ok {
			return "the operator " + op
		}
		return "the function " + name + "()"
	case ast.ComprehensionKind:
		return "a macro (all, exists, map, filter...)"
	case ast.SelectKind:
		if e.AsSelect().IsTestOnly() {
			return "has()"
		}
	case ast.LiteralKind:
		return "a literal that is not a boolean"
	}
	return "an expression that is not a test"
}

// splitFunction declares string.split(string), as CEL's strings
// extension (the one Envoy's CEL has) does. cel-go's own extension
// package needs modules jwtgate does not carry; split is all the
// expressions use of it.
var splitFunction = cel.Function("split",
	cel.MemberOverload("string_split_string", []*cel.Type{cel.StringType, cel.StringType}, cel.ListType(cel.StringType),
		cel.BinaryBinding(func(s, sep ref.Val) ref.Val {
			a, ok1 := s.(types.String)
			b, ok2 := sep.(types.String)
			if !ok1 || !ok2 {
				return types.NewErr("split: want strings")
			}
			return types.NewStringList(types.DefaultTypeAdapter, strings.Split(string(a), string(b)))
		})))

// comparison says why an == or in is not translated.
func comparison(args []ast.Expr) string {
	for _, a := range args {
		if v, ok := stringLit(a); ok && !value(v) {
			return fmt.Sprintf("the value %q (jwtgate compares non-empty values without \"*\", which would be a wildcard)", v)
		}
		if a.Kind() == ast.LiteralKind {
			if _, ok := a.AsLiteral().(types.String); !ok {
				return "a comparison with a literal that is not a string"
			}
		}
	}
	for _, a := range args {
		root, keys := reference(a)
		switch {
		case root == "":
		case root == "metadata":
			if _, ok := claimRef(a); !ok {
				return "metadata other than the verified token's claims (metadata.filter_metadata['envoy.filters.http.jwt_authn']['payload']['CLAIM'])"
			}
		case root == "request":
			return fmt.Sprintf("the attribute request.%s in this comparison (jwtgate reads request.method, request.url_path and lower-case request.headers)", strings.Join(keys, "."))
		default:
			return "the attribute " + root
		}
	}
	return "a comparison jwtgate does not translate (see the supported forms)"
}
