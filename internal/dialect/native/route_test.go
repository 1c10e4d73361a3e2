package native

import (
	"reflect"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestRouteActionKeys: every routing key beyond paths and backend reads
// into the model, with the defaults (weight 1, the backend timeout) and
// the model fields placed at the keys that gave them.
func TestRouteActionKeys(t *testing.T) {
	r := decode(t, "conf/a.yaml", `apiVersion: jwtgate.dev/v1alpha1
kind: Config
routes:
  - name: canary
    match:
      paths: [/exact]
      pathRegex: ["/re/.*"]
      pathPrefix: [/api, /v1/]
      headerMatches:
        - {name: x-canary, present: true}
        - {name: user-agent, regex: ".*bot.*", invert: true}
        - {name: x-env, exact: prod}
        - {name: x-a, prefix: a}
        - {name: x-b, suffix: b}
      query:
        - {name: debug, exact: "1"}
    backends:
      - {url: http://127.0.0.1:8001, weight: 90, caFile: ca.pem}
      - url: http://127.0.0.1:8002
        timeout: 2s
    rewrite:
      host: api.internal
      path: {prefix: /v2}
    requestHeaders:
      set: {x-route: canary}
      add: {x-trace: "1"}
      remove: [x-debug]
    responseHeaders:
      set: {x-frame-options: DENY}
  - name: old
    match: {pathPrefix: [/old]}
    redirect: {scheme: https, host: new.example, port: 8443, path: {full: /new}, status: 301}
  - name: down
    directResponse: {status: 503, body: down}
`)
	if len(r.Issues) != 0 {
		t.Fatal(r.Issues)
	}
	routes := r.Config.Routes
	c := routes[0]
	wantMatch := model.RouteMatch{
		Paths: []model.PathMatch{
			{Kind: model.PathExact, Value: "/exact"}, {Kind: model.PathRegex, Value: "/re/.*"},
			{Kind: model.PathSegmentPrefix, Value: "/api"}, {Kind: model.PathSegmentPrefix, Value: "/v1/"},
		},
		HeaderMatches: []model.ValueMatch{
			{Name: "x-canary", Kind: model.ValuePresent},
			{Name: "user-agent", Kind: model.ValueRegex, Value: ".*bot.*", Invert: true},
			{Name: "x-env", Kind: model.ValueExact, Value: "prod"},
			{Name: "x-a", Kind: model.ValuePrefix, Value: "a"},
			{Name: "x-b", Kind: model.ValueSuffix, Value: "b"},
		},
		Query: []model.ValueMatch{{Name: "debug", Kind: model.ValueExact, Value: "1"}},
	}
	if !reflect.DeepEqual(c.Match, wantMatch) {
		t.Errorf("match = %+v", c.Match)
	}
	wantBackends := []model.WeightedBackend{
		{Backend: model.Backend{URL: "http://127.0.0.1:8001", Timeout: model.DefaultBackendTimeout, CAFile: "conf/ca.pem"}, Weight: 90},
		{Backend: model.Backend{URL: "http://127.0.0.1:8002", Timeout: 2 * time.Second}, Weight: 1},
	}
	if !reflect.DeepEqual(c.Backends, wantBackends) || c.Backend.URL != "" {
		t.Errorf("backends = %+v, backend = %+v", c.Backends, c.Backend)
	}
	wantActions := model.RouteActions{
		Rewrite:         &model.Rewrite{Host: "api.internal", Path: &model.PathRewrite{Prefix: "/v2"}},
		RequestHeaders:  model.HeaderOps{Set: map[string]string{"x-route": "canary"}, Add: map[string]string{"x-trace": "1"}, Remove: []string{"x-debug"}},
		ResponseHeaders: model.HeaderOps{Set: map[string]string{"x-frame-options": "DENY"}},
	}
	if !reflect.DeepEqual(c.RouteActions, wantActions) {
		t.Errorf("actions = %+v", c.RouteActions)
	}
	if got, want := routes[1].Redirect, (&model.Redirect{Scheme: "https", Host: "new.example", Port: 8443, Path: &model.PathRewrite{Full: "/new"}, Status: 301}); !reflect.DeepEqual(got, want) {
		t.Errorf("redirect = %+v", got)
	}
	if got := routes[2].DirectResponse; got == nil || *got != (model.DirectResponse{Status: 503, Body: "down"}) || !reflect.DeepEqual(routes[2].Backend, model.Backend{}) {
		t.Errorf("direct response = %+v, backend %+v", got, routes[2].Backend)
	}

	// Model fields are placed at the document's keys.
	for field, want := range map[string]string{
		"match.paths[2]":                      "routes[0].match.pathPrefix[0]",
		"match.paths[3]":                      "routes[0].match.pathPrefix[1]",
		"match.headerMatches[1].value":        "routes[0].match.headerMatches[1].regex",
		"match.headerMatches[0].kind":         "routes[0].match.headerMatches[0].present",
		"match.query[0].value":                "routes[0].match.query[0].exact",
		"backends[1].timeout":                 "routes[0].backends[1].timeout",
		"requestHeaders.set.x-route":          "routes[0].requestHeaders.set.x-route",
		"rewrite.path.prefix":                 "routes[0].rewrite.path.prefix",
		"match.headerMatches[4].name":         "routes[0].match.headerMatches[4].name",
		"responseHeaders.set.x-frame-options": "routes[0].responseHeaders.set.x-frame-options",
	} {
		if p, line, _ := c.Origin.Loc.Locate(field); p != want || line == 0 {
			t.Errorf("%s located at %s:%d, want %s", field, p, line, want)
		}
	}
}

// TestRouteActionErrors: what only the native syntax can get wrong.
func TestRouteActionErrors(t *testing.T) {
	tests := []struct {
		name  string
		route string
		want  []string
	}{
		{"backend and backends", `    backend: {url: http://a}
    backends: [{url: http://b}]
`, []string{"routes[0].backends: give backend or backends, not both"}},
		{"condition without a kind", `    backend: {url: http://a}
    match:
      headerMatches: [{name: x}]
`, []string{"routes[0].match.headerMatches[0]: give one of exact, prefix, suffix, regex and present"}},
		{"condition with two kinds", `    backend: {url: http://a}
    match:
      query: [{name: x, exact: a, regex: b}]
`, []string{"routes[0].match.query[0].regex: give one of exact, prefix, suffix, regex and present, got exact and regex"}},
		{"present: false", `    backend: {url: http://a}
    match:
      headerMatches: [{name: x, present: false}]
`, []string{"routes[0].match.headerMatches[0].present: only present: true"}},
		{"a star in pathPrefix", `    backend: {url: http://a}
    match:
      pathPrefix: ["/v1/*"]
`, []string{`routes[0].match.pathPrefix[0]: invalid path prefix "/v1/*"`}},
		{"weighted backend timeout", `    backends: [{url: http://a, timeout: 0s}]
`, []string{"routes[0].backends[0].timeout: must be positive"}},
		{"unknown key", `    redirect: {code: 301}
`, []string{`routes[0].redirect: unknown field "code"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := decode(t, "gw.yaml", "apiVersion: jwtgate.dev/v1alpha1\nkind: Config\nroutes:\n  - name: r\n"+tt.route)
			checkIssuePaths(t, r.Issues, tt.want)
		})
	}
}
