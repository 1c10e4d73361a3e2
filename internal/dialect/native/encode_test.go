package native

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/dialect/conditionkey"
	"jwtgate.dev/jwtgate/internal/model"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// decodeStream decodes every document of data as the loader would (for
// native documents: merged in order) and fails on any error.
func decodeStream(t *testing.T, file string, data []byte) *model.Config {
	t.Helper()
	var cfg model.Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		res := Decode(file, n.Content[0])
		if err := res.Issues.Err(); err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		c := res.Config
		cfg.Listeners = append(cfg.Listeners, c.Listeners...)
		cfg.Providers = append(cfg.Providers, c.Providers...)
		cfg.Routes = append(cfg.Routes, c.Routes...)
		cfg.JWTPolicies = append(cfg.JWTPolicies, c.JWTPolicies...)
		cfg.Policies = append(cfg.Policies, c.Policies...)
		cfg.Egress.Servers = append(cfg.Egress.Servers, c.Egress.Servers...)
		cfg.Egress.Authorizations = append(cfg.Egress.Authorizations, c.Egress.Authorizations...)
	}
	return &cfg
}

// stripped is a copy of cfg without origins, for comparing models read
// from different files.
func stripped(cfg *model.Config) *model.Config {
	c := *cfg
	c.Listeners = clearOrigin(c.Listeners, func(x *model.Listener) *model.Origin { return &x.Origin })
	c.Providers = clearOrigin(c.Providers, func(x *model.Provider) *model.Origin { return &x.Origin })
	c.Routes = clearOrigin(c.Routes, func(x *model.Route) *model.Origin { return &x.Origin })
	c.JWTPolicies = clearOrigin(c.JWTPolicies, func(x *model.JWTPolicy) *model.Origin { return &x.Origin })
	c.Policies = clearOrigin(c.Policies, func(x *model.Policy) *model.Origin { return &x.Origin })
	c.Egress.Servers = clearOrigin(c.Egress.Servers, func(x *model.EgressServer) *model.Origin { return &x.Origin })
	c.Egress.Authorizations = clearOrigin(c.Egress.Authorizations, func(x *model.EgressAuthorization) *model.Origin { return &x.Origin })
	return &c
}

func dump(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func clearOrigin[T any](in []T, origin func(*T) *model.Origin) []T {
	out := make([]T, len(in))
	copy(out, in)
	for i := range out {
		*origin(&out[i]) = model.Origin{}
	}
	return out
}

// TestEncodeEveryKey decodes a native file that sets every key, encodes
// the model and compares the output with its golden file; the output
// decodes to the same model (Origins aside, deeply equal: nil and empty
// lists kept apart), and encoding it again gives the same bytes, the
// sources named aside.
func TestEncodeEveryKey(t *testing.T) {
	in := filepath.Join("testdata", "encode", "every-key.yaml")
	src, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	cfg := decodeStream(t, in, src)
	opts := EncodeOptions{Dir: filepath.Dir(in), Header: "converted\nfor a test"}
	out, issues := EncodeWith(cfg, opts)
	if len(issues) > 0 {
		t.Fatal(issues)
	}
	golden := filepath.Join("testdata", "encode", "every-key.golden")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("output differs from %s (rerun with -update and review):\n%s", golden, out)
	}

	// Saved next to the input, it reads back as the same model.
	back := decodeStream(t, filepath.Join(filepath.Dir(in), "converted.yaml"), out)
	if a, b := stripped(cfg), stripped(back); !reflect.DeepEqual(a, b) {
		t.Errorf("the output reads back differently:\n%s\nwant:\n%s", dump(t, b), dump(t, a))
	}
	// The match-mode policies keep their place: after those of their
	// document, before the next document's.
	var names []string
	for _, p := range back.Policies {
		names = append(names, p.Name)
	}
	if got, want := strings.Join(names, " "), "admin/bypassIfMatched bookinfo/authIfMatched block allow split-claims"; got != want {
		t.Errorf("policies %s, want %s", got, want)
	}
	again, issues := EncodeWith(back, opts)
	fromLine := regexp.MustCompile(`(?m)^ *# from .*\n`) // sources differ
	if len(issues) > 0 || fromLine.ReplaceAllString(string(again), "") != fromLine.ReplaceAllString(string(out), "") {
		t.Errorf("encoding the output again differs (%v):\n%s", issues, again)
	}
}

