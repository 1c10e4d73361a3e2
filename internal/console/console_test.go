package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/console"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// hostile is a name an attacker (or a careless operator) could put in a
// configuration or a request: it must come out as text, never markup.
const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>`

// escaped is how hostile reads once escaped by html/template.
const escaped = `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;`

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// state is a configuration with a hostile name in every place the
// console shows one.
func state() console.State {
	return console.State{
		Version:   "0123456789abcdef0123",
		LoadedAt:  now.Add(-90 * time.Second),
		Files:     []string{"/etc/jwtgate/" + hostile + ".yaml"},
		Warnings:  []string{"warning " + hostile},
		Listeners: []console.Listener{{Name: "web" + hostile, Address: "127.0.0.1:8080", Bound: "127.0.0.1:8080"}, {Name: "out", Address: "127.0.0.1:3128", Egress: true, TLS: true}},
		Routes: []proxy.RouteExplanation{{Route: "route" + hostile, Listener: "web", Match: "paths=exact:/" + hostile, Backend: "http://127.0.0.1:8000",
			JWT:      &proxy.JWTExplanation{Providers: []string{"idp" + hostile}, Mode: model.AuthRequired, Phase: "authn", From: "route"},
			Policies: []string{"ALLOW policy" + hostile}}},
		Resources: []model.Status{{Ref: model.Ref{APIVersion: "jwtgate.dev/v1alpha1", Kind: "Config", Namespace: "ns", Name: "res" + hostile}, File: "gw.yaml", Line: 3,
			Conditions: []model.StatusCondition{{Type: "Accepted", Status: "False", Reason: "Invalid", Message: "bad " + hostile}}}},
		Providers: []console.Provider{
			{Name: "remote" + hostile, KeySet: authn.KeySetState{Remote: true, URI: "https://idp.example/jwks?x=" + hostile,
				Keys:     []authn.KeyInfo{{Kid: "kid-" + hostile, Alg: "RS256", Type: "RSA"}, {Kid: "", Type: "EC", Curve: "P-256"}},
				LoadedAt: now.Add(-75 * time.Second), LastFetch: now.Add(-5 * time.Second), LastError: "fetching jwks: status 503 " + hostile,
				LastErrorAt: now.Add(-5 * time.Second), Fetches: 3, Failures: 1, SharedWith: []string{"other" + hostile}}},
			{Name: "pending", KeySet: authn.KeySetState{Remote: true, Issuer: "https://issuer.example"}},
			{Name: "local", KeySet: authn.KeySetState{LoadedAt: now.Add(-time.Hour), Keys: []authn.KeyInfo{{Kid: "docs", Type: "OKP"}}}},
		},
	}
}

// recordingExplainer remembers its last input and answers with report.
type recordingExplainer struct {
	mu     sync.Mutex
	last   console.ExplainInput
	calls  int
	report string
	err    error
}

func (e *recordingExplainer) Explain(_ context.Context, in console.ExplainInput) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last, e.calls = in, e.calls+1
	return e.report, e.err
}

func newConsole(t *testing.T, denied *proxy.DeniedLog, ex console.Explainer) *httptest.Server {
	t.Helper()
	h := console.New(console.Options{State: state, Denied: denied, Explainer: ex, Now: func() time.Time { return now }})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

type result struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, req *http.Request) result {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{res.StatusCode, res.Header, string(b)}
}

func request(t *testing.T, method, u string, body io.Reader, hdr map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	return send(t, req)
}

// postForm posts the explain form as a browser on the console's own
// page would.
func postForm(t *testing.T, base string, form url.Values, hdr map[string]string) result {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": base, "Sec-Fetch-Site": "same-origin"}
	for k, v := range hdr {
		if v == "" {
			delete(h, k)
			continue
		}
		h[k] = v
	}
	return request(t, http.MethodPost, base+console.PathExplain, strings.NewReader(form.Encode()), h)
}

// TestPages: every page answers 200 with HTML that shows what it is for,
// every name escaped, with the security headers.
func TestPages(t *testing.T) {
	denied := proxy.NewDeniedLog(0, false)
	denied.Add(proxy.DeniedRequest{Time: now, Listener: "web", Route: "r" + hostile, Method: "GET", Host: "h" + hostile, Path: "/p" + hostile,
		Status: 403, Authn: "verified", Reason: proxy.RedactedToken, Policy: "pol" + hostile, Rule: "rule-0"})
	srv := newConsole(t, denied, &recordingExplainer{})
	tests := []struct {
		path string
		want []string
	}{
		{console.PathOverview, []string{"Listeners and routes", "web" + escaped, "127.0.0.1:3128", "egress", "HTTPS", "route" + escaped,
			"paths=exact:/" + escaped, "required idp" + escaped, "ALLOW policy" + escaped, "0123456789ab", "1m30s ago", "warning " + escaped}},
		{console.PathProviders, []string{"remote" + escaped, "kid-" + escaped, "RS256", "EC P-256", "(none)", "(any of its type)",
			"fetching jwks: status 503 " + escaped, "3 succeeded, 1 failed", "shared with", "<code>other" + escaped + "</code>", "1m15s ago", "OIDC discovery from https://issuer.example",
			"no key yet", "local (inline or file)", "2025-06-01T11:59:55Z"}},
		{console.PathResources, []string{"res" + escaped, "gw.yaml:3", "Accepted=False Invalid", "bad " + escaped, "ns/"}},
		{console.PathDenied, []string{"1 requests denied since the gateway started", "the last 200", "r" + escaped, "h" + escaped, "/p" + escaped,
			"pol" + escaped, "rule-0", "403", "nor any claim value"}},
		{console.PathExplain, []string{`<form method="post" action="/console/explain"`, `<option value="web` + escaped, "Peer SPIFFE"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := request(t, http.MethodGet, srv.URL+tc.path, nil, nil)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, body %s", r.status, r.body)
			}
			checkSecurityHeaders(t, r.header)
			if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if strings.Contains(r.body, "<script") || strings.Contains(r.body, "<img") || strings.Contains(r.body, "onerror=alert(1)>") {
				t.Errorf("hostile markup came through unescaped:\n%s", r.body)
			}
			h := request(t, http.MethodHead, srv.URL+tc.path, nil, nil)
			if h.status != http.StatusOK || h.body != "" {
				t.Errorf("HEAD: status %d, body %q", h.status, h.body)
			}
		})
	}
}

func checkSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, w := range []string{"default-src 'none'", "style-src 'sha256-", "form-action 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, w) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, w)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows more than styles", csp)
	}
	want := map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// TestStyleHash: the CSP's style hash is the hash of the one inline
// style sheet, so that a browser applies it (the browser test checks it
// does).
func TestStyleHash(t *testing.T) {
	srv := newConsole(t, nil, nil)
	r := request(t, http.MethodGet, srv.URL+console.PathOverview, nil, nil)
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(r.body, -1)
	if len(m) != 1 {
		t.Fatalf("want one <style>, got %d", len(m))
	}
	sum := sha256.Sum256([]byte(m[0][1]))
	want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src "+want) {
		t.Errorf("CSP %q does not allow the inline style %s", csp, want)
	}
	if strings.Contains(r.body, " style=") {
		t.Error("an inline style attribute would be blocked by the CSP")
	}
}

// TestMethodsAndPaths: pages take GET and HEAD only; explain takes POST
// too; anything else is 405 with Allow; unknown pages are 404.
func TestMethodsAndPaths(t *testing.T) {
	srv := newConsole(t, nil, &recordingExplainer{report: "ok"})
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodPost, console.PathOverview, 405, "GET, HEAD"},
		{http.MethodPut, console.PathProviders, 405, "GET, HEAD"},
		{http.MethodDelete, console.PathResources, 405, "GET, HEAD"},
		{http.MethodPatch, console.PathDenied, 405, "GET, HEAD"},
		{http.MethodPost, console.PathDenied, 405, "GET, HEAD"},
		{http.MethodOptions, console.PathOverview, 405, "GET, HEAD"},
		{http.MethodPut, console.PathExplain, 405, "GET, HEAD, POST"},
		{http.MethodDelete, console.PathExplain, 405, "GET, HEAD, POST"},
		{http.MethodGet, console.Prefix + "nope", 404, ""},
		{http.MethodGet, console.PathDenied + "/", 404, ""},
	}
	for _, tc := range tests {
		r := request(t, tc.method, srv.URL+tc.path, nil, nil)
		if r.status != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, r.status, tc.status)
		}
		if got := r.header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		checkSecurityHeaders(t, r.header)
	}
}

