package proxy

import (
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// End-to-end walkthroughs from the specification documents (the seeds),
// through Build and a real Server over loopback.

// seed004Config is kgateway's walkthrough: provider selfminted (issuer
// solo.io, inline JWKS whose modulus starts with a zero byte, team ->
// x-team, org -> x-org) applied by a policy to the protected route; a
// second route stays open.
func seed004Config(t testing.TB, upstream string) *model.Config {
	return &model.Config{
		Listeners: []model.Listener{{Name: "http", Address: "127.0.0.1:0"}},
		Providers: []model.Provider{{
			Name:   "selfminted",
			Issuer: "solo.io",
			JWKS:   model.KeySource{Inline: readTestdata(t, "seed004.jwks.json")},
			ClaimsToHeaders: []model.ClaimToHeader{
				{Claim: "team", Header: "x-team"},
				{Claim: "org", Header: "x-org"},
			},
			PayloadHeader: "x-jwt-payload",
			ClockSkew:     model.DefaultClockSkew,
		}},
		Routes: []model.Route{
			{Name: "open", Listener: "http", Labels: model.Labels{"auth": "none"}, Match: model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/open"}}}, Backend: model.Backend{URL: upstream}},
			{Name: "httpbin", Listener: "http", Labels: model.Labels{"auth": "jwt"}, Match: model.RouteMatch{Hosts: []string{"www.example.com"}}, Backend: model.Backend{URL: upstream}},
		},
		JWTPolicies: []model.JWTPolicy{{
			Name:        "jwt-policy",
			Selector:    map[string]string{"auth": "jwt"},
			Requirement: model.JWTRequirement{Providers: []string{"selfminted"}, Mode: model.AuthRequired},
		}},
	}
}

func TestSeed004(t *testing.T) {
	echo := newEcho(t)
	var logs logBuffer
	s := startServer(t, build(t, seed004Config(t, echo.URL), Options{Logger: logs.logger()}), nil)
	base := "http://" + s.Addr("http").String()
	token := readTestdata(t, "seed004.jwt")
	host := map[string]string{"Host": "www.example.com:8080"}

	t.Run("no token", func(t *testing.T) {
		res := get(t, nil, base+"/headers?x=1", host)
		assertResponse(t, res, 401, "Jwt is missing")
		if got, want := res.header.Get("Www-Authenticate"), `Bearer realm="http://www.example.com:8080/headers"`; got != want {
			t.Errorf("WWW-Authenticate %q, want %q", got, want)
		}
	})
	t.Run("token", func(t *testing.T) {
		res := get(t, nil, base+"/headers", map[string]string{
			"Host":          "www.example.com:8080",
			"Authorization": "Bearer " + token,
			"X-Team":        "spoofed",
			"X-Jwt-Payload": "spoofed",
		})
		if res.status != 200 {
			t.Fatalf("status %d %q", res.status, res.body)
		}
		expectSeed004Outputs(t, res.echo(t), token)
	})
	t.Run("spoofed headers on an open route", func(t *testing.T) {
		res := get(t, nil, base+"/open", map[string]string{"X-Team": "admin", "X-Org": "evil", "X-Jwt-Payload": "e30"})
		if res.status != 200 {
			t.Fatalf("status %d", res.status)
		}
		e := res.echo(t)
		for _, h := range []string{"X-Team", "X-Org", "X-Jwt-Payload"} {
			if v := e.Header.Get(h); v != "" {
				t.Errorf("%s reached the upstream: %q", h, v)
			}
		}
	})
	t.Run("tampered token", func(t *testing.T) {
		res := get(t, nil, base+"/headers", map[string]string{"Host": "www.example.com:8080", "Authorization": "Bearer " + token[:len(token)-4] + "AAAA"})
		assertResponse(t, res, 401, "Jwt verification fails")
		if got, want := res.header.Get("Www-Authenticate"), `Bearer realm="http://www.example.com:8080/headers", error="invalid_token"`; got != want {
			t.Errorf("WWW-Authenticate %q, want %q", got, want)
		}
	})

	checkLogs(t, &logs, token, []map[string]any{
		{"route": "httpbin", "status": 401.0, "authn": "missing", "reason": "Jwt is missing", "path": "/headers", "host": "www.example.com:8080"},
		{"route": "httpbin", "status": 200.0, "authn": "verified", "sub": "solo.io/alice", "upstream": echo.URL},
		{"route": "open", "status": 200.0, "authn": "none"},
		{"route": "httpbin", "status": 401.0, "authn": "invalid", "reason": "Jwt verification fails"},
	})
}

// TestSeed003 is ASM's four-request table: allowMissing plus a DENY policy
// for requests without a principal on /productpage.
func TestSeed003(t *testing.T) {
	echo := newEcho(t)
	var logs logBuffer
	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "gw", Address: "127.0.0.1:0"}},
		Providers: []model.Provider{{
			Name:      "asm",
			Issuer:    "testing@secure.istio.io",
			JWKS:      model.KeySource{Inline: readTestdata(t, "seed003.jwks.json")},
			ClockSkew: model.DefaultClockSkew,
		}},
		Routes: []model.Route{{
			Name: "bookinfo", Listener: "gw", Backend: model.Backend{URL: echo.URL},
			JWT: &model.JWTRequirement{Providers: []string{"asm"}, Mode: model.AuthAllowMissing},
		}},
		Policies: []model.Policy{{
			Name:   "productpage/authIfMatched",
			Action: model.ActionDeny,
			Rules: []model.Rule{{
				From: []model.From{{NotRequestPrincipals: []string{"*"}}},
				To:   []model.To{{Paths: []string{"/productpage"}}},
			}},
		}},
	}
	s := startServer(t, build(t, cfg, Options{Logger: logs.logger()}), nil)
	addr := s.Addr("gw").String()
	base := "http://" + addr
	token := readTestdata(t, "seed003.jwt")

	res := get(t, nil, base+"/productpage", map[string]string{"Authorization": "Bearer " + token})
	if res.status != 200 {
		t.Errorf("1. valid token: %d %q", res.status, res.body)
	}
	res = get(t, nil, base+"/productpage", nil)
	assertResponse(t, res, 403, "RBAC: access denied")
	if res.header.Get("Content-Length") != "19" || res.header.Get("Www-Authenticate") != "" {
		t.Errorf("2. no token: headers %v", res.header)
	}
	res = get(t, nil, base+"/productpage", map[string]string{"Authorization": "Bearer invalid token"})
	assertResponse(t, res, 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections")
	if got, want := res.header.Get("Www-Authenticate"), `Bearer realm="http://`+addr+`/productpage", error="invalid_token"`; got != want {
		t.Errorf("3. WWW-Authenticate %q, want %q", got, want)
	}
	if res.header.Get("Content-Length") != "79" {
		t.Errorf("3. Content-Length %q", res.header.Get("Content-Length"))
	}
	res = get(t, nil, base+"/api/v1/products/1", nil)
	if res.status != 200 {
		t.Errorf("4. no token elsewhere: %d %q", res.status, res.body)
	}
	// The path is normalized before the policy sees it.
	res = get(t, nil, base+"/api/../productpage", nil)
	if res.status != 403 {
		t.Errorf("dot segments around the DENY path: %d", res.status)
	}

	checkLogs(t, &logs, token, []map[string]any{
		{"status": 200.0, "authn": "verified", "sub": "testing@secure.istio.io/testing@secure.istio.io", "policy": "", "path": "/productpage"},
		{"status": 403.0, "authn": "missing", "policy": "productpage/authIfMatched", "rule": "rules[0]"},
		{"status": 401.0, "authn": "invalid"},
		{"status": 200.0, "authn": "missing", "path": "/api/v1/products/1"},
		{"status": 403.0, "path": "/productpage"},
	})
}

