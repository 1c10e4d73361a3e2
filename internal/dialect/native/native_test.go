package native

import (
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

func decode(t *testing.T, file, src string) dialect.Result {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return Decode(file, &n)
}

func TestPathsAndRenames(t *testing.T) {
	r := decode(t, "conf/a.yaml", `apiVersion: jwtgate.dev/v1alpha1
kind: Config
routes:
  - name: r
    match:
      paths: ["*", "/*", /exact, "/pre/*"]
      pathRegex: ["/re/.*"]
    backend: {url: http://x, caFile: ca.pem, certFile: /abs/c.pem}
`)
	if len(r.Issues) != 0 {
		t.Fatal(r.Issues)
	}
	got := r.Config.Routes[0]
	want := []model.PathMatch{
		{Kind: model.PathPrefix, Value: "/"}, {Kind: model.PathPrefix, Value: "/"},
		{Kind: model.PathExact, Value: "/exact"}, {Kind: model.PathPrefix, Value: "/pre/"},
		{Kind: model.PathRegex, Value: "/re/.*"},
	}
	if !reflect.DeepEqual(got.Match.Paths, want) {
		t.Errorf("paths = %+v", got.Match.Paths)
	}
	// An issue about the regex path is placed at the pathRegex field.
	if p, line, _ := got.Origin.Loc.Locate("match.paths[4]"); p != "routes[0].match.pathRegex[0]" || line != 7 {
		t.Errorf("match.paths[4] located at %s:%d", p, line)
	}
	if got.Backend.CAFile != "conf/ca.pem" || got.Backend.CertFile != "/abs/c.pem" {
		t.Errorf("backend = %+v", got.Backend)
	}
	o := got.Origin
	o.Loc = nil
	if o != (model.Origin{Ref: model.Ref{APIVersion: APIVersion, Kind: "Route", Namespace: "default", Name: "r"}, File: "conf/a.yaml", Path: "routes[0]", Line: 4}) {
		t.Errorf("origin = %+v", got.Origin)
	}
}

func TestConditionKeys(t *testing.T) {
	c := &converter{lines: map[string]int{}, in: &document{}, doc: &strictyaml.Document{Renames: map[string]string{}}}
	tests := []struct {
		key  string
		kind model.ConditionKind
		name string
	}{
		{"request.auth.claims[groups]", model.CondClaim, "groups"},
		{"request.auth.claims[llms][openai]", model.CondClaim, "llms.openai"},
		{"request.headers[x-tenant]", model.CondHeader, "x-tenant"},
		{"request.auth.audiences", model.CondAudience, ""},
		{"request.auth.presenter", model.CondPresenter, ""},
		{"request.auth.principal", model.CondPrincipal, ""},
		{"source.ip", model.CondSourceIP, ""},
		{"request.auth.claims[kubernetes.io]", model.CondClaim, "[kubernetes.io]"},
		{"connection.sni", "", ""},
		{"request.auth.claims[]", "", ""},
	}
	for _, tt := range tests {
		kind, name := c.conditionKey(tt.key, "when[0].key")
		if kind != tt.kind || name != tt.name {
			t.Errorf("%s -> %s %q, want %s %q", tt.key, kind, name, tt.kind, tt.name)
		}
	}
	if len(c.issues) != 2 {
		t.Errorf("issues = %v", c.issues)
	}
}
