package authz

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// P is where kgateway's expressions find the verified token's claims.
const P = "metadata.filter_metadata['envoy.filters.http.jwt_authn']['payload']"

func celCond(exprs ...string) model.Condition {
	return model.Condition{Kind: model.CondCEL, Values: exprs}
}

// withHTTP gives r the request as received: a query, TLS with a client
// certificate, the peer's port.
func withHTTP(r *Request, target string, tlsState *tls.ConnectionState) *Request {
	h := httptest.NewRequest(r.Method, target, nil)
	h.Host = "api.example.com:8443"
	h.RemoteAddr = "192.0.2.10:5555"
	h.TLS = tlsState
	r.HTTP = h
	return r
}

func peerTLS() *tls.ConnectionState {
	u, _ := url.Parse("spiffe://cluster.local/ns/default/sa/sleep")
	return &tls.ConnectionState{Version: tls.VersionTLS13, ServerName: "api.example.com",
		PeerCertificates: []*x509.Certificate{{URIs: []*url.URL{u}, DNSNames: []string{"sleep.default"}, Raw: []byte("der")}}}
}

// TestCELEvaluate runs CEL conditions through the engine: one ALLOW
// policy "p" whose one rule holds the condition (or a DENY policy, for
// the rows marked deny), against a request.
func TestCELEvaluate(t *testing.T) {
	big := "[" + strings.TrimSuffix(strings.Repeat("0,", 100), ",") + "]"
	tests := []struct {
		name  string
		c     model.Condition
		deny  bool
		split map[string][]string
		req   *Request
		match bool
	}{
		{"claim equal", celCond(P + "['team'] == 'payments'"), false, nil, authed(), true},
		{"claim other value", celCond(P + "['team'] == 'dev'"), false, nil, authed(), false},
		{"nested claim by index", celCond("'admin' in " + P + "['realm_access']['roles']"), false, nil, authed(), true},
		{"nested claim by field", celCond(P + ".realm_access.roles.exists(r, r == 'auditor')"), false, nil, authed(), true},
		{"claim name with dots and slashes", celCond(P + "['https://example.com/tenant'] == 'acme'"), false, nil, authed(), true},
		{"in on a list claim", celCond("'ops' in " + P + "['groups']"), false, nil, authed(), true},
		{"in on a list claim, absent", celCond("'qa' in " + P + "['groups']"), false, nil, authed(), false},
		{"claim in a list literal", celCond(P + "['sub'] in ['bob', 'alice']"), false, nil, authed(), true},
		{"split on scope", celCond("'write:pay' in " + P + "['scope'].split(' ')"), false, nil, authed(), true},
		{"in on a string scope is an error", celCond("'write:pay' in " + P + "['scope']"), false, nil, authed(), false},
		{"scope split by the policy", celCond("'write:pay' in " + P + "['scope']"), false, map[string][]string{"*": {"scope"}}, authed(), true},
		{"scope split for the issuer", celCond("'read:pay' in " + P + "['scope']"), false, map[string][]string{iss: {"scope"}}, authed(), true},
		{"scope split for another issuer", celCond(P + "['scope'] == 'read:pay write:pay'"), false, map[string][]string{"https://other": {"scope"}}, authed(), true},
		{"nested scope is not split", celCond(P + "['realm_access']['scope'] == 'x y'"), false, map[string][]string{"*": {"scope"}}, authed(), true},
		{"number claim is a double", celCond(P + "['level'] == 3.0"), false, nil, authed(), true},
		{"number claim against an int", celCond(P + "['level'] > 2 && " + P + "['level'] == 3"), false, nil, authed(), true},
		{"bool claim", celCond(P + "['admin']"), false, nil, authed(), true},
		{"bool claim negated", celCond("!" + P + "['admin']"), false, nil, authed(), false},
		{"has on a claim", celCond("has(" + P + ".team) && !has(" + P + ".nope)"), false, nil, authed(), true},
		{"missing claim is no match", celCond(P + "['nope'] == 'x'"), false, nil, authed(), false},
		{"missing claim is no match in a DENY rule", celCond(P + "['nope'] != 'x'"), true, nil, authed(), false},
		{"missing claim or true", celCond(P + "['nope'] == 'x' || true"), false, nil, authed(), true},
		{"no token: no metadata", celCond(P + "['team'] == 'payments'"), false, nil, anon(), false},
		{"no token: no metadata in a DENY rule", celCond("!(" + P + "['team'] == 'payments')"), true, nil, anon(), false},
		{"no token: the namespace is absent", celCond("!('envoy.filters.http.jwt_authn' in metadata.filter_metadata)"), false, nil, anon(), true},
		{"another payload key is absent", celCond("metadata.filter_metadata['envoy.filters.http.jwt_authn']['other']['sub'] == 'alice'"), false, nil, authed(), false},
		{"non-bool result is no match", celCond(P + "['team']"), false, nil, authed(), false},
		{"non-bool result is no match in a DENY rule", celCond(P + "['sub']"), true, nil, authed(), false},
		{"one of several expressions", celCond("request.method == 'POST'", P+"['sub'] == 'alice'"), false, nil, authed(), true},
		{"method", celCond("request.method == 'GET'"), false, nil, anon(), true},
		{"method in", celCond("request.method in ['POST', 'PUT']"), false, nil, anon(), false},
		{"url path", celCond("request.url_path.startsWith('/v1/')"), false, nil, anon(), true},
		{"path with the query", celCond("request.path == '/v1/things?a=1&b=2' && request.query == 'a=1&b=2'"), false, nil,
			withHTTP(anon(), "/v1/things?a=1&b=2", nil), true},
		{"path without a query", celCond("request.path == '/v1/things'"), false, nil, anon(), true},
		{"no query attribute without the request", celCond("request.query == ''"), false, nil, anon(), false},
		{"host as sent", celCond("request.host == 'api.example.com:8443' && request.headers[':authority'] == 'api.example.com:8443'"), false, nil,
			withHTTP(anon(), "/v1/things", nil), true},
		{"scheme and protocol", celCond("request.scheme == 'https' && request.protocol == 'HTTP/1.1'"), false, nil,
			withHTTP(anon(), "/v1/things", peerTLS()), true},
		{"header", celCond("request.headers['x-team'] == 'dev'"), false, nil,
			with(anon(), func(r *Request) { r.Header.Set("X-Team", "dev") }), true},
		{"header names are lower case", celCond("request.headers['X-Team'] == 'dev'"), false, nil,
			with(anon(), func(r *Request) { r.Header.Set("X-Team", "dev") }), false},
		{"header values joined", celCond("request.headers['x-team'] == 'dev,ops'"), false, nil,
			with(anon(), func(r *Request) { r.Header["X-Team"] = []string{"dev", "ops"} }), true},
		{"header absent", celCond("request.headers['x-team'] == 'dev'"), false, nil, anon(), false},
		{"header presence", celCond("'x-team' in request.headers"), false, nil,
			with(anon(), func(r *Request) { r.Header.Set("X-Team", "dev") }), true},
		{"headers iterated", celCond("request.headers.exists(k, k.startsWith('x-t'))"), false, nil,
			with(anon(), func(r *Request) { r.Header.Set("X-Team", "dev") }), true},
		{"user agent", celCond("request.useragent.startsWith('curl/')"), false, nil,
			with(anon(), func(r *Request) { r.Header.Set("User-Agent", "curl/8.5.0") }), true},
		{"source address without the request", celCond("source.address == '192.0.2.10:0'"), false, nil, anon(), true},
		{"source address and port", celCond("source.address == '192.0.2.10:5555' && source.port == 5555"), false, nil,
			withHTTP(anon(), "/", nil), true},
		{"source address is the original client", celCond("source.address == '203.0.113.9:0'"), false, nil,
			with(withHTTP(anon(), "/", nil), func(r *Request) { r.Client = netip.MustParseAddr("203.0.113.9") }), true},
		{"destination port", celCond("destination.port == 8443"), false, nil, anon(), true},
		{"mtls and the peer's URI SAN", celCond("connection.mtls && connection.uri_san_peer_certificate == 'spiffe://cluster.local/ns/default/sa/sleep' && connection.tls_version == 'TLSv1.3'"), false, nil,
			withHTTP(anon(), "/", peerTLS()), true},
		{"no mtls in plain HTTP", celCond("connection.mtls"), false, nil, withHTTP(anon(), "/", nil), false},
		{"no peer certificate in plain HTTP", celCond("!has(connection.uri_san_peer_certificate)"), false, nil, withHTTP(anon(), "/", nil), true},
		{"strings extension", celCond("request.url_path.lowerAscii().split('/').size() == 3"), false, nil, anon(), true},
		{"notValues: none true", model.Condition{Kind: model.CondCEL, NotValues: []string{P + "['team'] == 'dev'"}}, false, nil, authed(), true},
		{"notValues: one true", model.Condition{Kind: model.CondCEL, NotValues: []string{P + "['team'] == 'payments'"}}, false, nil, authed(), false},
		{"notValues: an error is not true", model.Condition{Kind: model.CondCEL, NotValues: []string{P + "['nope'] == 'x'"}}, false, nil, authed(), true},
		{"cost limit in an ALLOW rule: no match", celCond(big + ".all(i, " + big + ".all(j, " + big + ".all(k, true)))"), false, nil, anon(), false},
		{"cost limit in a DENY rule: a match", celCond(big + ".all(i, " + big + ".all(j, " + big + ".all(k, true)))"), true, nil, anon(), true},
		{"cost limit in notValues of an ALLOW rule", model.Condition{Kind: model.CondCEL, NotValues: []string{big + ".exists(i, " + big + ".exists(j, " + big + ".exists(k, false)))"}}, false, nil, anon(), false},
		{"payload key named", model.Condition{Kind: model.CondCEL, Name: "my-provider", Values: []string{"metadata.filter_metadata['envoy.filters.http.jwt_authn']['my-provider']['sub'] == 'alice'"}}, false, nil, authed(), true},
		{"payload key named: payload is absent", model.Condition{Kind: model.CondCEL, Name: "my-provider", Values: []string{P + "['sub'] == 'alice'"}}, false, nil, authed(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := allowP("p", whenRule(tc.c))
			if tc.deny {
				p = denyP("p", whenRule(tc.c))
			}
			p.SpaceDelimitedClaims = tc.split
			e, err := Compile([]model.Policy{p})
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			d := e.Evaluate(tc.req)
			matched := d.Policy == "p"
			if matched != tc.match {
				t.Fatalf("matched = %v, want %v (%s)", matched, tc.match, d)
			}
		})
	}
}