// TestSeed001 is Gloo's JWT policy for mesh routes: a token in header
// X-Auth ("Bearer ") or query auth_token; with both, both must be valid.
func TestSeed001(t *testing.T) {
	echo := newEcho(t)
	var logs logBuffer
	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "mesh", Address: "127.0.0.1:0"}},
		Providers: []model.Provider{{
			Name:   "dev-example",
			Issuer: "https://dev.example.com",
			JWKS:   model.KeySource{PEM: readTestdata(t, "gloo-public.pem")},
			From:   []model.TokenSource{{Header: "X-Auth", Prefix: "Bearer "}, {Query: "auth_token"}},
			ClaimsToHeaders: []model.ClaimToHeader{
				{Claim: "org", Header: "x-org"},
				{Claim: "email", Header: "x-email"},
			},
			ClockSkew: model.DefaultClockSkew,
		}},
		Routes: []model.Route{{
			Name: "httpbin-mesh", Listener: "mesh", Labels: model.Labels{"route": "httpbin"},
			Match:   model.RouteMatch{Hosts: []string{"www.example.com"}, Headers: map[string]string{"X-httpbin-mesh": "*"}},
			Backend: model.Backend{URL: echo.URL},
		}},
		JWTPolicies: []model.JWTPolicy{
			{Name: "jwt-policy", Selector: map[string]string{"route": "httpbin"}, Requirement: model.JWTRequirement{Providers: []string{"dev-example"}, Mode: model.AuthRequired, Phase: model.PhasePreAuthz}},
			{Name: "later-policy", Selector: map[string]string{"route": "httpbin"}, Requirement: model.JWTRequirement{Providers: []string{"dev-example"}, Mode: model.AuthAllowMissing}},
		},
	}
	rt := build(t, cfg, Options{Logger: logs.logger()})
	s := startServer(t, rt, nil)
	base := "http://" + s.Addr("mesh").String()
	token := readTestdata(t, "gloo-dev-example.jwt")
	hdr := func(kv ...string) map[string]string {
		m := map[string]string{"Host": "www.example.com", "X-httpbin-mesh": "1"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	res := get(t, nil, base+"/get", hdr())
	assertResponse(t, res, 401, "Jwt is missing")
	if got, want := res.header.Get("Www-Authenticate"), `Bearer realm="http://www.example.com/get"`; got != want {
		t.Errorf("WWW-Authenticate %q, want %q", got, want)
	}

	res = get(t, nil, base+"/get?auth_token="+token+"&keep=1", hdr())
	if res.status != 200 {
		t.Fatalf("query token: %d %q", res.status, res.body)
	}
	e := res.echo(t)
	if e.Header.Get("X-Email") != "dev1@solo.io" || e.Header.Get("X-Org") != "internal" {
		t.Errorf("claim headers %v", e.Header)
	}
	if strings.Contains(e.RequestURI, "auth_token") || !strings.Contains(e.RequestURI, "keep=1") {
		t.Errorf("upstream URI %q: token not removed or query lost", e.RequestURI)
	}

	res = get(t, nil, base+"/get", hdr("X-Auth", "Bearer "+token))
	if res.status != 200 {
		t.Errorf("header token: %d %q", res.status, res.body)
	}
	res = get(t, nil, base+"/get?auth_token="+token, hdr("X-Auth", "Bearer "+token))
	if res.status != 200 {
		t.Errorf("both valid: %d %q", res.status, res.body)
	}
	res = get(t, nil, base+"/get?auth_token=bad.token.here", hdr("X-Auth", "Bearer "+token))
	if res.status != 401 {
		t.Errorf("header valid, query bad: %d %q", res.status, res.body)
	}
	res = get(t, nil, base+"/get?auth_token="+token, hdr("X-Auth", "Bearer garbage"))
	if res.status != 401 {
		t.Errorf("query valid, header bad: %d %q", res.status, res.body)
	}

	ex := rt.Explain()
	if len(ex) != 1 || ex[0].JWT == nil || ex[0].JWT.From != `jwtPolicy "jwt-policy"` || len(ex[0].JWT.NotApplied) != 1 || ex[0].JWT.NotApplied[0] != "later-policy" {
		t.Errorf("Explain: %+v", ex)
	}
	checkLogs(t, &logs, token, nil)
}

// TestPhaseAndAudience: a postAuthz requirement lets authorization answer
// first; an audience mismatch is 403 with error="invalid_token"; the clock
// option reaches the providers.
func TestPhaseAndAudience(t *testing.T) {
	echo := newEcho(t)
	token := readTestdata(t, "seed004.jwt")
	mk := func(phase model.Phase, audiences []string) *model.Config {
		cfg := seed004Config(t, echo.URL)
		cfg.Providers[0].Audiences = audiences
		cfg.JWTPolicies[0].Requirement.Phase = phase
		cfg.Policies = []model.Policy{{Name: "no-admin", Action: model.ActionDeny, Rules: []model.Rule{{To: []model.To{{Paths: []string{"/admin"}}}}}}}
		return cfg
	}
	host := "www.example.com"

	post := build(t, mk(model.PhasePostAuthz, nil), Options{}).Handler("http")
	assertResponse(t, do(t, post, "GET", "/admin", map[string]string{"Host": host}), 403, "RBAC: access denied")
	assertResponse(t, do(t, post, "GET", "/other", map[string]string{"Host": host}), 401, "Jwt is missing")

	pre := build(t, mk(model.PhasePreAuthz, nil), Options{}).Handler("http")
	assertResponse(t, do(t, pre, "GET", "/admin", map[string]string{"Host": host}), 401, "Jwt is missing")

	aud := build(t, mk("", []string{"api"}), Options{}).Handler("http")
	res := do(t, aud, "GET", "/x", map[string]string{"Host": host, "Authorization": "Bearer " + token})
	assertResponse(t, res, 403, "Audiences in Jwt are not allowed")
	if got, want := res.header.Get("Www-Authenticate"), `Bearer realm="http://www.example.com/x", error="invalid_token"`; got != want {
		t.Errorf("WWW-Authenticate %q, want %q", got, want)
	}

	later := func() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }
	expired := build(t, mk("", nil), Options{Now: later}).Handler("http")
	assertResponse(t, do(t, expired, "GET", "/x", map[string]string{"Host": host, "Authorization": "Bearer " + token}), 401, "Jwt is expired")
}

