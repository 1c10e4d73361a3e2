package authz

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

// templateRegexp is Envoy's URI template matcher as a regular expression:
// a {*} segment is one or more path characters but '/', {**} zero or more
// of them including '/', everything else literal. It is the reference the
// compiled templates are checked against.
func templateRegexp(t *testing.T, tmpl string) *regexp.Regexp {
	t.Helper()
	var b strings.Builder
	b.WriteString("^")
	for i, seg := range strings.Split(tmpl, "/") {
		if i > 0 {
			b.WriteString("/")
		}
		switch seg {
		case "{*}":
			b.WriteString("[^/]+")
		case "{**}":
			b.WriteString(".*")
		default:
			b.WriteString(regexp.QuoteMeta(seg))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// TestPathTemplates checks templates against Istio's own examples and
// against the reference regular expression on a set of paths.
func TestPathTemplates(t *testing.T) {
	templates := []string{
		"/foo/{*}", "/foo/{**}", "/foo/{**}/", "/foo/{*}/bar/{**}", "/{**}", "/{*}",
		"/{*}/{*}", "/api/{*}/users/{*}/orders", "/{**}/index.html", "/a/{**}/b/c",
	}
	paths := []string{
		"/", "/foo", "/foo/", "/foo/bar", "/foo/bar/", "/foo/bar/baz", "/foo/bar/baz.txt",
		"/foo/buzz/bar/", "/foo/buzz/bar/baz", "/api/1/users/2/orders", "/api/1/users//orders",
		"/api/1/users/2/orders/x", "/index.html", "/x/index.html", "/a/b/c", "/a/x/y/b/c", "/a/b/cc",
	}
	for _, tmpl := range templates {
		re := templateRegexp(t, tmpl)
		pt, err := compileTemplate(tmpl)
		if err != nil {
			t.Fatalf("%q: %v", tmpl, err)
		}
		for _, p := range paths {
			if got, want := pt.match(p), re.MatchString(p); got != want {
				t.Errorf("template %q on %q: %v, want %v", tmpl, p, got, want)
			}
		}
	}
	// Istio's documented examples.
	for _, tc := range []struct {
		tmpl, path string
		want       bool
	}{
		{"/foo/{*}", "/foo/bar", true},
		{"/foo/{*}", "/foo/bar/baz", false},
		{"/foo/{**}/", "/foo/bar/", true},
		{"/foo/{**}/", "/foo/bar", false},
		{"/foo/{*}/bar/{**}", "/foo/buzz/bar/", true},
		{"/foo/{*}/bar/{**}", "/foo/buzz/bar/baz", true},
		// Literal segments are normalized like other path patterns.
		{"/caf%c3%a9/{*}", "/caf%C3%A9/menu", true},
		{"/%61pi/{**}", "/api/x", true},
	} {
		pt, err := compileTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("%q: %v", tc.tmpl, err)
		}
		if got := pt.match(tc.path); got != tc.want {
			t.Errorf("template %q on %q: %v, want %v", tc.tmpl, tc.path, got, tc.want)
		}
	}
	for _, bad := range []string{
		"/*/baz/{*}", "/**/baz/{*}", "/{**}/foo/{*}", "/foo/{*}.txt", "/{**}/{**}",
		"foo/{*}", "/a//{*}", "/./{*}", "/a/{*}?x", "/{*}/%zz",
	} {
		if _, err := compilePathPattern(bad); err == nil {
			t.Errorf("compilePathPattern(%q) succeeded", bad)
		}
	}
}

// TestClientAddr: the original client is the N-th address from the right
// of X-Forwarded-For behind N trusted proxies, across header lines, and
// the direct peer otherwise.
func TestClientAddr(t *testing.T) {
	peer := netip.MustParseAddr("10.0.0.1")
	for _, tc := range []struct {
		name    string
		xff     []string
		trusted int
		want    string
	}{
		{"no trusted proxies", []string{"203.0.113.7"}, 0, "10.0.0.1"},
		{"negative", []string{"203.0.113.7"}, -1, "10.0.0.1"},
		{"one proxy", []string{"198.51.100.1, 203.0.113.7"}, 1, "203.0.113.7"},
		{"two proxies", []string{"198.51.100.1, 203.0.113.7"}, 2, "198.51.100.1"},
		{"across lines", []string{"198.51.100.1", "203.0.113.7,192.0.2.2"}, 3, "198.51.100.1"},
		{"too few", []string{"203.0.113.7"}, 2, "10.0.0.1"},
		{"no header", nil, 1, "10.0.0.1"},
		{"not an address", []string{"evil, unknown"}, 1, "10.0.0.1"},
		{"spaces", []string{"  2001:db8::1  "}, 1, "2001:db8::1"},
		{"mapped", []string{"::ffff:192.0.2.9"}, 1, "192.0.2.9"},
		{"zone dropped", []string{"fe80::1%eth0"}, 1, "fe80::1"},
		{"empty entry counts", []string{"192.0.2.1,,"}, 2, "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClientAddr(peer, tc.xff, tc.trusted); got != netip.MustParseAddr(tc.want) {
				t.Errorf("ClientAddr = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestClaimPathSyntax: one syntax, model.ParseClaimPath, for dotted and
// bracketed names.
func TestClaimPathSyntax(t *testing.T) {
	claims := map[string]any{
		"kubernetes.io": map[string]any{"namespace": "prod", "pod": map[string]any{"name": "p1"}},
		"a.b":           "top",
		"a":             map[string]any{"b": "nested"},
		"x":             map[string]any{"y.z": "dotted-inner"},
	}
	for _, tc := range []struct {
		name string
		want any
	}{
		{"a.b", "top"},
		{"[a][b]", "nested"},
		{"a[b]", "nested"},
		{"[kubernetes.io][namespace]", "prod"},
		{"[kubernetes.io].pod.name", "p1"},
		{"x[y.z]", "dotted-inner"},
		{"[a.b]", "top"},
		{"kubernetes.io.namespace", nil},
	} {
		cp, err := compileClaimPath(tc.name, nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.name, err)
		}
		got, ok := cp.lookup(claims)
		if (tc.want == nil) == ok || (ok && got != tc.want) {
			t.Errorf("%q: got %v %v, want %v", tc.name, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"", "a..b", "[a", "a]", "[]", "[a]b", "a.", "[a[b]]", ".a"} {
		if _, err := model.ParseClaimPath(bad); err == nil {
			t.Errorf("ParseClaimPath(%q) succeeded", bad)
		}
	}
}