// TestHostCheck: a Host that is neither an IP address nor localhost (a
// DNS rebinding page) is refused; loopback forms are served.
func TestHostCheck(t *testing.T) {
	srv := newConsole(t, nil, nil)
	tests := []struct {
		host   string
		status int
	}{
		{"127.0.0.1:9901", 200},
		{"localhost:9901", 200},
		{"LOCALHOST", 200},
		{"admin.localhost:9901", 200},
		{"[::1]:9901", 200},
		{"10.1.2.3", 200},
		{"evil.example:9901", 421},
		{"evil.example", 421},
		{"localhost.evil.example", 421},
	}
	for _, tc := range tests {
		r := request(t, http.MethodGet, srv.URL+console.PathOverview, nil, map[string]string{"Host": tc.host})
		if r.status != tc.status {
			t.Errorf("Host %q: status %d, want %d", tc.host, r.status, tc.status)
		}
	}
}

// TestExplainPost: the form's fields reach the explainer, the report is
// shown escaped, and the form is refilled.
func TestExplainPost(t *testing.T) {
	ex := &recordingExplainer{report: "route: api\nverdict: 401 " + hostile}
	srv := newConsole(t, nil, ex)
	form := url.Values{
		"listener":    {"web"},
		"method":      {"post"},
		"url":         {"https://www.example.com/productpage?x=1"},
		"headers":     {"Authorization: Bearer abc.def.ghi\r\nX-Team: dev\n\nx-team: ops\n"},
		"peer_spiffe": {"spiffe://cluster.local/ns/default/sa/sleep"},
		"remote_addr": {"10.0.0.7:40000"},
	}
	r := postForm(t, srv.URL, form, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	checkSecurityHeaders(t, r.header)
	got := ex.last
	want := console.ExplainInput{Listener: "web", Method: "POST", URL: "https://www.example.com/productpage?x=1",
		PeerSPIFFE: "spiffe://cluster.local/ns/default/sa/sleep", RemoteAddr: "10.0.0.7:40000"}
	if got.Listener != want.Listener || got.Method != want.Method || got.URL != want.URL || got.PeerSPIFFE != want.PeerSPIFFE || got.RemoteAddr != want.RemoteAddr {
		t.Errorf("explainer got %+v, want %+v", got, want)
	}
	if v := got.Header.Values("X-Team"); len(v) != 2 || v[0] != "dev" || v[1] != "ops" {
		t.Errorf("X-Team values %q", v)
	}
	if v := got.Header.Get("Authorization"); v != "Bearer abc.def.ghi" {
		t.Errorf("Authorization %q", v)
	}
	for _, w := range []string{`<pre id="report">route: api` + "\nverdict: 401 " + escaped, `value="https://www.example.com/productpage?x=1"`,
		`<option value="web` + escaped + `"`} {
		if !strings.Contains(r.body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if strings.Contains(r.body, "<script") {
		t.Error("report not escaped")
	}
}

// TestExplainRefused: cross-origin POSTs, bad forms and oversized bodies
// never reach the explainer.
func TestExplainRefused(t *testing.T) {
	ex := &recordingExplainer{report: "x"}
	srv := newConsole(t, nil, ex)
	good := url.Values{"method": {"GET"}, "url": {"http://a/"}}
	tests := []struct {
		name   string
		form   url.Values
		hdr    map[string]string
		status int
		body   string
	}{
		{"cross-site fetch", good, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403, "cross-origin request refused"},
		{"same-site but other origin", good, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"}, 403, "cross-origin"},
		{"other Origin without Sec-Fetch-Site", good, map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"}, 403, "cross-origin"},
		{"no URL", url.Values{"method": {"GET"}}, nil, 400, "the URL is required"},
		{"bad method", url.Values{"method": {"GE T"}, "url": {"http://a/"}}, nil, 400, "is not an HTTP method"},
		{"header without colon", url.Values{"url": {"http://a/"}, "headers": {"Authorization Bearer x"}}, nil, 400, "header line 1 has no colon"},
		{"bad header name", url.Values{"url": {"http://a/"}, "headers": {"\n<x>: y"}}, nil, 400, "header line 2: &#34;&lt;x&gt;&#34; is not a header name"},
		{"too large", url.Values{"url": {"http://a/"}, "headers": {"X: " + strings.Repeat("a", 70<<10)}}, nil, 413, "form larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := postForm(t, srv.URL, tc.form, tc.hdr)
			if r.status != tc.status || !strings.Contains(r.body, tc.body) {
				t.Errorf("status %d body %q; want %d with %q", r.status, r.body, tc.status, tc.body)
			}
		})
	}
	if ex.calls != 0 {
		t.Errorf("the explainer ran %d times", ex.calls)
	}
	// A non-browser client (no Origin, no Sec-Fetch-Site) may post.
	r := postForm(t, srv.URL, good, map[string]string{"Origin": "", "Sec-Fetch-Site": ""})
	if r.status != 200 || ex.calls != 1 {
		t.Errorf("curl-style POST: status %d, calls %d", r.status, ex.calls)
	}
}

// TestExplainErrors: an explainer's error is shown; without one the page
// says explain is unavailable.
func TestExplainErrors(t *testing.T) {
	srv := newConsole(t, nil, &recordingExplainer{err: errors.New("no listener " + hostile)})
	r := postForm(t, srv.URL, url.Values{"url": {"http://a/"}}, nil)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `<p class="error" id="error">no listener `+escaped) {
		t.Errorf("status %d body %s", r.status, r.body)
	}
	none := newConsole(t, nil, nil)
	if r := request(t, http.MethodGet, none.URL+console.PathExplain, nil, nil); !strings.Contains(r.body, `id="unavailable"`) {
		t.Errorf("GET without explainer: %s", r.body)
	}
	if r := postForm(t, none.URL, url.Values{"url": {"http://a/"}}, nil); r.status != http.StatusNotImplemented {
		t.Errorf("POST without explainer: status %d", r.status)
	}
}

// TestDeniedClaims: iss and sub show only when the log keeps claims; a
// log that does not keep them drops what it is given.
func TestDeniedClaims(t *testing.T) {
	e := proxy.DeniedRequest{Time: now, Listener: "web", Route: "api", Method: "GET", Host: "h", Path: "/admin", Status: 403,
		Authn: "verified", Reason: "RBAC: access denied", Policy: "no-admin", Issuer: "https://issuer.example", Subject: "alice-secret-subject"}
	for _, claims := range []bool{false, true} {
		l := proxy.NewDeniedLog(0, claims)
		l.Add(e)
		r := request(t, http.MethodGet, newConsole(t, l, nil).URL+console.PathDenied, nil, nil)
		shown := strings.Contains(r.body, "alice-secret-subject") && strings.Contains(r.body, "<th>subject</th>")
		if shown != claims {
			t.Errorf("claims %v: subject shown %v", claims, shown)
		}
		if got, _ := l.Recent(); (got[0].Subject != "") != claims {
			t.Errorf("claims %v: log kept subject %q", claims, got[0].Subject)
		}
	}
	r := request(t, http.MethodGet, newConsole(t, nil, nil).URL+console.PathDenied, nil, nil)
	if !strings.Contains(r.body, "keeps no denied requests") {
		t.Errorf("without a log: %s", r.body)
	}
}

// TestParseHeaders: the explain form's header lines.
func TestParseHeaders(t *testing.T) {
	tests := []struct {
		in   string
		want http.Header
		err  string
	}{
		{"", http.Header{}, ""},
		{"A: 1\r\n\r\nb:2\n a : 3 ", http.Header{"A": {"1", "3"}, "B": {"2"}}, ""},
		{"Authorization: Bearer x:y", http.Header{"Authorization": {"Bearer x:y"}}, ""},
		{"X-Empty:", http.Header{"X-Empty": {""}}, ""},
		{"novalue", nil, "no colon"},
		{": v", nil, "is not a header name"},
		{"a b: v", nil, "is not a header name"},
		{"a: v\x00w", nil, "control character"},
		{strings.Repeat("a: b\n", 101), nil, "more than 100 headers"},
	}
	for _, tc := range tests {
		got, err := console.ParseHeaders(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q: got %v, want %v", tc.in, got, tc.want)
		}
		for k, v := range tc.want {
			if strings.Join(got[k], "|") != strings.Join(v, "|") {
				t.Errorf("%q: %s = %q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

// FuzzParseHeaders: any text either fails or gives at most 100 headers
// with valid names and values without control characters.
func FuzzParseHeaders(f *testing.F) {
	f.Add("Authorization: Bearer a.b.c\nX-Team: dev")
	f.Add("a:\r\n:b\n\n\x00")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := console.ParseHeaders(s)
		if err != nil {
			return
		}
		n := 0
		for k, vs := range h {
			if k == "" || strings.ContainsAny(k, " \t\r\n:") {
				t.Fatalf("bad name %q", k)
			}
			for _, v := range vs {
				n++
				for _, c := range []byte(v) {
					if c < 0x20 && c != '\t' || c == 0x7f {
						t.Fatalf("control character in %q", v)
					}
				}
			}
		}
		if n > 100 {
			t.Fatalf("%d headers", n)
		}
	})
}
