package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

const listenerDoc = `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:8080
`

const providerDoc = `apiVersion: jwtgate.dev/v1alpha1
kind: Config
providers:
  - name: p
    jwks: {file: keys/jwks.json}
`

const routeDoc = `apiVersion: jwtgate.dev/v1alpha1
kind: Config
routes:
  - name: r
    match: {paths: [/r]}
    backend: {url: http://127.0.0.1:8000}
    jwt: {providers: [p]}
`

func names[T any](items []T, name func(T) string) string {
	var out []string
	for _, it := range items {
		out = append(out, name(it))
	}
	return strings.Join(out, ",")
}

func TestLoadFolderInLexicalOrder(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"conf/20-routes.yaml":    routeDoc + "  - name: s\n    match: {paths: [/s]}\n    backend: {url: http://127.0.0.1:8001}\n",
		"conf/10-providers.yml":  providerDoc,
		"conf/00-listeners.yaml": listenerDoc,
		"conf/notes.txt":         "not yaml",
		"conf/sub/99-more.yaml":  "this: is not read",
	})
	cfg, is := Load(filepath.Join(dir, "conf"))
	if len(is) != 0 {
		t.Fatalf("issues: %v", issueTexts(is))
	}
	if got := names(cfg.Routes, func(r model.Route) string { return r.Name + "@" + r.Listener }); got != "r@web,s@web" {
		t.Errorf("routes = %s", got)
	}
	// Relative file names resolve against the file that names them.
	if got, want := cfg.Providers[0].JWKS.File, filepath.Join(dir, "conf", "keys", "jwks.json"); got != want {
		t.Errorf("jwks.file = %q, want %q", got, want)
	}
	o := cfg.Routes[1].Origin
	o.Loc = nil
	want := model.Origin{Ref: model.Ref{APIVersion: "jwtgate.dev/v1alpha1", Kind: "Route", Namespace: "default", Name: "s"}, File: filepath.Join(dir, "conf", "20-routes.yaml"), Path: "routes[1]", Line: 8}
	if got := o; got != want {
		t.Errorf("origin = %+v, want %+v", got, want)
	}
}

func TestLoadFilesAndDocuments(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.yaml": listenerDoc + "---\n# only a comment\n---\n" + providerDoc,
		"b.yaml": routeDoc,
		"c.yaml": "",
	})
	cfg, is := Load(filepath.Join(dir, "b.yaml"), filepath.Join(dir, "a.yaml"), filepath.Join(dir, "c.yaml"))
	if len(is) != 0 {
		t.Fatalf("issues: %v", issueTexts(is))
	}
	if len(cfg.Listeners) != 1 || len(cfg.Providers) != 1 || len(cfg.Routes) != 1 {
		t.Fatalf("config = %+v", cfg)
	}
	if got := cfg.Providers[0].Origin; got.Line != 12 || got.Path != "providers[0]" {
		t.Errorf("provider origin = %+v", got)
	}
}

func TestLoadErrorsAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"conf/a.yaml": listenerDoc + "---\n" + providerDoc + `  - name: q
    jwks: {uri: https://keys.example.com/jwks}
    timeout: 1s
`,
		"conf/b.yaml": routeDoc + `  - name: s
    listener: admin
    match: {paths: [/s]}
    backend: {url: http://127.0.0.1:8001}
    jwt: {providers: [dev]}
providers:
  - name: p
    issuer: https://issuer.example.com
listeners:
  - name: web
    address: 127.0.0.1:9090
`,
		"empty/readme.md": "nothing here",
	})
	conf := filepath.Join(dir, "conf")
	_, is := Load(conf, filepath.Join(dir, "missing.yaml"), filepath.Join(dir, "empty"))
	a, b := filepath.Join(conf, "a.yaml"), filepath.Join(conf, "b.yaml")
	checkIssues(t, nil, is, []string{
		a + `:14: providers[1]: unknown field "timeout" (provider "q")`,
		b + `:4: routes[0].listener: required when there is not exactly one listener (route "r")`,
		b + `:9: routes[1].listener: unknown listener "admin" (route "s")`,
		b + `:12: routes[1].jwt.providers[0]: unknown provider "dev" (route "s")`,
		b + `:14: providers[0].name: duplicate provider name "p", first defined at ` + a + `:10 (provider "p")`,
		b + `:17: listeners[0].name: duplicate listener name "web", first defined at ` + a + `:4 (listener "web")`,
		filepath.Join(dir, "missing.yaml") + `: reading: no such file or directory`,
		filepath.Join(dir, "empty") + `: folder holds no *.yaml or *.yml files`,
	})
}

func TestLoadNothing(t *testing.T) {
	cfg, is := Load()
	checkIssues(t, cfg, is, []string{"no configuration files given"})

	// An empty file loads, with a warning that there is nothing to serve.
	cfg, is = LoadBytes("empty.yaml", []byte("---\n# nothing\n---\n"))
	if cfg == nil || len(is.Errors()) != 0 || len(is.Warnings()) != 1 {
		t.Fatalf("empty file: cfg=%v issues=%v", cfg, issueTexts(is))
	}
}

func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "secret.yaml")
	writeFiles(t, dir, map[string]string{"secret.yaml": listenerDoc})
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	_, is := Load(p)
	checkIssues(t, nil, is, []string{p + ": reading: permission denied"})
}
