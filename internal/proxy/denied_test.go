package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"jwtgate.dev/jwtgate/internal/metrics"
	"jwtgate.dev/jwtgate/internal/model"
)

// TestDeniedLogRing: the log keeps the last Capacity entries, newest
// first, and counts every one; concurrent adds are safe.
func TestDeniedLogRing(t *testing.T) {
	for _, tc := range []struct{ capacity, add, want int }{
		{0, 450, DefaultDeniedCapacity},
		{3, 2, 2},
		{3, 3, 3},
		{3, 7, 3},
		{1, 5, 1},
	} {
		t.Run(fmt.Sprintf("cap %d add %d", tc.capacity, tc.add), func(t *testing.T) {
			l := NewDeniedLog(tc.capacity, false)
			for i := range tc.add {
				l.Add(DeniedRequest{Path: "/" + strconv.Itoa(i)})
			}
			got, total := l.Recent()
			if len(got) != tc.want || total != uint64(tc.add) {
				t.Fatalf("kept %d of %d, want %d of %d", len(got), total, tc.want, tc.add)
			}
			for i, e := range got {
				if want := "/" + strconv.Itoa(tc.add-1-i); e.Path != want {
					t.Errorf("entry %d is %s, want %s (newest first)", i, e.Path, want)
				}
			}
		})
	}
	l := NewDeniedLog(0, false)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				l.Add(DeniedRequest{Status: 401})
				l.Recent()
			}
		})
	}
	wg.Wait()
	if got, total := l.Recent(); len(got) != 200 || total != 800 {
		t.Errorf("kept %d of %d", len(got), total)
	}
}

