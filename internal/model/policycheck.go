package model

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
)

// CheckPolicy checks one policy on its own: its action and the shape of
// every rule (empty entries, patterns, IP blocks, ports, methods,
// conditions). It is the one place these rules live: validation and the
// authorization compiler both call it. References to routes and
// listeners need the whole configuration and are checked by Validate.
// CEL conditions are compiled through memo (nil: each time).
func CheckPolicy(p Policy, memo *CELMemo) Issues {
	v := &validator{cel: memo}
	a := v.at("policy", p.Name, p.Origin)
	switch p.Action {
	case ActionAllow, ActionDeny:
	case "":
		a.errorf("action", "required (ALLOW or DENY)")
	default:
		a.errorf("action", "invalid action %q (want ALLOW or DENY)", p.Action)
	}
	for i, r := range p.Rules {
		rule(a, index("rules", i), r)
	}
	for iss, claims := range p.SpaceDelimitedClaims {
		f := "spaceDelimitedClaims[" + strconv.Quote(iss) + "]"
		if iss == "" {
			a.errorf(f, "empty issuer (\"*\" is every issuer)")
		}
		for i, c := range claims {
			if c == "" {
				a.errorf(index(f, i), "empty claim name")
			}
		}
	}
	return v.issues
}

func rule(a at, f string, r Rule) {
	// As Istio: "from: []" or "to: []" is an error, not "no from part",
	// which would make the rule match every caller or every operation.
	if r.From != nil && len(r.From) == 0 {
		a.errorf(field(f, "from"), "empty list: give at least one entry, or leave from out")
	}
	if r.To != nil && len(r.To) == 0 {
		a.errorf(field(f, "to"), "empty list: give at least one entry, or leave to out")
	}
	for i, fr := range r.From {
		ff := index(field(f, "from"), i)
		if reflect.DeepEqual(fr, From{}) {
			// Istio rejects an empty source; matching everyone here would
			// turn an ALLOW rule into allow-all by accident.
			a.errorf(ff, "empty from entry: set at least one field")
		}
		patterns(a, field(ff, "requestPrincipals"), fr.RequestPrincipals)
		patterns(a, field(ff, "notRequestPrincipals"), fr.NotRequestPrincipals)
		patterns(a, field(ff, "principals"), fr.Principals)
		patterns(a, field(ff, "notPrincipals"), fr.NotPrincipals)
		patterns(a, field(ff, "trustDomains"), fr.TrustDomains)
		patterns(a, field(ff, "notTrustDomains"), fr.NotTrustDomains)
		ipBlocks(a, field(ff, "ipBlocks"), fr.IPBlocks)
		ipBlocks(a, field(ff, "notIpBlocks"), fr.NotIPBlocks)
		ipBlocks(a, field(ff, "remoteIpBlocks"), fr.RemoteIPBlocks)
		ipBlocks(a, field(ff, "notRemoteIpBlocks"), fr.NotRemoteIPBlocks)
	}
	for i, to := range r.To {
		tf := index(field(f, "to"), i)
		if reflect.DeepEqual(to, To{}) {
			a.errorf(tf, "empty to entry: set at least one field")
		}
		pathPatterns(a, field(tf, "paths"), to.Paths)
		pathPatterns(a, field(tf, "notPaths"), to.NotPaths)
		// Host patterns (with their HOST:PORT forms) are checked where
		// they are compiled, in the authorization engine.
		ports(a, field(tf, "ports"), to.Ports)
		ports(a, field(tf, "notPorts"), to.NotPorts)
		for j, m := range to.Methods {
			if !validToken(m) {
				a.errorf(index(field(tf, "methods"), j), "invalid method %q", m)
			}
		}
		for j, m := range to.NotMethods {
			if !validToken(m) {
				a.errorf(index(field(tf, "notMethods"), j), "invalid method %q", m)
			}
		}
	}
	for i, c := range r.When {
		wf := index(field(f, "when"), i)
		switch {
		case c.Kind == "":
			// The dialect already reported why it has no kind.
			continue
		case !c.Kind.Known():
			a.errorf(wf, "invalid condition kind %q", c.Kind)
		case c.Kind.Named() && c.Name == "":
			a.errorf(wf, "%s condition needs a name", c.Kind)
		case c.Kind == CondHeader && !validToken(c.Name):
			a.errorf(wf, "invalid header name %q", c.Name)
		}
		if len(c.Values) == 0 && len(c.NotValues) == 0 {
			a.errorf(wf, "values or notValues is required")
		}
		switch c.Kind {
		case CondCEL:
			celExpressions(a, field(wf, "values"), c.Values)
			celExpressions(a, field(wf, "notValues"), c.NotValues)
		case CondSourceIP, CondRemoteIP:
			ipBlocks(a, field(wf, "values"), c.Values)
			ipBlocks(a, field(wf, "notValues"), c.NotValues)
		case CondDestinationPort:
			portValues(a, field(wf, "values"), c.Values)
			portValues(a, field(wf, "notValues"), c.NotValues)
		default:
			patterns(a, field(wf, "values"), c.Values)
			patterns(a, field(wf, "notValues"), c.NotValues)
		}
	}
}

