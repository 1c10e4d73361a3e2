package envoygateway

import (
	"fmt"
	"net/netip"
	"net/textproto"
	"regexp"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// httpMethods are the Gateway API's HTTPMethod values.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// checkAuthorization checks spec.authorization on its own: what Envoy
// Gateway's API server refuses.
func (d *document) checkAuthorization() {
	a := d.obj.Spec.Authorization
	if a == nil {
		return
	}
	if da := a.DefaultAction; da != nil && *da != "Allow" && *da != "Deny" {
		d.Errorf("spec.authorization.defaultAction", "invalid defaultAction %q (want Allow or Deny)", *da)
	}
	for i, r := range a.Rules {
		rp := strictyaml.Index("spec.authorization.rules", i)
		f := func(k string) string { return strictyaml.Field(rp, k) }
		switch {
		case r.Action == "":
			if !d.Reported(f("action")) {
				d.Errorf(rp, "missing required field %q", "action")
			}
		case r.Action != "Allow" && r.Action != "Deny":
			d.Errorf(f("action"), "invalid action %q (want Allow or Deny)", r.Action)
		}
		if r.Name != nil && (*r.Name == "" || len(*r.Name) > 253) {
			d.Errorf(f("name"), "a rule name has 1 to 253 characters")
		}
		if r.Principal == nil && r.CEL == nil && !d.Reported(f("principal")) {
			d.Errorf(rp, "give principal or cel: what the rule matches")
		}
		if r.CEL != nil {
			d.checkCEL(*r.CEL, f("cel"))
		}
		if o := r.Operation; o != nil {
			d.checkOperation(o, f("operation"))
		}
		if p := r.Principal; p != nil {
			d.checkPrincipal(p, f("principal"))
		}
	}
}

func (d *document) checkOperation(o *operation, op string) {
	if len(o.Methods) == 0 && o.Path == nil && !d.Reported(op) {
		d.Errorf(op, "give methods or path (leave operation out to match every operation)")
	}
	for j, m := range o.Methods {
		if !slices.Contains(httpMethods, m) {
			d.Errorf(strictyaml.Index(op+".methods", j), "invalid method %q (want one of %s)", m, strings.Join(httpMethods, ", "))
		}
	}
	if p := o.Path; p != nil {
		pp := op + ".path"
		typ, value := pathOf(p)
		switch typ {
		case "Exact", "PathPrefix":
			if !strings.HasPrefix(value, "/") {
				d.Errorf(pp+".value", "invalid path %q: it starts with \"/\"", value)
			}
		case "RegularExpression":
			if _, err := regexp.Compile(value); err != nil {
				d.Errorf(pp+".value", "invalid regular expression %q: %v", value, err)
			}
		default:
			d.Errorf(pp+".type", "invalid type %q (want Exact, PathPrefix or RegularExpression)", typ)
		}
	}
}

// pathOf is a path match's type and value, with the API's defaults.
func pathOf(p *pathMatch) (typ, value string) {
	typ, value = "PathPrefix", "/"
	if p.Type != nil {
		typ = *p.Type
	}
	if p.Value != nil {
		value = *p.Value
	}
	return typ, value
}

func (d *document) checkPrincipal(p *principal, pp string) {
	f := func(k string) string { return strictyaml.Field(pp, k) }
	if len(p.ClientCIDRs) == 0 && p.JWT == nil && len(p.Headers) == 0 && !d.Has(f("clientIPGeoLocations")) && !d.Has(f("clientCert")) && !d.Reported(pp) {
		d.Errorf(pp, "give at least one of clientCIDRs, jwt, headers or clientIPGeoLocations")
	}
	for j, c := range p.ClientCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			d.Errorf(strictyaml.Index(f("clientCIDRs"), j), "invalid CIDR %q: want an address block such as 192.168.1.0/24", c)
		}
	}
	for j, h := range p.Headers {
		hp := strictyaml.Index(f("headers"), j)
		if h.Name == "" && !d.Reported(hp+".name") {
			d.Errorf(hp, "missing required field %q", "name")
		}
		if len(h.Values) == 0 && !d.Reported(hp+".values") {
			d.Errorf(hp, "give at least one value")
		}
	}
	j := p.JWT
	if j == nil {
		return
	}
	jp := f("jwt")
	if d.obj.Spec.JWT == nil {
		d.Errorf(jp, "principal.jwt needs JWT authentication in the same policy (spec.jwt)")
	}
	if j.Provider == "" && !d.Reported(jp+".provider") {
		d.Errorf(jp, "missing required field %q", "provider")
	}
	if len(j.Claims) == 0 && len(j.Scopes) == 0 && !d.Reported(jp+".claims") && !d.Reported(jp+".scopes") {
		d.Errorf(jp, "give claims or scopes")
	}
	for k, c := range j.Claims {
		cp := strictyaml.Index(jp+".claims", k)
		if c.Name == "" && !d.Reported(cp+".name") {
			d.Errorf(cp, "missing required field %q", "name")
		}
		if len(c.Values) == 0 && !d.Reported(cp+".values") {
			d.Errorf(cp, "give at least one value")
		}
		if vt := c.ValueType; vt != nil && *vt != "String" && *vt != "StringArray" {
			d.Errorf(cp+".valueType", "invalid valueType %q (want String or StringArray)", *vt)
		}
	}
}