// TestCELCompileErrors: what CheckPolicy refuses in a CEL condition, at
// the field of the expression.
func TestCELCompileErrors(t *testing.T) {
	tests := []struct {
		name, expr, want string
		attr             bool
	}{
		{"syntax", "request.method ==", `rules[0].when[0].values[0]: invalid CEL expression: Syntax error`, false},
		{"unknown function", "request.method.shout()", `undeclared reference to 'shout'`, false},
		{"not a bool", "1 + 2", `the expression is a int, not a bool`, false},
		{"empty", "", `want 1 to 16384 characters, got 0`, false},
		{"too long", "true || " + strings.Repeat(" ", model.MaxCELBytes), `want 1 to 16384 characters`, false},
		{"undeclared", "foo == 1", `undeclared reference to 'foo'`, false},
		{"xds", "xds.route_name == 'r'", `the expression reads an Envoy attribute jwtgate does not provide: xds (jwtgate provides request, source`, true},
		{"request field", "request.size > 10", `the expression reads an Envoy attribute jwtgate does not provide: request.size`, true},
		{"request field by index", "request['total_size'] > 0", `request.total_size`, true},
		{"connection field", "connection.id == 1u", `connection.id`, true},
		{"other metadata", "metadata.filter_metadata['envoy.filters.http.ext_authz']['x'] == 'y'", `metadata.filter_metadata["envoy.filters.http.ext_authz"]`, true},
		{"in a macro", "request.headers.exists(k, filter_state['x'] == b'y')", `filter_state`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile([]model.Policy{denyP("x", whenRule(celCond(tc.expr)))})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to hold %q", err, tc.want)
			}
			if strings.Count(err.Error(), "invalid CEL expression") != 1 {
				t.Fatalf("reported %d times: %v", strings.Count(err.Error(), "invalid CEL expression"), err)
			}
			_, cerr := model.CompileCEL(tc.expr)
			if errors.Is(cerr, model.ErrCELAttribute) != tc.attr {
				t.Fatalf("CompileCEL error %v: ErrCELAttribute %v, want %v", cerr, errors.Is(cerr, model.ErrCELAttribute), tc.attr)
			}
		})
	}
}