// TestDeniedFromPipeline: the gateway's own 4xx answers are logged with
// their route, reason, policy and rule, without the token, the query or
// (unless asked) claim values; requests it lets through, its upstream's
// own 403, and its 5xx are not.
func TestDeniedFromPipeline(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/forbidden") {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		echoHandler(w, r)
	}))
	t.Cleanup(up.Close)
	token := readTestdata(t, "seed004.jwt")
	parts := strings.Split(token, ".")
	forged := parts[0] + "." + parts[1] + ".AAAA" + parts[2][4:]
	www := map[string]string{"Host": "www.example.com"}
	bearer := func(tok string) map[string]string {
		return map[string]string{"Host": "www.example.com", "Authorization": "Bearer " + tok}
	}
	for _, claims := range []bool{false, true} {
		t.Run(fmt.Sprintf("claims %v", claims), func(t *testing.T) {
			cfg := seed004Config(t, up.URL)
			cfg.Policies = []model.Policy{{Name: "no-admin", Action: model.ActionDeny, Routes: []string{"httpbin"},
				Rules: []model.Rule{{To: []model.To{{Paths: []string{"/admin"}}}}}}}
			denied := NewDeniedLog(0, claims)
			h := build(t, cfg, Options{Denied: denied}).Handler("http")
			steps := []struct {
				target string
				hdr    map[string]string
				status int
			}{
				{"/headers", www, 401},
				{"/headers?access_token=" + forged, www, 401},
				{"/headers", bearer(forged), 401},
				{"/admin?q=" + token, bearer(token), 403},
				{"/headers", bearer(token), 200},
				{"/open/forbidden", nil, 403},
				{"/t/" + token, map[string]string{"Host": "nowhere.example"}, 404},
				{"/a;x=1", www, 400},
			}
			for _, s := range steps {
				if res := do(t, h, http.MethodGet, "http://www.example.com"+s.target, s.hdr); res.status != s.status {
					t.Fatalf("%s: status %d, want %d", s.target, res.status, s.status)
				}
			}
			got, total := denied.Recent()
			if total != 6 {
				t.Fatalf("logged %d, want 6: %+v", total, got)
			}
			want := []DeniedRequest{
				{Listener: "http", Route: "", Method: "GET", Host: "www.example.com", Status: 400, Authn: "none"},
				{Listener: "http", Route: "", Method: "GET", Host: "nowhere.example", Path: "/t/" + RedactedToken, Status: 404, Authn: "none", Reason: "no route"},
				{Listener: "http", Route: "httpbin", Method: "GET", Host: "www.example.com", Path: "/admin", Status: 403, Authn: "verified", Reason: bodyDenied, Policy: "no-admin", Rule: "rules[0]"},
				{Listener: "http", Route: "httpbin", Method: "GET", Host: "www.example.com", Path: "/headers", Status: 401, Authn: "invalid", Reason: "Jwt verification fails", Detail: "signature does not verify"},
				{Listener: "http", Route: "httpbin", Method: "GET", Host: "www.example.com", Path: "/headers", Status: 401, Authn: "invalid", Reason: "Jwt verification fails", Detail: "signature does not verify"},
				{Listener: "http", Route: "httpbin", Method: "GET", Host: "www.example.com", Path: "/headers", Status: 401, Authn: "missing", Reason: "Jwt is missing", Detail: "no token found"},
			}
			if claims {
				want[2].Issuer, want[2].Subject = "solo.io", "alice"
			}
			for i, w := range want {
				g := got[i]
				if g.Time.IsZero() {
					t.Errorf("entry %d has no time", i)
				}
				g.Time = w.Time
				if i == 0 { // the refused path's reason names its class
					if !strings.HasPrefix(g.Reason, "path refused") {
						t.Errorf("entry 0 reason %q", g.Reason)
					}
					g.Reason, g.Path = "", ""
				}
				if g != w {
					t.Errorf("entry %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
			all := fmt.Sprintf("%+v", got)
			for _, secret := range []string{parts[1], parts[2], forged[len(forged)-20:], "access_token", "q="} {
				if strings.Contains(all, secret) {
					t.Errorf("the log holds %q: %s", secret, all)
				}
			}
		})
	}
}

// TestDeniedAllocs: keeping a denied request allocates nothing more than
// answering it (the entry is copied into the ring by value).
func TestDeniedAllocs(t *testing.T) {
	cfg := seed004Config(t, "http://127.0.0.1:1")
	cfg.Policies = []model.Policy{{Name: "no-admin", Action: model.ActionDeny, Routes: []string{"open"}, Rules: []model.Rule{{To: []model.To{{Paths: []string{"/open/admin"}}}}}}}
	measure := func(denied *DeniedLog, path string) float64 {
		h := build(t, cfg, Options{Metrics: metrics.New(), Denied: denied}).Handler("http")
		u, _ := url.Parse(path)
		r := benchRequest(context.Background(), u, "")
		r.Host = "x"
		w := &discard{h: http.Header{}}
		return testing.AllocsPerRun(100, func() {
			clear(w.h)
			h.ServeHTTP(w, r)
		})
	}
	for _, path := range []string{"/nowhere", "/open/admin"} {
		denied := NewDeniedLog(0, true)
		without, with := measure(nil, path), measure(denied, path)
		if with != without {
			t.Errorf("%s: %v allocations with the denied log, %v without", path, with, without)
		}
		if _, total := denied.Recent(); total < 100 {
			t.Errorf("%s: %d kept", path, total)
		}
	}
}

// TestRedactTokens: JWT-shaped runs of a path are replaced, nothing else.
func TestRedactTokens(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/headers", "/headers"},
		{"/eyJ", "/eyJ"},
		{"/eyJhbGciOi.eyJzdWIi.sig", "/" + RedactedToken},
		{"/cb/eyJa.b.c/next", "/cb/" + RedactedToken + "/next"},
		{"/x/abc_eyJa.b.c", "/x/" + RedactedToken},
		{"/eyJa.b.c.d.e/eyJa.b", "/" + RedactedToken + "/eyJa.b"},
		{"/a.b.c", "/a.b.c"},
		{"/t;eyJa.b.c;eyJd.e.f", "/t;" + RedactedToken + ";" + RedactedToken},
		{"", ""},
	}
	for _, tc := range tests {
		if got := redactTokens(tc.in); got != tc.want {
			t.Errorf("redactTokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = redactTokens("/api/v1/items/123") }); n != 0 {
		t.Errorf("a path without a token allocates %v times", n)
	}
}

// FuzzRedactTokens: no JWT-shaped run survives, and a path without
// "eyJ" is unchanged.
func FuzzRedactTokens(f *testing.F) {
	f.Add("/eyJhbGciOi.eyJzdWIi.sig")
	f.Add("/a/eyJ.eyJ..x/b")
	f.Fuzz(func(t *testing.T, p string) {
		got := redactTokens(p)
		if !strings.Contains(p, "eyJ") && got != p {
			t.Fatalf("%q changed to %q", p, got)
		}
		for _, run := range strings.FieldsFunc(got, func(r rune) bool { return r > 0x7f || !isTokenByte(byte(r)) }) {
			if strings.Count(run, ".") >= 2 && strings.Contains(run, "eyJ") {
				t.Fatalf("%q left the token %q", p, run)
			}
		}
	})
}