// patterns checks Istio string patterns: "*" only as the whole pattern,
// its first or its last character.
func patterns(a at, f string, list []string) {
	for i, p := range list {
		pattern(a, index(f, i), p)
	}
}

func pattern(a at, f, p string) {
	if p == "" {
		a.errorf(f, "empty value")
		return
	}
	inner := p
	if strings.HasPrefix(inner, "*") {
		inner = inner[1:]
	} else if strings.HasSuffix(inner, "*") {
		inner = inner[:len(inner)-1]
	}
	if strings.Contains(inner, "*") {
		a.errorf(f, `invalid pattern %q: "*" is only allowed as the whole value, its first or its last character`, p)
	}
}

// pathPatterns checks path patterns: patterns, or Istio path templates.
func pathPatterns(a at, f string, list []string) {
	for i, p := range list {
		if IsPathTemplate(p) {
			if err := CheckPathTemplate(p); err != nil {
				a.errorf(index(f, i), "%v", err)
			}
			continue
		}
		pattern(a, index(f, i), p)
	}
}

// IsPathTemplate reports whether a path pattern uses Istio's path
// template operators, "{*}" or "{**}".
func IsPathTemplate(p string) bool {
	return strings.Contains(p, "{*}") || strings.Contains(p, "{**}")
}

// CheckPathTemplate checks an Istio path template: it starts with "/"; a
// segment holding an operator holds nothing else ("{*}" is one segment,
// "{**}" any rest of the path, zero or more segments); "*", "{" and "}"
// appear nowhere else; "{**}" is the last operator (literal segments may
// follow it).
func CheckPathTemplate(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("invalid path template %q: it starts with \"/\"", p)
	}
	rest := false
	for _, s := range strings.Split(p[1:], "/") {
		switch s {
		case "{*}", "{**}":
			if rest {
				return fmt.Errorf("invalid path template %q: {**} must be the last operator", p)
			}
			rest = s == "{**}"
		default:
			if strings.ContainsAny(s, "*{}") {
				return fmt.Errorf("invalid path template %q: a segment holding {*} or {**} holds nothing else, and \"*\", \"{\" and \"}\" appear nowhere else", p)
			}
		}
	}
	return nil
}

func ipBlocks(a at, f string, list []string) {
	for i, b := range list {
		if _, err := netip.ParsePrefix(b); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(b); err == nil {
			continue
		}
		a.errorf(index(f, i), "invalid IP address or CIDR block %q", b)
	}
}

// portValues checks a condition's port numbers, written as strings.
func portValues(a at, f string, list []string) {
	for i, v := range list {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 65535 {
			a.errorf(index(f, i), "invalid port %q (want 0 to 65535)", v)
		}
	}
}

