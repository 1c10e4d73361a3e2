package model

import (
	"errors"
	"fmt"
	"regexp"
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
	for _, s := range []string{"/", "/a/../b", "/%2e%2E/x", "/a%2Fb", "/a/./b/", "//..//.", "/%41%zz", "/a?b", "/\x00", "/é/%c3%a9", "/..;/x", "/%252e", "/a%20/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		// The request form, with every class refused: the same result or
		// a refusal, and nothing refused in what it accepts.
		checkRequestPath(t, in, PathOptions{})
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

func TestNormalizeRequestPath(t *testing.T) {
	semi := PathOptions{AllowSemicolons: true}
	hash := PathOptions{AllowEncodedHash: true}
	double := PathOptions{AllowDoubleEncoding: true}
	space := PathOptions{AllowTrailingEncodedWhitespace: true}
	all := PathOptions{AllowSemicolons: true, AllowEncodedHash: true, AllowDoubleEncoding: true, AllowTrailingEncodedWhitespace: true}
	tests := []struct {
		in    string
		opts  PathOptions
		want  string    // when accepted
		class PathClass // when refused
	}{
		// Accepted by default.
		{in: "/", want: "/"},
		{in: "/api/v1/products", want: "/api/v1/products"},
		{in: "/a/%2e%2e/b", want: "/b"},
		{in: "/%7euser", want: "/~user"},
		{in: "/a%20b", want: "/a%20b"},     // whitespace inside a segment
		{in: "/a%20b/c", want: "/a%20b/c"}, // ...
		{in: "/a%0Db", want: "/a%0Db"},     // a control character too
		{in: "/100%25", want: "/100%25"},   // a literal percent sign
		{in: "/100%25/x", want: "/100%25/x"},
		{in: "/a%25zz", want: "/a%25zz"},
		{in: "/a%25u12", want: "/a%25u12"}, // not %uXXXX
		{in: "/a%3Fb", want: "/a%3Fb"},
		{in: "/a?x=1;y=%23&z=%252e", want: "/a"}, // the query is not the path
		{in: "/a#;frag", want: "/a"},
		{in: "/a/...", want: "/a/..."},

		// Unsafe paths keep their own classes, before any other.
		{in: "", class: PathNotAbsolute},
		{in: "*", class: PathNotAbsolute},
		{in: "a;b", class: PathNotAbsolute},
		{in: "/a%zz", class: PathBadEscape},
		{in: "/a%", class: PathBadEscape},
		{in: "/a;%2F", class: PathEncodedSlash},
		{in: "/a%2fb", class: PathEncodedSlash},
		{in: "/a%5cb", class: PathBackslash},
		{in: "/a\\b", class: PathBackslash},
		{in: "/a%00", class: PathNUL},
		{in: "/a\x00b", class: PathNUL},
		{in: "/a%2F", opts: all, class: PathEncodedSlash},

		// Matrix parameters.
		{in: "/admin;x=1", class: PathSemicolon},
		{in: "/public/..;/admin", class: PathSemicolon},
		{in: "/;jsessionid=1", class: PathSemicolon},
		{in: "/a%3Bb", class: PathSemicolon},
		{in: "/a%3bb", class: PathSemicolon},
		{in: "/a;x/../b", class: PathSemicolon}, // checked before normalization
		{in: "/admin;x=1", opts: semi, want: "/admin;x=1"},
		{in: "/a%3bb", opts: semi, want: "/a%3Bb"},
		{in: "/;jsessionid=1", opts: semi, want: "/;jsessionid=1"},
		{in: "/a/b;..;c", opts: semi, want: "/a/b;..;c"},
		{in: "/a/...;x", opts: semi, want: "/a/...;x"},
		{in: "/a/..b;x", opts: semi, want: "/a/..b;x"},
		{in: "/a;x/../b", opts: semi, want: "/b"},
		// ...but a dot segment with parameters never: Tomcat reads ".."
		{in: "/public/..;/admin", opts: semi, class: PathDotSegmentParams},
		{in: "/public/..;x=1/admin", opts: all, class: PathDotSegmentParams},
		{in: "/public/.;x/admin", opts: semi, class: PathDotSegmentParams},
		{in: "/public/%2e%2e;/admin", opts: semi, class: PathDotSegmentParams},
		{in: "/public/.%2E;/admin", opts: semi, class: PathDotSegmentParams},
		{in: "/public/..%3B/admin", opts: semi, class: PathDotSegmentParams},
		{in: "/..;", opts: semi, class: PathDotSegmentParams},
		{in: "/admin%20;x", opts: semi, class: PathTrailingWhitespace}, // ';' ends the segment
		{in: "/a;x%23", opts: semi, class: PathEncodedHash},

		// Encoded '#'.
		{in: "/admin%23.css", class: PathEncodedHash},
		{in: "/a%23", class: PathEncodedHash},
		{in: "/admin%23.css", opts: hash, want: "/admin%23.css"},
		{in: "/a%23%252e", opts: hash, class: PathDoubleEncoding},

		// Double encoding.
		{in: "/public/%252e%252e/admin", class: PathDoubleEncoding},
		{in: "/%252F", class: PathDoubleEncoding},
		{in: "/%2541", class: PathDoubleEncoding},
		{in: "/%25u002e", class: PathDoubleEncoding},
		{in: "/%25U002E", class: PathDoubleEncoding},
		{in: "/%25%32%65", class: PathDoubleEncoding},    // %252e once %32%65 is decoded
		{in: "/%25%75002e", class: PathDoubleEncoding},   // %25u002e once %75 is decoded
		{in: "/%25%32%65", opts: double, want: "/%252e"}, // as normalized
		{in: "/public/%252e%252e/admin", opts: double, want: "/public/%252e%252e/admin"},
		{in: "/objects/https%253A%252F%252Fexample.com", opts: double, want: "/objects/https%253A%252F%252Fexample.com"},
		{in: "/%252e%20", opts: double, class: PathTrailingWhitespace},

		// A segment ending in whitespace or a control character.
		{in: "/admin%20", class: PathTrailingWhitespace},
		{in: "/admin%20/", class: PathTrailingWhitespace},
		{in: "/admin%20%20", class: PathTrailingWhitespace},
		{in: "/admin%09", class: PathTrailingWhitespace},
		{in: "/admin%0a/x", class: PathTrailingWhitespace},
		{in: "/admin%1F", class: PathTrailingWhitespace},
		{in: "/admin%7f", class: PathTrailingWhitespace},
		{in: "/admin%20?x=1", class: PathTrailingWhitespace},
		{in: "/%20", class: PathTrailingWhitespace},
		{in: "/a%20/../b", class: PathTrailingWhitespace}, // checked before normalization
		{in: "/admin ", class: PathTrailingWhitespace},    // raw, normalized to %20
		{in: "/admin\t/x", class: PathTrailingWhitespace},
		{in: "/admin%20", opts: space, want: "/admin%20"},
		{in: "/admin%09/x", opts: space, want: "/admin%09/x"},
		{in: "/admin ", opts: space, want: "/admin%20"},
		{in: "/admin%20;x", opts: all, want: "/admin%20;x"},
		{in: "/admin%20%23", opts: space, class: PathEncodedHash},

		// Every option at once.
		{in: "/a;b%23%2541%20/c", opts: all, want: "/a;b%23%2541%20/c"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%+v", tt.in, tt.opts), func(t *testing.T) {
			got, err := NormalizeRequestPath(tt.in, tt.opts)
			if tt.class != "" {
				var pe *PathError
				if !errors.As(err, &pe) || pe.Class != tt.class {
					t.Fatalf("NormalizeRequestPath(%q) = %q, %v; want class %s", tt.in, got, err, tt.class)
				}
				if !errors.Is(err, ErrUnsafePath) || !strings.HasPrefix(err.Error(), "path refused: ") || got != "" {
					t.Fatalf("error %v does not wrap ErrUnsafePath or is badly worded", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeRequestPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if plain, err := NormalizePath(tt.in); err != nil || plain != got {
				t.Fatalf("NormalizePath(%q) = %q, %v; the request form gave %q", tt.in, plain, err, got)
			}
			if again, err := NormalizeRequestPath(got, tt.opts); err != nil || again != got {
				t.Fatalf("not idempotent: NormalizeRequestPath(%q) = %q, %v", got, again, err)
			}
		})
	}
}

// TestPathOptionsIndependent: each option allows its own class and no
// other.
func TestPathOptionsIndependent(t *testing.T) {
	samples := map[PathClass]string{
		PathSemicolon:          "/admin;x=1",
		PathEncodedHash:        "/admin%23.css",
		PathDoubleEncoding:     "/public/%252e%252e/admin",
		PathTrailingWhitespace: "/admin%20",
	}
	options := map[PathClass]PathOptions{
		PathSemicolon:          {AllowSemicolons: true},
		PathEncodedHash:        {AllowEncodedHash: true},
		PathDoubleEncoding:     {AllowDoubleEncoding: true},
		PathTrailingWhitespace: {AllowTrailingEncodedWhitespace: true},
	}
	for class, in := range samples {
		for allowed, opts := range options {
			_, err := NormalizeRequestPath(in, opts)
			if (err == nil) != (class == allowed) {
				t.Errorf("%q with %+v: error %v", in, opts, err)
			}
		}
	}
}

func TestPathErrorText(t *testing.T) {
	for class, text := range pathClassText {
		e := pathErrors[class].(*PathError)
		if e.Class != class || e.Error() != "path refused: "+text || text == "" {
			t.Errorf("%s: %q", class, e.Error())
		}
	}
}

func TestNormalizeRequestPathNoAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := NormalizeRequestPath("/api/v1/products/1%20x?q=1", PathOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := NormalizeRequestPath("/public/..;/admin", PathOptions{}); err == nil {
			t.Fatal("accepted")
		}
	})
	if allocs != 0 {
		t.Fatalf("NormalizeRequestPath allocates %v times", allocs)
	}
}

// Independent statements of the refused classes, for the fuzz targets.
var (
	reSemicolon  = regexp.MustCompile(`(?i);|%3B`)
	reHash       = regexp.MustCompile(`(?i)%23`)
	reDouble     = regexp.MustCompile(`(?i)%25([0-9a-f]{2}|u[0-9a-f]{4})`)
	reTrailing   = regexp.MustCompile(`(?i)(%[01][0-9a-f]|%20|%7f)(/|;|%3B|$)`)
	reDotParams  = regexp.MustCompile(`(?i)/(\.|%2e){1,2}(;|%3B)`)
	classOptions = []struct {
		re      *regexp.Regexp
		allowed func(PathOptions) bool
	}{
		{reSemicolon, func(o PathOptions) bool { return o.AllowSemicolons }},
		{reHash, func(o PathOptions) bool { return o.AllowEncodedHash }},
		{reDouble, func(o PathOptions) bool { return o.AllowDoubleEncoding }},
		{reTrailing, func(o PathOptions) bool { return o.AllowTrailingEncodedWhitespace }},
		{reDotParams, func(PathOptions) bool { return false }},
	}
)

// checkRequestPath asserts what NormalizeRequestPath promises for in
// under opts.
func checkRequestPath(t *testing.T, in string, opts PathOptions) {
	t.Helper()
	out, err := NormalizeRequestPath(in, opts)
	plain, plainErr := NormalizePath(in)
	if err != nil {
		var pe *PathError
		if !errors.As(err, &pe) || !errors.Is(err, ErrUnsafePath) || pathClassText[pe.Class] == "" {
			t.Fatalf("NormalizeRequestPath(%q, %+v): unexpected error %v", in, opts, err)
		}
		unsafe := pe.Class == PathNotAbsolute || pe.Class == PathBadEscape || pe.Class == PathEncodedSlash || pe.Class == PathBackslash || pe.Class == PathNUL
		if unsafe != (plainErr != nil) {
			t.Fatalf("NormalizeRequestPath(%q, %+v) = %v; NormalizePath error %v", in, opts, err, plainErr)
		}
		return
	}
	if plainErr != nil || out != plain {
		t.Fatalf("NormalizeRequestPath(%q, %+v) = %q; NormalizePath = %q, %v", in, opts, out, plain, plainErr)
	}
	again, err := NormalizeRequestPath(out, opts)
	if err != nil || again != out {
		t.Fatalf("not idempotent: NormalizeRequestPath(%q, %+v) = %q; again %q, %v", in, opts, out, again, err)
	}
	for _, c := range classOptions {
		if !c.allowed(opts) && c.re.MatchString(out) {
			t.Fatalf("NormalizeRequestPath(%q, %+v) = %q matches %s", in, opts, out, c.re)
		}
	}
	// Allowing more never refuses more.
	all := PathOptions{AllowSemicolons: true, AllowEncodedHash: true, AllowDoubleEncoding: true, AllowTrailingEncodedWhitespace: true}
	if got, err := NormalizeRequestPath(in, all); err != nil || got != out {
		t.Fatalf("NormalizeRequestPath(%q) with every option = %q, %v; with %+v %q", in, got, err, opts, out)
	}
}

func FuzzNormalizeRequestPath(f *testing.F) {
	for _, s := range []string{"/admin;x=1", "/public/..;/admin", "/%2e%2e%3b/", "/a%23", "/%252e", "/%25%32%65", "/%25u002e", "/a%20/b", "/a%09", "/a ", "/a%7F;x"} {
		for flags := range uint8(16) {
			f.Add(s, flags)
		}
	}
	f.Fuzz(func(t *testing.T, in string, flags uint8) {
		checkRequestPath(t, in, PathOptions{
			AllowSemicolons:                flags&1 != 0,
			AllowEncodedHash:               flags&2 != 0,
			AllowDoubleEncoding:            flags&4 != 0,
			AllowTrailingEncodedWhitespace: flags&8 != 0,
		})
	})
}