// vendor is an origin of a vendor resource, as a dialect makes it (no
// Locator: issues are placed at its path and line).
func vendor(kind, name string) model.Origin {
	return model.Origin{Ref: model.Ref{APIVersion: "example.io/v1", Kind: kind, Namespace: "ns", Name: name}, File: "vendor.yaml", Path: "spec", Line: 7}
}

// TestEncodeRefusals builds a model with every piece the native format
// cannot say and checks that each is refused, at its resource and field,
// and that nothing is written.
func TestEncodeRefusals(t *testing.T) {
	rt := vendor("Route", "r")
	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "l", Address: ":8443", Origin: vendor("Gateway", "gw"),
			TLS: &model.ListenerTLS{CertPEM: []byte("c"), KeyPEM: []byte("k"), CertSource: "Secret ns/cert"}}},
		Routes: []model.Route{
			{Name: "r", Listener: "l", Origin: rt, Backend: model.Backend{URL: "http://x", Unavailable: "Service ns/a not found"}},
			{Name: "split", Listener: "l", Origin: vendor("Route", "split"), Backends: []model.WeightedBackend{
				{Backend: model.Backend{URL: "http://a"}, Weight: 1}, {Backend: model.Backend{URL: "http://b", Unavailable: "no endpoint"}, Weight: 1}}},
			{Name: "paths", Listener: "l", Origin: vendor("Route", "paths"), Backend: model.Backend{URL: "http://x"},
				Match: model.RouteMatch{Methods: []string{"GET", "get"}, Paths: []model.PathMatch{
					{Kind: model.PathExact, Value: "/a*b"}, {Kind: model.PathPrefix, Value: ""}, {Kind: model.PathSegmentPrefix, Value: "/s*"},
				}, HeaderMatches: []model.ValueMatch{{Name: "x", Kind: model.ValuePresent, Value: "v"}}}},
			{Name: "order", Listener: "l", Origin: vendor("Route", "order"), Backend: model.Backend{URL: "http://x"},
				Match:        model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathSegmentPrefix, Value: "/a"}, {Kind: model.PathPrefix, Value: "/a/b"}}},
				RouteActions: model.RouteActions{Rewrite: &model.Rewrite{Path: &model.PathRewrite{Prefix: "/z"}}}},
		},
		Policies: []model.Policy{{Name: "p", Action: model.ActionAllow, Origin: vendor("AuthorizationPolicy", "p"), Rules: []model.Rule{{
			To:   []model.To{{NotMethods: []string{"post"}}},
			When: []model.Condition{{Kind: model.CondIssuer, Values: []string{"https://idp"}}},
		}}}},
	}
	out, issues := Encode(cfg)
	if out != nil {
		t.Errorf("output written despite refusals:\n%s", out)
	}
	want := []string{
		`vendor.yaml:7: spec.tls: the listener's certificate and key are held inline (from Secret ns/cert)`,
		`vendor.yaml:7: spec.backend: the backend is unavailable (Service ns/a not found)`,
		`vendor.yaml:7: spec.backends[1]: the backend is unavailable (no endpoint)`,
		`vendor.yaml:7: spec.match.methods[1]: method "get" is not upper case`,
		`vendor.yaml:7: spec.match.paths[0]: exact path "/a*b" holds a "*"`,
		`vendor.yaml:7: spec.match.paths[1]: prefix "" cannot be written as a native path`,
		`vendor.yaml:7: spec.match.paths[2]: segment prefix "/s*" holds a "*"`,
		`vendor.yaml:7: spec.match.headerMatches[0]: a present condition with a value ("v") has no native form`,
		`vendor.yaml:7: spec.match.paths: the native format lists paths before pathPrefix, so the route's prefix rewrite`,
		`vendor.yaml:7: spec.rules[0].to[0].notMethods[0]: method "post" is not upper case`,
		`vendor.yaml:7: spec.rules[0].when[0]: a condition on the verified token's issuer has no native key`,
	}
	var got []string
	for _, is := range issues {
		got = append(got, is.Error())
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no refusal %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d refusals, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, is := range issues {
		if is.Severity != model.Error || !strings.HasSuffix(is.Error(), ")") || is.Resource == "" {
			t.Errorf("refusal without its resource: %s", is.Error())
		}
	}
}

