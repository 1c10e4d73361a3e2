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
		{"/{**}", "/x"}, {"k", "\u212a"}, {"[::1]:80", "[::1]"},
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
		if hostHasPort(pat) {
			// "host:PORT" also needs the port; checked below through Evaluate.
		} else if want := wantPatternMatch(pat, in, true); got != want {
			t.Fatalf("host pattern %q on %q: got %v, want %v", pat, in, got, want)
		}
		if !strings.Contains(pat, "*") && !hostHasPort(pat) && got != (in != "" && asciiLower(in) == asciiLower(pat)) {
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