// ruleFactors translates rule i into the factors of the requests it
// matches: the rule matches when every factor holds (no factor: every
// request). What jwtgate cannot state exactly is listed in unsupported,
// each "path: why", and left out; the caller decides what that means for
// the rule.
func (t *translator) ruleFactors(d *document, i int, r authzRule, k *keys) (factors []formula, unsupported []string) {
	rp := strictyaml.Index("spec.authorization.rules", i)
	no := func(path, format string, args ...any) {
		unsupported = append(unsupported, path+": "+fmt.Sprintf(format, args...))
	}
	if r.CEL != nil {
		if f, why := celFactor(*r.CEL, k); why != "" {
			no(rp+".cel", "%s", why)
		} else {
			factors = append(factors, f)
		}
	}
	if o := r.Operation; o != nil {
		if len(o.Methods) > 0 {
			factors = append(factors, one(lit{kind: litMethod, values: o.Methods}))
		}
		if p := o.Path; p != nil {
			if l, why := pathLit(p); why != "" {
				no(rp+".operation.path", "%s", why)
			} else {
				factors = append(factors, one(l))
			}
		}
	}
	p := r.Principal
	if p == nil {
		return factors, unsupported
	}
	pp := rp + ".principal"
	if len(p.ClientCIDRs) > 0 {
		var blocks []string
		for _, c := range p.ClientCIDRs {
			if b, err := netip.ParsePrefix(c); err == nil {
				blocks = append(blocks, b.Masked().String())
			}
		}
		factors = append(factors, one(lit{kind: litClient, values: blocks}))
	}
	if d.Has(pp + ".clientIPGeoLocations") {
		no(pp+".clientIPGeoLocations", "the client's location is not known to jwtgate")
	}
	if d.Has(pp + ".clientCert") {
		no(pp+".clientCert", "client certificates are not matched by jwtgate's SecurityPolicy translation")
	}
	for j, h := range p.Headers {
		hp := strictyaml.Index(pp+".headers", j)
		if why := headerProblem(h, k); why != "" {
			no(hp, "%s", why)
			continue
		}
		factors = append(factors, one(lit{kind: litHeader, name: textproto.CanonicalMIMEHeaderKey(h.Name), values: h.Values}))
	}
	if jp := p.JWT; jp != nil {
		g, why := jwtFactors(jp, k)
		if why != "" {
			no(pp+".jwt", "%s", why)
		} else {
			factors = append(factors, g...)
		}
	}
	return factors, unsupported
}

// pathLit is the literal of a path match; why says why there is none.
// Exact is the path itself; PathPrefix the value (without a trailing
// "/") and what follows it after a "/", as Envoy Gateway matches it.
func pathLit(p *pathMatch) (l lit, why string) {
	typ, value := pathOf(p)
	l = lit{kind: litPath, neg: p.Invert != nil && *p.Invert}
	if typ == "RegularExpression" {
		return l, "regular expressions on the path are not evaluated in jwtgate's authorization"
	}
	if strings.ContainsAny(value, "*{}") {
		return l, fmt.Sprintf("the path %q holds \"*\", \"{\" or \"}\", which jwtgate's path patterns read as wildcards", value)
	}
	if n, err := model.NormalizePath(value); err != nil || n != value {
		return l, fmt.Sprintf("the path %q is not in normalized form, the form requests are compared in", value)
	}
	switch t := strings.TrimSuffix(value, "/"); {
	case typ == "Exact":
		l.values = []string{value}
	case t == "":
		l.values = []string{"/*"}
	default:
		l.values = []string{t, t + "/*"}
	}
	return l, ""
}

