package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHostileInput feeds the loader what a careless or hostile file may
// hold: every case must end in the listed issues, never in a panic, a hang
// or a half-read configuration.
func TestHostileInput(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"BOM", "\ufeff" + base, nil},
		{"only dashes", "---\n", []string{"warning: listeners: no listener in the configuration: there is nothing to serve"}},
		{"empty documents", "---\n---\n# c\n---\n" + base + "---\n", nil},
		{"key differing in case", base + "Listeners: []\n", []string{`gw.yaml:13: unknown field "Listeners"`}},
		{"key differing in case inside", base + "    Backend: {url: http://x}\n", []string{`gw.yaml:13: routes[0]: unknown field "Backend" (route "r")`}},
		{"wrong apiVersion", strings.Replace(base, "v1alpha1", "v1", 1), []string{
			`gw.yaml:1: unsupported apiVersion "jwtgate.dev/v1" and kind "Config" (supported: ` + supported() + `)`,
		}},
		{"wrong kind", strings.Replace(base, "kind: Config", "kind: config", 1), []string{
			`gw.yaml:1: unsupported apiVersion "jwtgate.dev/v1alpha1" and kind "config" (supported: ` + supported() + `)`,
		}},
		{"apiVersion not a string", strings.Replace(base, "apiVersion: jwtgate.dev/v1alpha1", "apiVersion: [jwtgate.dev/v1alpha1]", 1), []string{
			`gw.yaml:1: apiVersion: expected a string, got a list`,
		}},
		{"duplicate apiVersion", "apiVersion: jwtgate.dev/v1alpha1\n" + base, []string{
			`gw.yaml:2: duplicate key "apiVersion" (first on line 1)`,
		}},
		{"tab in indentation", strings.Replace(base, "    address:", "\taddress:", 1), []string{
			`gw.yaml:5: invalid YAML: tab character in indentation (YAML indents with spaces)`,
		}},
		{"tab inside a value is fine", strings.Replace(base, "- name: r", "- name: \"r\\tx\"", 1), []string{
			`gw.yaml:10: routes[0].name: invalid name "r\tx": control character or invalid UTF-8 (route "r\tx")`,
		}},
		{"merge key", base + "    <<: {jwt: {providers: [p]}}\n", []string{
			`gw.yaml:13: routes[0]: merge keys ("<<") are not supported (route "r")`,
		}},
		{"merge key does not cascade", base + "  - <<: {name: s, backend: {url: http://x}}\n", []string{
			`gw.yaml:13: routes[1]: merge keys ("<<") are not supported`,
		}},
		{"anchors and aliases", base + "    labels: &l {a: b}\n  - name: s\n    labels: *l\n    match: &m {paths: [/s]}\n    backend: &b {url: http://127.0.0.1:9000}\n  - name: t\n    match: {paths: [/t]}\n    backend: *b\n", nil},
		{"null values", base + "    jwt: null\n    labels: ~\njwtPolicies: ~\npolicies:\n", []string{
			`gw.yaml:13: warning: routes[0].jwt: null: the route has no JWT requirement of its own (remove the key if that is meant) (route "r")`,
		}},
		{"null providers list", base + "    jwt: {providers: ~}\n", []string{
			`gw.yaml:13: routes[0].jwt.providers: required (route "r")`,
		}},
		{"null list item", base + "  - ~\n", []string{
			`gw.yaml:13: routes[1].name: required`,
			`gw.yaml:13: routes[1].backend.url: required`,
		}},
		{"unicode names", strings.Replace(base, "- name: r", "- name: \"zahlungen-ü-😀\"", 1), nil},
		{"names with spaces", strings.Replace(base, "- name: web", "- name: \" web\"", 1), []string{
			`gw.yaml:4: listeners[0].name: invalid name " web": leading or trailing white space (listener " web")`,
		}},
		{"overlong values", base + "    labels: {a: " + strings.Repeat("x", 1<<20) + "}\n", nil},
		{"host with port", base + "  - name: h\n    match: {hosts: [\"a.example:8080\", \"::1\", \"[::1]\"]}\n    backend: {url: http://x}\n", []string{
			`gw.yaml:14: routes[1].match.hosts[0]: invalid host "a.example:8080": hosts match without the port, leave it out (route "h")`,
			`gw.yaml:14: routes[1].match.hosts[2]: invalid host "[::1]" (want a host name, *.suffix or *) (route "h")`,
		}},
		{"alias bomb", "apiVersion: jwtgate.dev/v1alpha1\nkind: Config\n" +
			"a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" +
			"a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\n" +
			"a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]\n" +
			"a3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]\n" +
			"a4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]\n" +
			"a5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]\n" +
			"a6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]\n" +
			"routes: [{name: r, backend: {url: http://x}, labels: {a: b}, match: {methods: *a6}}]\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			cfg, is := LoadBytes("gw.yaml", []byte(tt.src))
			if tt.name == "alias bomb" {
				// Whatever it reports, it reports quickly and as an error.
				if len(is.Errors()) == 0 || cfg != nil || time.Since(start) > 5*time.Second {
					t.Errorf("alias bomb: %d issues in %s", len(is), time.Since(start))
				}
				return
			}
			checkIssues(t, cfg, is, tt.want)
		})
	}
}

