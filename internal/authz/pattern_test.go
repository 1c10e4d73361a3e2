package authz

import (
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// wantPatternMatch is the reference semantics of a valid pattern.
func wantPatternMatch(pat, in string, fold bool) bool {
	if in == "" {
		return false // an absent value matches nothing
	}
	if fold {
		pat, in = asciiLower(pat), asciiLower(in)
	}
	switch {
	case pat == "*":
		return true
	case strings.HasPrefix(pat, "*"):
		return strings.HasSuffix(in, pat[1:])
	case strings.HasSuffix(pat, "*"):
		return strings.HasPrefix(in, pat[:len(pat)-1])
	}
	return in == pat
}

func seedPatterns(f *testing.F) {
	for _, s := range [][2]string{
		{"*", "/"}, {"/v1/*", "/v1/x"}, {"/v1/*", "/v1"}, {"*.php", "/a.php"}, {"/exact", "/exact"},
		{"/exact", "/exact/"}, {"*.example.com", "API.Example.com"}, {"api.*", "api.example.com"},
		{"Example.COM", "example.com"}, {"/a/*/b", "/a/x/b"}, {"**", "x"}, {"", ""}, {"*", ""},
		{"/{**}", "/x"}, {"k", "\u212a"}, {"[::1]:80", "[::1]"}, {"example.com.", "example.com"},
		{"[::1]", "::1"}, {"*.", "a."}, {".", "."},
	} {
		f.Add(s[0], s[1])
	}
}

func FuzzPathPattern(f *testing.F) {
	seedPatterns(f)
	f.Fuzz(func(t *testing.T, pat, in string) {
		p, err := compilePathPattern(pat)
		if err != nil {
			return
		}
		got := p.match(in)
		if norm, _ := normalizePathPattern(pat); norm != pat {
			return // rewritten to the normalized form: TestPathPatternForms
		}
		if want := wantPatternMatch(pat, in, false); got != want {
			t.Fatalf("pattern %q on %q: got %v, want %v", pat, in, got, want)
		}
		if !strings.Contains(pat, "*") && got != (in == pat) {
			t.Fatalf("exact pattern %q on %q: got %v", pat, in, got)
		}
		// The same through Compile and Evaluate.
		e, err := Compile([]model.Policy{allowP("p", toRule(model.To{Paths: []string{pat}}))})
		if err != nil {
			t.Fatalf("Compile: %v", err)
		}
		r := anon()
		r.Path = in
		if d := e.Evaluate(r); d.Allowed != got {
			t.Fatalf("Evaluate on %q: %s, match %v", in, d, got)
		}
	})
}

func FuzzHostPattern(f *testing.F) {
	seedPatterns(f)
	f.Fuzz(func(t *testing.T, pat, in string) {
		p, err := compileHostPattern(pat)
		if err != nil {
			return
		}
		got := p.match(in)
		// Reference form of the pattern: IPv6 brackets and a trailing dot
		// (not one right after '*') are not part of the host compared.
		ref := pat
		if len(ref) > 2 && ref[0] == '[' && ref[len(ref)-1] == ']' {
			ref = ref[1 : len(ref)-1]
		}
		if strings.HasSuffix(ref, ".") && len(ref) > 1 && !strings.HasSuffix(ref, "*.") {
			ref = ref[:len(ref)-1]
		}
		if hostHasPort(pat) {
			// "host:PORT" also needs the port; checked below through Evaluate.
		} else if want := wantPatternMatch(ref, in, true); got != want {
			t.Fatalf("host pattern %q on %q: got %v, want %v", pat, in, got, want)
		}
		if !strings.Contains(pat, "*") && !hostHasPort(pat) && got != (in != "" && asciiLower(in) == asciiLower(ref)) {
			t.Fatalf("exact host pattern %q on %q: got %v", pat, in, got)
		}
		e, err := Compile([]model.Policy{denyP("p", toRule(model.To{Hosts: []string{pat}}))})
		if err != nil {
			t.Fatalf("Compile: %v", err)
		}
		r := anon()
		r.Host = in
		_ = e.Evaluate(r) // must not panic (the request host may carry a port)
	})
}

func TestPatternErrors(t *testing.T) {
	for _, v := range []string{"", "**", "a*b", "*a*", "*.example.*"} {
		if _, err := compilePattern(v); err == nil {
			t.Errorf("compilePattern(%q) succeeded", v)
		}
	}
	for _, v := range []string{"example.com:http", "[::1]:0", "*:", "a*b:80", ":80"} {
		if _, err := compileHostPattern(v); err == nil {
			t.Errorf("compileHostPattern(%q) succeeded", v)
		}
	}
	for _, v := range []string{"::1", "[::1]", "2001:db8::1", "*.example.com", "example.com:80", "[::1]:443", "*:80", "example.*:*"} {
		if _, err := compileHostPattern(v); err != nil {
			t.Errorf("compileHostPattern(%q): %v", v, err)
		}
	}
}

// TestPathPatternForms: a path pattern is compared in the form of a
// normalized request path, so that a pattern written with raw non-ASCII
// bytes, lower-case or needless escapes, or doubled slashes still matches
// the paths it names; patterns that could never match are errors.
func TestPathPatternForms(t *testing.T) {
	for _, tc := range []struct {
		pat, path string
		want      bool
	}{
		{"/café/*", "/caf%C3%A9/menu", true},
		{"/caf%c3%a9", "/caf%C3%A9", true},
		{"/a%3fb", "/a%3Fb", true},
		{"/%61dmin/*", "/admin/x", true},
		{"//admin", "/admin", true},
		{"/a b", "/a%20b", true},
		{"*.PHP", "/x.PHP", true},
		{"*.php", "/x.PHP", false},
		{"/v1/*", "/v1/x", true},
		{"*", "/", true},
	} {
		e, err := Compile([]model.Policy{denyP("d", toRule(model.To{Paths: []string{tc.pat}}))})
		if err != nil {
			t.Fatalf("%q: %v", tc.pat, err)
		}
		r := anon()
		r.Path = tc.path
		if d := e.Evaluate(r); d.Allowed == tc.want {
			t.Errorf("paths [%q] on %q: %s, want match %v", tc.pat, tc.path, d, tc.want)
		}
	}
	for _, v := range []string{"api/*", "admin", "/a?b", "/a#b", "/50%", "/%zz", "/%4"} {
		if _, err := compilePathPattern(v); err == nil {
			t.Errorf("compilePathPattern(%q) succeeded", v)
		}
	}
}

// TestHostForms: a host pattern and a request host are compared without
// the port, IPv6 brackets or a trailing dot, so that "example.com." or
// "[::1]" in a DENY rule is not a pattern that silently never matches.
func TestHostForms(t *testing.T) {
	for _, tc := range []struct {
		pat, host string
		want      bool
	}{
		{"admin.example.com.", "admin.example.com", true},
		{"admin.example.com", "admin.example.com.", true},
		{"admin.example.com.", "ADMIN.example.com.:8443", true},
		{"*.example.com.", "a.example.com", true},
		{"[::1]", "::1", true},
		{"[::1]", "[::1]:8443", true},
		{"::1", "[::1]", true},
		{"[::1]:8443", "::1", true},
		{"*.", "example.com", false},
		{"*", "example.com.", true},
	} {
		e, err := Compile([]model.Policy{denyP("d", toRule(model.To{Hosts: []string{tc.pat}}))})
		if err != nil {
			t.Fatal(err)
		}
		r := anon()
		r.Host = tc.host
		if d := e.Evaluate(r); d.Allowed == tc.want {
			t.Errorf("hosts [%q] on %q: %s, want match %v", tc.pat, tc.host, d, tc.want)
		}
	}
}

func TestStripPort(t *testing.T) {
	for in, want := range map[string]string{
		"example.com": "example.com", "example.com:80": "example.com", "[::1]:443": "[::1]",
		"[::1]": "[::1]", "::1": "::1", "": "",
	} {
		if got := stripPort(in); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", in, got, want)
		}
	}
}