func assertResponse(t *testing.T, res response, status int, body string) {
	t.Helper()
	if res.status != status || res.body != body {
		t.Errorf("got %d %q, want %d %q", res.status, res.body, status, body)
		return
	}
	if body != "" && res.header.Get("Content-Type") != "text/plain" {
		t.Errorf("Content-Type %q", res.header.Get("Content-Type"))
	}
}

// checkLogs asserts that no piece of the token was logged and that the
// access lines carry the wanted fields, in order.
func checkLogs(t *testing.T, logs *logBuffer, token string, want []map[string]any) {
	t.Helper()
	all := logs.String()
	for _, seg := range strings.Split(token, ".") {
		for i := 0; i+16 <= len(seg); i += 16 {
			if strings.Contains(all, seg[i:i+16]) {
				t.Fatalf("the log holds part of the token: %q", seg[i:i+16])
			}
		}
	}
	if strings.Contains(all, "auth_token") || strings.Contains(all, "?") {
		t.Errorf("the log holds a query string:\n%s", all)
	}
	if want == nil {
		return
	}
	lines := logs.access(t)
	if len(lines) != len(want) {
		t.Fatalf("%d access lines, want %d:\n%s", len(lines), len(want), all)
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("access line %d: %s = %v, want %v", i, k, lines[i][k], v)
			}
		}
		for _, k := range []string{"listener", "route", "method", "host", "path", "status", "authn", "duration_ms"} {
			if _, ok := lines[i][k]; !ok {
				t.Errorf("access line %d lacks %s", i, k)
			}
		}
	}
}