// headerProblem says why a header match cannot be stated exactly; empty
// when it can.
func headerProblem(h headerMatch, k *keys) string {
	name := textproto.CanonicalMIMEHeaderKey(h.Name)
	switch {
	case strings.HasPrefix(h.Name, ":"):
		return fmt.Sprintf("the pseudo-header %q is not a header jwtgate matches (operation matches the method and path)", h.Name)
	case !validToken(h.Name):
		return fmt.Sprintf("%q is not a header name", h.Name)
	case name == "Host" || name == "Transfer-Encoding" || name == "Trailer":
		return fmt.Sprintf("the %s header is not matched by jwtgate's authorization", name)
	case k != nil && slices.Contains(k.outputs, name):
		return fmt.Sprintf("the %s header is set from a claim (claimToHeaders) after jwtgate authorizes, and a client's own is removed: match the claim with principal.jwt", name)
	}
	if v, bad := badValue(h.Values); bad {
		return fmt.Sprintf("the value %q cannot be compared exactly by jwtgate (empty, or holding \"*\", which it reads as a wildcard)", v)
	}
	return ""
}

// validToken reports whether s is an HTTP token (a header name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// jwtFactors are the factors of a jwt principal: a token of the named
// provider whose claims each have one of their values and whose scope
// (or scp) claim holds every scope. A provider that is not one of the
// policy's never verified any token: the principal never matches, as in
// Envoy Gateway. When the policy has several providers, the token's
// issuer tells which verified it; why is set when it cannot.
func jwtFactors(j *jwtPrincipal, k *keys) (factors []formula, why string) {
	if k == nil {
		return nil, "the policy has no JWT providers"
	}
	iss, ok := k.issuers[j.Provider]
	if !ok {
		return []formula{{}}, ""
	}
	if len(k.issuers) > 1 {
		for name, other := range k.issuers {
			if other == "" || (name != j.Provider && other == iss) {
				return nil, "which of the policy's providers verified a token cannot be told by its issuer (each provider needs an issuer of its own)"
			}
		}
		factors = append(factors, one(lit{kind: litIssuer, values: []string{iss}}))
	}
	for _, c := range j.Claims {
		path, ok := claimPath(c.Name)
		if !ok {
			return nil, fmt.Sprintf("the claim name %q cannot be stated exactly", c.Name)
		}
		if v, bad := badValue(c.Values); bad {
			return nil, fmt.Sprintf("the claim value %q cannot be compared exactly by jwtgate (empty, or holding \"*\", which it reads as a wildcard)", v)
		}
		factors = append(factors, one(lit{kind: litClaim, name: path, values: c.Values}))
	}
	for _, s := range j.Scopes {
		if s == "" || strings.ContainsAny(s, "* ") {
			return nil, fmt.Sprintf("the scope %q cannot be compared exactly by jwtgate", s)
		}
		factors = append(factors, or(one(lit{kind: litClaim, name: "scope", values: []string{s}}), one(lit{kind: litClaim, name: "scp", values: []string{s}})))
	}
	return factors, ""
}

// claimPath is the model claim path of a claim name with Envoy Gateway's
// meaning: segments separated by dots, each a nested claim (written in
// brackets, so that a top-level claim whose name holds the dots is not
// looked at instead).
func claimPath(name string) (string, bool) {
	segs := strings.Split(name, ".")
	for _, s := range segs {
		if s == "" || strings.ContainsAny(s, "[]") {
			return "", false
		}
	}
	if len(segs) == 1 {
		return name, true
	}
	return "[" + strings.Join(segs, "][") + "]", true
}

// badValue returns the first value a pattern would not compare exactly.
func badValue(vs []string) (string, bool) {
	for _, v := range vs {
		if v == "" || strings.Contains(v, "*") {
			return v, true
		}
	}
	return "", false
}
