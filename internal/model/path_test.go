package model

import (
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in, want string // want "" means rejected
	}{
		{"/", "/"},
		{"/headers", "/headers"},
		{"/a/b/c", "/a/b/c"},
		{"/a/b?x=1", "/a/b"},
		{"/a/b#frag", "/a/b"},
		{"/a/./b", "/a/b"},
		{"/a/../b", "/b"},
		{"/a/b/..", "/a/"},
		{"/a/b/.", "/a/b/"},
		{"/..", "/"},
		{"/../../etc/passwd", "/etc/passwd"},
		{"/a/%2e%2e/b", "/b"},
		{"/a/%2E/b", "/a/b"},
		{"/a/.%2E/b", "/b"},
		{"/%41%42c", "/ABc"},
		{"/%7e%5F%2D", "/~_-"},
		{"/a%3fb", "/a%3Fb"},
		{"/a%3Fb", "/a%3Fb"},
		{"/a%20b", "/a%20b"},
		{"/a b", "/a%20b"},
		{"/a\"b", "/a%22b"},
		{"/caf\xc3\xa9", "/caf%C3%A9"},
		{"/a//b", "/a/b"},
		{"//admin", "/admin"},
		{"///a///b//", "/a/b/"},
		{"/a/.//./b", "/a/b"},
		{"/a//../b", "/b"}, // slashes merge first, as path.Clean does
		{"/a/..b/c", "/a/..b/c"},
		{"/a/.b", "/a/.b"},
		{"/a/b.", "/a/b."},
		{"/:@!$&'()*+,;=", "/:@!$&'()*+,;="},
		{"/productpage", "/productpage"},
		// Rejected.
		{"", ""},
		{"a/b", ""},
		{"*", ""},
		{"?x", ""},
		{"/a%2Fb", ""},
		{"/a%2fb", ""},
		{"/a%5Cb", ""},
		{"/a%5cb", ""},
		{"/a\\b", ""},
		{"/a%00b", ""},
		{"/a\x00b", ""},
		{"/a%", ""},
		{"/a%4", ""},
		{"/a%zz", ""},
		{"/a%%41", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizePath(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("NormalizePath(%q) = %q, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			again, err := NormalizePath(got)
			if err != nil || again != got {
				t.Fatalf("not idempotent: NormalizePath(%q) = %q, %v", got, again, err)
			}
		})
	}
}

func TestNormalizePathNoAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := NormalizePath("/api/v1/products/1%20x"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("normalized path allocates %v times", allocs)
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/%2e%2E/x", "/a%2Fb", "/a/./b/", "//..//.", "/%41%zz", "/a?b", "/\x00", "/é/%c3%a9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizePath(in)
		if err != nil {
			return
		}
		if !strings.HasPrefix(out, "/") {
			t.Fatalf("NormalizePath(%q) = %q: no leading slash", in, out)
		}
		for _, bad := range []string{"//", "/./", "/../", "%2F", "%2f", "%5C", "%5c", "\\", "\x00", "?", "#"} {
			if strings.Contains(out, bad) {
				t.Fatalf("NormalizePath(%q) = %q contains %q", in, out, bad)
			}
		}
		if strings.HasSuffix(out, "/.") || strings.HasSuffix(out, "/..") {
			t.Fatalf("NormalizePath(%q) = %q ends in a dot segment", in, out)
		}
		again, err := NormalizePath(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: NormalizePath(%q) = %q; again %q, %v", in, out, again, err)
		}
	})
}