// TestAccessLogDenied: a request no ALLOW rule matches is logged with the
// reason in the policy field; a 400 and a 404 are logged without a query.
func TestAccessLogDenied(t *testing.T) {
	echo := newEcho(t)
	var logs logBuffer
	cfg := oneRoute(echo.URL, model.Route{Name: "api", Match: model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/api/"}}}})
	cfg.Policies = []model.Policy{{Name: "only-get", Action: model.ActionAllow, Rules: []model.Rule{{To: []model.To{{Methods: []string{"GET"}}}}}}}
	h := build(t, cfg, Options{Logger: logs.logger()}).Handler("web")
	assertResponse(t, do(t, h, "POST", "/api/x?access_token=secret-value", nil), 403, "RBAC: access denied")
	if res := do(t, h, "GET", "/api/x?access_token=secret-value", nil); res.status != 200 {
		t.Fatalf("GET: %d", res.status)
	}
	assertResponse(t, do(t, h, "GET", "/other?access_token=secret-value", nil), 404, "")
	assertResponse(t, do(t, h, "GET", "/api/%2f?access_token=secret-value", nil), 400, "")
	if strings.Contains(logs.String(), "secret-value") {
		t.Fatalf("query logged:\n%s", logs.String())
	}
	checkLogs(t, &logs, "", []map[string]any{
		{"route": "api", "status": 403.0, "policy": "no ALLOW policy matched", "rule": "", "authn": "none", "method": "POST", "path": "/api/x", "upstream": ""},
		{"route": "api", "status": 200.0, "policy": "only-get", "rule": "rules[0]", "upstream": echo.URL},
		{"route": "", "status": 404.0, "path": "/other"},
		{"route": "", "status": 400.0, "path": "/api/%2f"},
	})
}