// TestCELConcurrent evaluates one engine from many goroutines (run with
// -race): programs are shared, activations are not.
func TestCELConcurrent(t *testing.T) {
	e, err := Compile([]model.Policy{allowP("p", whenRule(celCond("'ops' in "+P+"['groups'] && request.headers['x-n'] != ''")))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for i := range 8 {
		go func() {
			ok := true
			for j := range 50 {
				r := authed()
				r.Header = http.Header{"X-N": {strings.Repeat("n", i+j)}}
				ok = ok && e.Evaluate(r).Allowed == (i+j > 0)
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Fatal("a concurrent evaluation decided wrongly")
		}
	}
}

// BenchmarkEvaluateCEL is the cost of one CEL condition reading a
// header and a claim.
func BenchmarkEvaluateCEL(b *testing.B) {
	e, err := Compile([]model.Policy{allowP("p", whenRule(celCond(P+"['team'] == 'payments' && request.headers['x-team'] == 'dev'")))})
	if err != nil {
		b.Fatal(err)
	}
	r := authed()
	r.Header.Set("X-Team", "dev")
	b.ReportAllocs()
	for b.Loop() {
		if !e.Evaluate(r).Allowed {
			b.Fatal("denied")
		}
	}
}

// FuzzCELEvaluate compiles an expression as a CEL condition of an ALLOW
// and of a DENY policy and evaluates it against requests carrying the
// fuzzed header and claim values: no panic, and the same decision twice.
func FuzzCELEvaluate(f *testing.F) {
	f.Add("request.headers['x-a'] == 'b'", "b", "dev")
	f.Add(P+"['team'].startsWith('d') && request.url_path.matches('^/v1')", "", "d\x00")
	f.Add("'x' in "+P+"['scope'].split(' ') || source.port > 1", "x", "x y")
	f.Add("request.headers.exists(k, request.headers[k].size() > 3) || connection.mtls", "long value", "")
	f.Add("int(request.headers['x-a']) > 2", "99999999999999999999", "1")
	f.Add(P+"['n'] + 1 > 2.5 && "+P+"['list'][1] == 'b'", ",", "7")
	f.Fuzz(func(t *testing.T, expr, header, claim string) {
		if _, err := model.CompileCEL(expr); err != nil {
			return
		}
		for _, p := range []model.Policy{allowP("p", whenRule(celCond(expr))), denyP("p", whenRule(celCond(expr)))} {
			p.SpaceDelimitedClaims = map[string][]string{"*": {"scope"}}
			e, err := Compile([]model.Policy{p})
			if err != nil {
				t.Fatalf("CompileCEL accepted %q, Compile refused it: %v", expr, err)
			}
			for _, r := range []*Request{anon(), authed(), withHTTP(authed(), "/v1/things?q="+url.QueryEscape(claim), peerTLS())} {
				r.Header.Set("X-A", header)
				if r.Authenticated {
					r.Claims["team"], r.Claims["scope"], r.Claims["n"] = claim, claim, json.Number("7")
					r.Claims["list"] = []any{header, claim}
				}
				if a, b := e.Evaluate(r), e.Evaluate(r); a != b {
					t.Fatalf("%q decided %s, then %s", expr, a, b)
				}
			}
		}
	})
}

// TestCELExplain: what each expression gave, for explanations.
func TestCELExplain(t *testing.T) {
	c := model.Condition{Kind: model.CondCEL, Values: []string{P + "['team'] == 'payments'", P + "['nope'] == 'x'", P + "['sub']"}, NotValues: []string{"request.method == 'POST'"}}
	e, err := Compile([]model.Policy{allowP("p", whenRule(c))})
	if err != nil {
		t.Fatal(err)
	}
	got := e.allow[0].rules[0].when[0].cel.explain(authed())
	want := "values[0] true; values[1] error: no such key: nope; values[2] not a bool (string); notValues[0] false"
	if got != want {
		t.Fatalf("explain:\n got %s\nwant %s", got, want)
	}
}

// TestCompilerRemembersCEL checks that one Compiler compiles an
// expression once across the policies and route sets of a configuration
// (the program is shared), while separate compilers share nothing.
func TestCompilerRemembersCEL(t *testing.T) {
	expr := "request.method == 'GET'"
	p1 := allowP("p1", whenRule(celCond(expr)))
	p2 := denyP("p2", whenRule(celCond(expr)))
	c := NewCompiler()
	if _, err := c.Compile([]model.Policy{p1}); err != nil {
		t.Fatal(err)
	}
	first := c.programs[expr]
	if first == nil {
		t.Fatal("the program was not remembered")
	}
	if _, err := c.Compile([]model.Policy{p1, p2}); err != nil {
		t.Fatal(err)
	}
	if len(c.programs) != 1 || c.programs[expr] != first {
		t.Fatalf("programs %v: the second compile made another", c.programs)
	}
	a1, err := c.cel.Compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	if a2, _ := c.cel.Compile(expr); a2 != a1 {
		t.Fatal("the memo parsed the expression again")
	}
	other := NewCompiler()
	if _, err := other.Compile([]model.Policy{p1}); err != nil {
		t.Fatal(err)
	}
	if other.programs[expr] == first {
		t.Fatal("two compilers share a program: a memo outlived its compile step")
	}
	var none *model.CELMemo
	if a, err := none.Compile(expr); err != nil || a == nil || a == a1 {
		t.Fatalf("a nil memo: %v, %v (want a fresh tree)", a, err)
	}
}
