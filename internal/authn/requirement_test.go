package authn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// twoProviders builds provider "a" (issuer a, RSA key, default sources)
// and "b" (issuer b, EC key, header X-Token and cookie tok).
func twoProviders(t *testing.T, mod func(a, b *model.Provider)) map[string]*Provider {
	keys(t)
	a := model.Provider{Name: "a", Issuer: "https://a.test", JWKS: model.KeySource{Inline: jwksOf(t, jwk(&rsaKey.PublicKey, "ka", ""))}}
	b := model.Provider{Name: "b", Issuer: "https://b.test", JWKS: model.KeySource{Inline: jwksOf(t, jwk(&ecKey.PublicKey, "kb", ""))},
		From: []model.TokenSource{{Header: "x-token"}, {Cookie: "tok"}, {Header: "Authorization", Prefix: "Bearer "}}}
	if mod != nil {
		mod(&a, &b)
	}
	return map[string]*Provider{"a": newTestProvider(t, a), "b": newTestProvider(t, b)}
}

func tokA(t *testing.T, kv ...any) string {
	return mint(t, "RS256", "ka", rsaKey, claims(append([]any{"iss", "https://a.test"}, kv...)...), nil)
}

func tokB(t *testing.T, kv ...any) string {
	return mint(t, "ES256", "kb", ecKey, claims(append([]any{"iss", "https://b.test"}, kv...)...), nil)
}