func ports(a at, f string, list []int) {
	for i, p := range list {
		if p < 1 || p > 65535 {
			a.errorf(index(f, i), "invalid port %d (want 1 to 65535)", p)
		}
	}
}

// CEL conditions (CondCEL) are expressions over the attributes Envoy's
// RBAC filter gives its CEL conditions, under Envoy's names, so that
// kgateway's rbac matchExpressions and Envoy Gateway's authorization
// cel are evaluated as written. The environment is checked here, once
// for every user of it; the authorization engine evaluates.

// Limits and names of CEL conditions.
const (
	// MaxCELBytes bounds one expression: kgateway's limit for an rbac
	// matchExpression (Envoy Gateway's, 4096, is lower).
	MaxCELBytes = 16384
	// CELJWTFilter is the metadata namespace of the verified token's
	// claims: metadata.filter_metadata['envoy.filters.http.jwt_authn'].
	CELJWTFilter = "envoy.filters.http.jwt_authn"
	// CELPayloadKey is the key under CELJWTFilter that holds the claims
	// when a condition names none: kgateway's payload_in_metadata.
	CELPayloadKey = "payload"
)

// ErrCELAttribute marks a CEL expression that reads an Envoy attribute
// jwtgate does not provide. Dialects fail closed on it (the attribute
// would be missing, and a missing attribute is no match, which in a
// DENY rule would let through what Envoy denies); in native
// configuration it is an error like any other.
var ErrCELAttribute = errors.New("the expression reads an Envoy attribute jwtgate does not provide")

// celFields are the attributes of a CEL variable jwtgate provides; nil
// for a variable it does not provide at all.
func celFields(variable string) []string {
	switch variable {
	case "request":
		return []string{"path", "url_path", "host", "scheme", "method", "headers", "referer", "useragent", "id", "protocol", "query", "time"}
	case "source", "destination":
		return []string{"address", "port"}
	case "connection":
		return []string{"mtls", "requested_server_name", "tls_version", "subject_peer_certificate",
			"uri_san_peer_certificate", "dns_san_peer_certificate", "sha256_peer_certificate_digest"}
	case "metadata":
		return []string{"filter_metadata"}
	}
	return nil
}

// celVariables are the variables of the environment: Envoy's, those
// jwtgate does not provide declared too, so that an expression using
// them is reported as such rather than as an undeclared reference.
var celVariables = []string{"request", "source", "destination", "connection", "metadata",
	"upstream", "response", "filter_state", "upstream_filter_state", "xds"}

// celEnv is the environment: Envoy's variables (of dynamic type, as
// Envoy does not type-check), CEL's standard functions with numbers
// compared across types (Envoy's claims are doubles), and the strings
// extension (split, lowerAscii...), as in Envoy.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	opts := []cel.EnvOption{ext.Strings(), cel.CrossTypeNumericComparisons(true)}
	for _, v := range celVariables {
		opts = append(opts, cel.Variable(v, cel.DynType))
	}
	return cel.NewEnv(opts...)
})

// CELEnv returns the environment CEL conditions are compiled in.
func CELEnv() (*cel.Env, error) { return celEnv() }

// CELMemo remembers what CompileCEL said of each expression, for one
// compile step: a configuration compiles an expression several times
// (validation, each policy alone, each route's set of policies), and
// parsing is the slow part. It belongs to that step (no memo outlives
// it) and is not safe for concurrent use. A nil *CELMemo compiles every
// time.
type CELMemo struct {
	m map[string]celResult
}

type celResult struct {
	ast *cel.Ast
	err error
}

// Compile is CompileCEL, remembered.
func (m *CELMemo) Compile(src string) (*cel.Ast, error) {
	if m == nil {
		return CompileCEL(src)
	}
	if r, ok := m.m[src]; ok {
		return r.ast, r.err
	}
	a, err := CompileCEL(src)
	if m.m == nil {
		m.m = map[string]celResult{}
	}
	m.m[src] = celResult{a, err}
	return a, err
}