// TestEncodeDefaults checks what a vendor model's zero values become:
// left out where the decoder's default means the same, written where a
// zero means something else (no clock skew, a weight of 0), and nil and
// empty kept apart where they differ (a selector {} selects every route).
func TestEncodeDefaults(t *testing.T) {
	o := vendor("Thing", "t")
	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "l", Address: ":1", Origin: o, TLS: &model.ListenerTLS{CertFile: "/c", KeyFile: "/k", ClientCAFile: "/ca"}}},
		Providers: []model.Provider{{Name: "p", Issuer: "https://idp", Origin: o, From: []model.TokenSource{}}},
		Routes: []model.Route{{Name: "r", Listener: "l", Origin: o, Backend: model.Backend{URL: "http://x"},
			JWT: &model.JWTRequirement{Providers: []string{"p"}}}},
		JWTPolicies: []model.JWTPolicy{{Name: "all", Selector: map[string]string{}, Origin: o,
			Requirement: model.JWTRequirement{Providers: []string{"p"}, Mode: model.AuthAllowMissing, Phase: model.PhasePostAuthz}}},
	}
	out, issues := Encode(cfg)
	if len(issues) > 0 {
		t.Fatal(issues)
	}
	for _, want := range []string{"clockSkew: 0s", "from: []", "selector: {}", "phase: postAuthz", "allowMissing: true",
		"# from Thing ns/t (vendor.yaml:7)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	for _, absent := range []string{"timeout", "maxTokenBytes", "cacheDuration", "clientCerts", "mode"} {
		if strings.Contains(string(out), absent) {
			t.Errorf("%q written:\n%s", absent, out)
		}
	}
	back := decodeStream(t, "out.yaml", out)
	p, r := back.Providers[0], back.Routes[0]
	if p.ClockSkew != 0 || p.MaxTokenBytes != model.DefaultMaxTokenBytes || p.JWKS.Timeout != model.DefaultJWKSTimeout || p.From == nil || len(p.From) != 0 {
		t.Errorf("provider read back as %+v", p)
	}
	if r.Backend.Timeout != model.DefaultBackendTimeout || r.JWT.Mode != model.AuthRequired || r.JWT.Phase != model.PhasePreAuthz {
		t.Errorf("route read back as %+v %+v", r.Backend, *r.JWT)
	}
	if back.Listeners[0].TLS.ClientCerts != model.ClientCertsRequire || back.JWTPolicies[0].Selector == nil {
		t.Errorf("read back as %+v, %+v", *back.Listeners[0].TLS, back.JWTPolicies[0])
	}

	// A weight of 0 is written; 1, the default, is not.
	cfg.Routes[0].Backend = model.Backend{}
	cfg.Routes[0].Backends = []model.WeightedBackend{{Backend: model.Backend{URL: "http://a", Timeout: time.Minute}, Weight: 0}, {Backend: model.Backend{URL: "http://b"}, Weight: 1}}
	out, _ = Encode(cfg)
	if !strings.Contains(string(out), "timeout: 1m\n        weight: 0\n") || strings.Contains(string(out), "weight: 1") {
		t.Errorf("backends written as:\n%s", out)
	}
}

// TestEncodeFiles checks how file names are written for the output's
// folder.
func TestEncodeFiles(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, file, want string }{
		{"", "conf/certs/a.pem", "conf/certs/a.pem"},
		{"conf", "conf/certs/a.pem", "certs/a.pem"},
		{"out", "conf/certs/a.pem", "../conf/certs/a.pem"},
		{".", "conf/a.pem", "conf/a.pem"},
		{filepath.Join(cwd, "conf"), "conf/a.pem", "a.pem"},
		{"conf", "/etc/ssl/a.pem", "/etc/ssl/a.pem"},
	} {
		e := &encoder{}
		if tc.dir != "" {
			e.dir, _ = filepath.Abs(tc.dir)
		}
		if got := e.file(tc.file); got != tc.want {
			t.Errorf("file(%q) for %q = %q, want %q", tc.file, tc.dir, got, tc.want)
		}
	}
}