func req(target string, hdr ...string) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func mustReq(t *testing.T, jr model.JWTRequirement, provs map[string]*Provider) *Requirement {
	t.Helper()
	q, err := NewRequirement(jr, provs)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestAuthenticate(t *testing.T) {
	provs := twoProviders(t, nil)
	ctx := context.Background()
	a, b := tokA(t), tokB(t)
	expA := tokA(t, "exp", 1)
	expB := tokB(t, "exp", 1)
	anyOf := mustReq(t, model.JWTRequirement{Providers: []string{"a", "b"}, Mode: model.AuthRequired}, provs)
	onlyA := mustReq(t, model.JWTRequirement{Providers: []string{"a"}}, provs)
	all := mustReq(t, model.JWTRequirement{Providers: []string{"a", "b"}, RequireAll: true, Mode: model.AuthRequired}, provs)

	cases := []struct {
		name    string
		q       *Requirement
		r       *http.Request
		outcome Outcome
		err     *Error
		ids     []string // providers of the identities
	}{
		{"no token", anyOf, req("/"), Missing, ErrMissing, nil},
		{"other auth scheme is no token", onlyA, req("/", "Authorization", "Basic dXNlcjpwYXNz"), Missing, ErrMissing, nil},
		{"empty query token is no token", onlyA, req("/?access_token="), Missing, ErrMissing, nil},
		{"header token a", anyOf, req("/", "Authorization", "Bearer "+a), Verified, nil, []string{"a"}},
		{"lower-case bearer", anyOf, req("/", "Authorization", "bearer "+a), Verified, nil, []string{"a"}},
		{"token b in the shared header", anyOf, req("/", "Authorization", "Bearer "+b), Verified, nil, []string{"b"}},
		{"token b in its own header", anyOf, req("/", "X-Token", b), Verified, nil, []string{"b"}},
		{"token a in b's header", anyOf, req("/", "X-Token", a), Invalid, ErrUnknownIssuer, nil},
		{"token b in a's query", anyOf, req("/?access_token=" + b), Invalid, ErrUnknownIssuer, nil},
		{"token b in cookie", anyOf, req("/", "Cookie", "x=1; tok="+b), Verified, nil, []string{"b"}},
		{"Bearer invalid token", anyOf, req("/", "Authorization", "Bearer invalid token"), Invalid, ErrNotOneToken, nil},
		{"Bearer and one word", anyOf, req("/", "Authorization", "Bearer invalid"), Invalid, ErrBadFormat, nil},
		{"good token and a trailing word", anyOf, req("/", "Authorization", "Bearer "+a+" extra"), Invalid, ErrNotOneToken, nil},
		{"two good tokens in one value", anyOf, req("/", "Authorization", "Bearer "+a+" "+a), Invalid, ErrNotOneToken, nil},
		{"comma-joined bearer list", anyOf, req("/", "Authorization", "Bearer "+a+", Bearer "+b), Invalid, ErrNotOneToken, nil},
		{"comma-joined list without space", anyOf, req("/", "Authorization", "Bearer "+a+",Bearer "+a), Invalid, ErrNotOneToken, nil},
		{"token with a trailing comma", anyOf, req("/", "Authorization", "Bearer "+a+","), Invalid, ErrNotOneToken, nil},
		{"spaces around the token are fine", anyOf, req("/", "Authorization", "Bearer   "+a+"  "), Verified, nil, []string{"a"}},
		{"two words in b's own header", anyOf, req("/", "X-Token", b+" "+b), Invalid, ErrNotOneToken, nil},
		{"two tokens in one value, other value good", onlyA, req("/", "Authorization", "Bearer "+a, "Authorization", "Bearer "+a+" "+a), Invalid, ErrNotOneToken, []string{"a"}},
		{"query value with a space", onlyA, req("/?access_token=" + a + "%20" + a), Invalid, ErrNotOneToken, nil},
		{"query value with a plus (a space)", onlyA, req("/?access_token=" + a + "+x"), Invalid, ErrNotOneToken, nil},
		{"query value with a comma", onlyA, req("/?access_token=" + a + "," + a), Invalid, ErrNotOneToken, nil},
		{"cookie value with a space", anyOf, req("/", "Cookie", "tok=\""+b+" "+b+"\""), Invalid, ErrNotOneToken, nil},
		{"cookie value with a comma", anyOf, req("/", "Cookie", "tok="+b+","+b), Invalid, ErrNotOneToken, nil},
		{"requireAll, b's token malformed", all, req("/?access_token="+a, "X-Token", b+" x"), Invalid, ErrNotOneToken, []string{"a"}},
		{"header and query both good", onlyA, req("/?access_token="+a, "Authorization", "Bearer "+a), Verified, nil, []string{"a"}},
		{"header good, query bad", onlyA, req("/?access_token=garbage", "Authorization", "Bearer "+a), Invalid, ErrBadFormat, []string{"a"}},
		{"header bad, query good", onlyA, req("/?access_token="+a, "Authorization", "Bearer "+expA), Invalid, ErrExpired, []string{"a"}},
		{"repeated header, one bad", onlyA, req("/", "Authorization", "Bearer "+a, "Authorization", "Bearer x.y.z"), Invalid, ErrHeaderBase64, []string{"a"}},
		{"expired b reported over a's unknown issuer", anyOf, req("/", "Authorization", "Bearer "+expB), Invalid, ErrExpired, nil},
		{"both providers in one request", anyOf, req("/?access_token="+a, "X-Token", b), Verified, nil, []string{"a", "b"}},
		{"requireAll satisfied", all, req("/?access_token="+a, "X-Token", b), Verified, nil, []string{"a", "b"}},
		{"requireAll with one provider's token only", all, req("/", "Authorization", "Bearer "+a), Invalid, ErrUnknownIssuer, []string{"a"}},
		{"requireAll, b's places empty", all, req("/?access_token=" + a), Invalid, ErrMissing, []string{"a"}},
		{"requireAll with nothing", all, req("/"), Missing, ErrMissing, nil},
		{"eight tokens are allowed", onlyA, req("/", repeat("Authorization", "Bearer "+a, MaxTokens)...), Verified, nil, []string{"a"}},
		{"nine tokens are too many", onlyA, req("/", repeat("Authorization", "Bearer "+a, MaxTokens+1)...), Invalid, ErrTooManyTokens, nil},
		{"requireAll with b expired", all, req("/?access_token="+a, "X-Token", expB), Invalid, ErrExpired, []string{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := c.q.Authenticate(ctx, c.r)
			if res.Outcome != c.outcome || res.Err != c.err {
				t.Fatalf("got %v %v, want %v %v", res.Outcome, res.Err, c.outcome, c.err)
			}
			var got []string
			for _, id := range res.Identities {
				got = append(got, id.Provider)
			}
			if strings.Join(got, ",") != strings.Join(c.ids, ",") {
				t.Fatalf("identities %v, want %v", got, c.ids)
			}
		})
	}
}

func TestReject(t *testing.T) {
	provs := twoProviders(t, nil)
	ctx := context.Background()
	good := req("/", "Authorization", "Bearer "+tokA(t))
	bad := req("/", "Authorization", "Bearer "+tokA(t, "aud", "x", "exp", 1))
	none := req("/")
	cases := []struct {
		mode            model.AuthMode
		good, bad, none *Error
	}{
		{model.AuthRequired, nil, ErrExpired, ErrMissing},
		{"", nil, ErrExpired, ErrMissing},
		{model.AuthAllowMissing, nil, ErrExpired, nil},
		{model.AuthAllowMissingOrFailed, nil, nil, nil},
	}
	for _, c := range cases {
		q := mustReq(t, model.JWTRequirement{Providers: []string{"a"}, Mode: c.mode}, provs)
		for _, x := range []struct {
			r    *http.Request
			want *Error
		}{{good, c.good}, {bad, c.bad}, {none, c.none}} {
			if got := q.Reject(q.Authenticate(ctx, x.r)); got != x.want {
				t.Errorf("mode %q: got %v, want %v", c.mode, got, x.want)
			}
		}
	}
	if _, err := NewRequirement(model.JWTRequirement{Providers: []string{"zz"}}, provs); err == nil {
		t.Error("unknown provider accepted")
	}
	if _, err := NewRequirement(model.JWTRequirement{Providers: []string{"a"}, Mode: "maybe"}, provs); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestRenderClaim(t *testing.T) {
	payload := `{"s":"str","n":12.50,"big":12345678901234567890,"t":true,"f":false,"arr":["a",1,true,{"k":"v"},["x"]],
		"obj":{"b":2,"a":"<&>"},"nested":{"deep":{"v":"found"}},"dot.ted":"top","dot":{"ted":"nested"},
		"crlf":"a\r\nX-Evil: 1","nul":"a\u0000b","del":"a\u007fb","tab":"a\tb","null":null,"empty":""}`
	c, err := decodeObject([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ claim, want string }{
		{"s", "str"},
		{"n", "12.50"},
		{"big", "12345678901234567890"},
		{"t", "true"},
		{"f", "false"},
		{"arr", `a,1,true,{"k":"v"},["x"]`},
		{"obj", `{"a":"<&>","b":2}`},
		{"nested.deep.v", "found"},
		{"nested.deep", `{"v":"found"}`},
		{"dot.ted", "top"},
		{"missing", ""},
		{"nested.missing", ""},
		{"s.x", ""},
		{"crlf", ""},
		{"nul", ""},
		{"del", ""},
		{"tab", "a\tb"},
		{"null", ""},
		{"empty", ""},
	}
	for _, tc := range cases {
		p := &Provider{}
		if err := p.compileOutputs(model.Provider{ClaimsToHeaders: []model.ClaimToHeader{{Claim: tc.claim, Header: "x-out"}}}); err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		p.applyOutputs(h, &Identity{Claims: c}, map[string]bool{})
		got, present := h["X-Out"]
		if tc.want == "" {
			if present {
				t.Errorf("%s: emitted %q", tc.claim, got)
			}
			continue
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: got %q, want %q", tc.claim, got, tc.want)
		}
	}
}

func TestApply(t *testing.T) {
	provs := twoProviders(t, func(a, b *model.Provider) {
		a.ClaimsToHeaders = []model.ClaimToHeader{{Claim: "sub", Header: "x-sub"}, {Claim: "team", Header: "x-team"}, {Claim: "org", Header: "x-team", Append: true}}
		a.PayloadHeader = "x-jwt-payload"
		b.ClaimsToHeaders = []model.ClaimToHeader{{Claim: "team", Header: "x-team", Append: true}}
		b.ForwardToken = true
	})
	ctx := context.Background()
	q := mustReq(t, model.JWTRequirement{Providers: []string{"a", "b"}}, provs)
	want := []string{"X-Sub", "X-Team", "X-Jwt-Payload"}
	if got := q.OutputHeaders(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("output headers %v, want %v", got, want)
	}
	a := tokA(t, "team", "dev", "org", "solo")
	b := tokB(t, "team", []string{"ops", "sec"})

	r := req("/p?x=1&access_token="+url.QueryEscape(a)+"&y=%2F", "X-Token", b, "Cookie", "k=v", "X-Team", "spoofed")
	r.Header.Del("X-Team") // the proxy strips output headers first
	res := q.Authenticate(ctx, r)
	if res.Outcome != Verified {
		t.Fatalf("outcome %v %v", res.Outcome, res.Err)
	}
	q.Apply(r, res)
	if got := r.Header.Get("X-Sub"); got != "alice" {
		t.Errorf("x-sub %q", got)
	}
	if got := r.Header.Values("X-Team"); len(got) != 1 || got[0] != "dev,solo,ops,sec" {
		t.Errorf("x-team %q", got)
	}
	if got := r.Header.Get("X-Jwt-Payload"); got != strings.Split(a, ".")[1] {
		t.Errorf("payload header %q", got)
	}
	if r.URL.RawQuery != "x=1&y=%2F" {
		t.Errorf("query token not removed: %q", r.URL.RawQuery)
	}
	if r.Header.Get("X-Token") != b {
		t.Error("b forwards its token, but it was removed")
	}

	// Append never joins a value the client sent.
	r = req("/", "Authorization", "Bearer "+tokA(t, "org", "solo"), "X-Team", "spoofed")
	q.Apply(r, q.Authenticate(ctx, r))
	if got := r.Header.Values("X-Team"); len(got) != 1 || got[0] != "solo" {
		t.Errorf("append joined a client value: %q", got)
	}
	if r.Header.Get("Authorization") != "" {
		t.Error("authorization header not removed")
	}

	// Cookie removal keeps the other cookies.
	cq := mustReq(t, model.JWTRequirement{Providers: []string{"a"}}, twoProviders(t, func(a, _ *model.Provider) {
		a.From = []model.TokenSource{{Cookie: "session"}}
	}))
	tok := tokA(t)
	r = req("/", "Cookie", "a=1; session="+tok+"; b=2", "Cookie", "session="+tok)
	res = cq.Authenticate(ctx, r)
	if res.Outcome != Verified {
		t.Fatalf("cookie outcome %v %v", res.Outcome, res.Err)
	}
	cq.Apply(r, res)
	if got := r.Header.Values("Cookie"); len(got) != 1 || got[0] != "a=1; b=2" {
		t.Errorf("cookies after removal %q", got)
	}

	// A repeated header loses only the token's value.
	r = req("/", "Authorization", "Basic abc", "Authorization", "Bearer "+a)
	res = q.Authenticate(ctx, r)
	q.Apply(r, res)
	if got := r.Header.Values("Authorization"); len(got) != 1 || got[0] != "Basic abc" {
		t.Errorf("authorization after removal %q", got)
	}

	// Failed tokens under allowMissingOrFailed give no identity and no
	// outputs, and are not forwarded.
	lax := mustReq(t, model.JWTRequirement{Providers: []string{"a"}, Mode: model.AuthAllowMissingOrFailed}, provs)
	r = req("/", "Authorization", "Bearer "+tokA(t, "exp", 1, "team", "dev"))
	res = lax.Authenticate(ctx, r)
	if res.Outcome != Invalid || len(res.Identities) != 0 || lax.Reject(res) != nil {
		t.Fatalf("lax: %v %v %d", res.Outcome, res.Err, len(res.Identities))
	}
	lax.Apply(r, res)
	if r.Header.Get("X-Team") != "" || r.Header.Get("Authorization") != "" {
		t.Errorf("failed token produced outputs or was forwarded: %v", r.Header)
	}
}

func TestHeaderToken(t *testing.T) {
	cases := []struct {
		v, prefix, want string
		malformed       bool
	}{
		{"Bearer abc", "Bearer ", "abc", false},
		{"bearer abc", "Bearer ", "abc", false},
		{"BEARER    abc", "Bearer ", "abc", false},
		{"Bearer abc  ", "Bearer ", "abc", false},
		{"Bearer abc\t", "Bearer ", "abc", false},
		{"Bearer \t abc \t ", "Bearer ", "abc", false},
		{"Bearer invalid token", "Bearer ", "invalid token", true},
		{"Bearer a.b.c d.e.f", "Bearer ", "a.b.c d.e.f", true},
		{"Bearer a.b.c\td.e.f", "Bearer ", "a.b.c\td.e.f", true},
		{"Bearer a.b.c, other", "Bearer ", "a.b.c, other", true},
		{"Bearer a.b.c,Bearer d.e.f", "Bearer ", "a.b.c,Bearer d.e.f", true},
		{"Bearer a.b.c,", "Bearer ", "a.b.c,", true},
		{"Bearer ,a.b.c", "Bearer ", ",a.b.c", true},
		{"Bearer ,", "Bearer ", ",", true},
		{"Bearer\tabc", "Bearer ", "", false},
		{"Basic abc", "Bearer ", "", false},
		{"Basic abc, Bearer a.b.c", "Bearer ", "", false},
		{"Bearer ", "Bearer ", "", false},
		{"Bearer  \t ", "Bearer ", "", false},
		{"Bear", "Bearer ", "", false},
		{"  tok  ", "", "tok", false},
		{"tok", "", "tok", false},
		{"tok other", "", "tok other", true},
		{"tok,tok", "", "tok,tok", true},
	}
	for _, c := range cases {
		got, bad := headerToken(c.v, c.prefix)
		if got != c.want || bad != c.malformed {
			t.Errorf("headerToken(%q, %q) = %q, %v; want %q, %v", c.v, c.prefix, got, bad, c.want, c.malformed)
		}
	}
}

// repeat gives n copies of a header name/value pair, for req.
func repeat(name, value string, n int) []string {
	var kv []string
	for range n {
		kv = append(kv, name, value)
	}
	return kv
}