// CompileCEL parses and checks one CEL condition: its size (1 to
// MaxCELBytes characters), its syntax and the types of the functions
// it calls (with the line and column in the expression), a result that
// can be a bool, and the attributes it reads: an error wrapping
// ErrCELAttribute names one jwtgate does not provide. The returned
// syntax tree is shared: it must not be changed.
func CompileCEL(src string) (*cel.Ast, error) {
	if src == "" || len(src) > MaxCELBytes {
		return nil, fmt.Errorf("want 1 to %d characters, got %d", MaxCELBytes, len(src))
	}
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	a, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		e := iss.Errors()[0]
		return nil, fmt.Errorf("%s (line %d, column %d of the expression)", e.Message, e.Location.Line(), e.Location.Column()+1)
	}
	if k := a.OutputType().Kind(); k != types.BoolKind && k != types.DynKind {
		return nil, fmt.Errorf("the expression is a %s, not a bool: it would never match", a.OutputType())
	}
	if attr := celUnprovided(a.NativeRep().Expr()); attr != "" {
		return nil, fmt.Errorf("%w: %s", ErrCELAttribute, attr)
	}
	return a, nil
}

// celUnprovided names the first attribute e reads that jwtgate does not
// provide, with what it provides instead; "" when there is none. An
// attribute is read by selection or by a constant index; a variable
// indexed with a computed key sees what jwtgate provides.
func celUnprovided(e ast.Expr) string {
	switch e.Kind() {
	case ast.IdentKind:
		if v := e.AsIdent(); slices.Contains(celVariables, v) && celFields(v) == nil {
			return v + " (jwtgate provides request, source, destination, connection and metadata)"
		}
	case ast.SelectKind:
		s := e.AsSelect()
		if why := celField(s.Operand(), s.FieldName()); why != "" {
			return why
		}
		return celUnprovided(s.Operand())
	case ast.CallKind:
		c := e.AsCall()
		if c.FunctionName() == operators.Index && len(c.Args()) == 2 {
			if k, ok := celString(c.Args()[1]); ok {
				if why := celField(c.Args()[0], k); why != "" {
					return why
				}
			}
		}
		if c.IsMemberFunction() {
			if why := celUnprovided(c.Target()); why != "" {
				return why
			}
		}
		for _, arg := range c.Args() {
			if why := celUnprovided(arg); why != "" {
				return why
			}
		}
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			if why := celUnprovided(el); why != "" {
				return why
			}
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			m := en.AsMapEntry()
			if why := celUnprovided(m.Key()); why != "" {
				return why
			}
			if why := celUnprovided(m.Value()); why != "" {
				return why
			}
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		for _, p := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
			if why := celUnprovided(p); why != "" {
				return why
			}
		}
	}
	return ""
}

// celField checks the attribute key of operand: a field of a variable,
// or a namespace of metadata.filter_metadata.
func celField(operand ast.Expr, key string) string {
	if operand.Kind() == ast.IdentKind {
		v := operand.AsIdent()
		if fs := celFields(v); fs != nil && !slices.Contains(fs, key) {
			return v + "." + key + " (jwtgate provides " + v + "." + strings.Join(fs, ", "+v+".") + ")"
		}
		return ""
	}
	if operand.Kind() == ast.SelectKind {
		s := operand.AsSelect()
		if s.FieldName() == "filter_metadata" && s.Operand().Kind() == ast.IdentKind && s.Operand().AsIdent() == "metadata" && key != CELJWTFilter {
			return fmt.Sprintf("metadata.filter_metadata[%q] (jwtgate provides the verified token's claims in metadata.filter_metadata[%q] only)", key, CELJWTFilter)
		}
	}
	return ""
}

// celString is the value of a string literal.
func celString(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

// celExpressions checks a CEL condition's expressions.
func celExpressions(a at, f string, list []string) {
	for i, src := range list {
		if _, err := a.v.cel.Compile(src); err != nil {
			a.errorf(index(f, i), "invalid CEL expression: %v", err)
		}
	}
}