func TestFolders(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"conf/00-listeners.yaml":   listenerDoc,
		"conf/.#10-providers.yaml": "an editor's lock file: not read",
		"conf/.hidden.yml":         "not: [read",
		"conf/10-providers.yml":    providerDoc,
		"conf/20-routes.YAML":      "not read: [",
		"conf/notes.txt":           "not read",
		"conf/sub.yaml/x.yaml":     "a folder named like a file: not read",
		"conf/sub/30-more.yaml":    "not read",
		"conf/keys/jwks.json":      `{"keys":[]}`,
	})
	cfg, is := Load(filepath.Join(dir, "conf"))
	if len(is) != 0 {
		t.Fatalf("issues: %v", issueTexts(is))
	}
	if len(cfg.Listeners) != 1 || len(cfg.Providers) != 1 || len(cfg.Routes) != 0 {
		t.Errorf("config = %+v", cfg)
	}
}

// TestSplitReferences: resources refer to each other across files, in both
// directions; errors in several files all come out, in file order.
func TestSplitReferences(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.yaml": `apiVersion: jwtgate.dev/v1alpha1
kind: Config
routes:
  - name: a
    match: {paths: [/a]}
    backend: {url: http://127.0.0.1:8000}
    jwt: {providers: [q, nope]}
policies:
  - {name: pa, action: DENY, routes: [b], rules: [{to: [{paths: [/x]}]}]}
`,
		"b.yaml": `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - {name: web, address: 127.0.0.1:8080}
providers:
  - {name: q, jwks: {inline: '{"keys":[]}'}}
routes:
  - name: b
    match: {paths: [/b]}
    backend: {url: http://127.0.0.1:8000}
    jwt: {providers: [q]}
policies:
  - {name: pb, action: ALLOW, routes: [a, gone], rules: []}
`,
	})
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	_, is := Load(a, b)
	checkIssues(t, nil, is, []string{
		a + `:7: routes[0].jwt.providers[1]: unknown provider "nope" (route "a")`,
		b + `:13: policies[0].routes[1]: unknown route "gone" (policy "pb")`,
	})
}

func TestFileTooLarge(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	data := append([]byte(base+"# "), bytes.Repeat([]byte("x"), MaxFileBytes)...)
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, is := Load(big)
	checkIssues(t, nil, is, []string{fmt.Sprintf("%s: file too large: more than %d bytes", big, MaxFileBytes)})
}

// TestManyRoutes: a large but legal file loads in reasonable time (the
// shadowed-route check does not compare every pair of routes).
func TestManyRoutes(t *testing.T) {
	var b strings.Builder
	b.WriteString(base)
	for i := range 20000 {
		fmt.Fprintf(&b, "  - name: r%d\n    match: {paths: [/p%d], hosts: [h%d.example]}\n    backend: {url: http://127.0.0.1:8000}\n", i, i, i%7)
	}
	start := time.Now()
	cfg, is := LoadBytes("gw.yaml", []byte(b.String()))
	if len(is) != 0 || cfg == nil || len(cfg.Routes) != 20001 {
		t.Fatalf("%d issues", len(is))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("loading 20000 routes took %s", d)
	}
}

// TestDocExamples loads every configuration of docs/configuration.md: a
// block marked <!-- not-loaded --> is a fragment or names files that do
// not exist; the others must load without errors.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)(<!-- not-loaded -->\n)?```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	loaded := 0
	for i, m := range blocks {
		notLoaded, src := len(m[1]) > 0, m[2]
		if notLoaded && !bytes.HasPrefix(src, []byte("apiVersion:")) {
			continue // a fragment
		}
		// Certificate files are only read when the server starts: a
		// not-loaded complete example still loads.
		cfg, is := LoadBytes(fmt.Sprintf("configuration.md#%d", i), src)
		if len(is.Errors()) > 0 || cfg == nil {
			t.Errorf("example %d:\n%s\nissues:\n%s", i, src, strings.Join(issueTexts(is), "\n"))
		}
		loaded++
	}
	if loaded < 8 {
		t.Errorf("only %d examples loaded", loaded)
	}
}