// TestEncodeConditionKeys checks that each key written for a condition
// kind reads back as that kind.
func TestEncodeConditionKeys(t *testing.T) {
	for kind, key := range conditionKeys {
		got, name, err := conditionkey.Parse(key)
		if err != nil || got != kind || name != "" {
			t.Errorf("%s: key %q reads back as %q %q %v", kind, key, got, name, err)
		}
	}
	for _, k := range []model.ConditionKind{model.CondClaim, model.CondHeader, model.CondIssuer} {
		if _, ok := conditionKeys[k]; ok {
			t.Errorf("%s has a key", k)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", time.Hour: "1h", 90 * time.Minute: "1h30m", 10 * time.Minute: "10m", 90 * time.Second: "1m30s",
		500 * time.Millisecond: "500ms", time.Hour + time.Second: "1h0m1s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		} else if back, err := time.ParseDuration(got); err != nil || back != d {
			t.Errorf("%q parses as %v %v", got, back, err)
		}
	}
}

// TestEncodePathOrder: paths of several kinds come back in native order
// (paths, pathRegex, pathPrefix), which matches the same requests; only a
// prefix rewrite that the order decides is refused (TestEncodeRefusals).
func TestEncodePathOrder(t *testing.T) {
	cfg := &model.Config{Routes: []model.Route{{Name: "r", Listener: "l", Origin: vendor("Route", "r"), Backend: model.Backend{URL: "http://x"},
		Match: model.RouteMatch{Paths: []model.PathMatch{
			{Kind: model.PathSegmentPrefix, Value: "/seg"}, {Kind: model.PathRegex, Value: "/re.*"}, {Kind: model.PathPrefix, Value: "/"}, {Kind: model.PathExact, Value: "/x"},
		}},
		RouteActions: model.RouteActions{Rewrite: &model.Rewrite{Path: &model.PathRewrite{Full: "/full"}}}}}}
	out, issues := Encode(cfg)
	if len(issues) > 0 {
		t.Fatal(issues)
	}
	if want := "      paths: [/*, /x]\n      pathRegex: [/re.*]\n      pathPrefix: [/seg]\n"; !strings.Contains(string(out), want) {
		t.Errorf("no %q in:\n%s", want, out)
	}
}

// TestCELConditions reads the native form of CEL conditions (key: cel,
// payloadKey), refuses payloadKey elsewhere, and writes them back.
func TestCELConditions(t *testing.T) {
	const expr = "'admins' in metadata.filter_metadata['envoy.filters.http.jwt_authn']['payload']['groups']"
	r := decode(t, "conf/a.yaml", `apiVersion: jwtgate.dev/v1alpha1
kind: Config
policies:
  - name: p
    action: DENY
    rules:
      - when:
          - key: cel
            values: ["`+expr+`"]
          - {key: cel, payloadKey: users, notValues: ["request.method == 'GET'", "xds.route_name == 'r'"]}
          - {claim: team, payloadKey: users, values: [dev]}
`)
	var errs []string
	for _, is := range r.Issues.Errors() {
		errs = append(errs, is.Error())
	}
	if want := []string{`conf/a.yaml:11: policies[0].rules[0].when[2].payloadKey: payloadKey goes with key: cel only`}; !reflect.DeepEqual(errs, want) {
		t.Fatalf("errors %q, want %q", errs, want)
	}
	p := r.Config.Policies[0]
	want := []model.Condition{
		{Kind: model.CondCEL, Values: []string{expr}},
		{Kind: model.CondCEL, Name: "users", NotValues: []string{"request.method == 'GET'", "xds.route_name == 'r'"}},
		{Kind: model.CondClaim, Name: "team", Values: []string{"dev"}},
	}
	if !reflect.DeepEqual(p.Rules[0].When, want) {
		t.Fatalf("conditions %+v, want %+v", p.Rules[0].When, want)
	}
	// Validation compiles each expression, at its field and line.
	var checked []string
	for _, is := range model.CheckPolicy(p, nil).Errors() {
		checked = append(checked, is.Error())
	}
	if len(checked) != 1 || !strings.Contains(checked[0], "policies[0].rules[0].when[1].notValues[1]: invalid CEL expression: the expression reads an Envoy attribute jwtgate does not provide: xds") {
		t.Fatalf("CheckPolicy: %q", checked)
	}
	p.Rules[0].When = p.Rules[0].When[:2]
	out, issues := Encode(&model.Config{Policies: []model.Policy{p}})
	if len(issues) > 0 {
		t.Fatal(issues)
	}
	for _, s := range []string{`- key: cel`, `- "` + expr + `"`, `payloadKey: users`, `notValues:`} {
		if !strings.Contains(string(out), s) {
			t.Errorf("output lacks %s:\n%s", s, out)
		}
	}
}
