package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/native"
	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// roundTripCase is one configuration read with one selection.
type roundTripCase struct {
	name  string
	paths []string
	sel   dialect.Selection
}

// selections are the selections the dialects' golden tests read their
// inputs with, beyond the zero one, by input file.
var selections = map[string][]dialect.Selection{
	"examples/tsb": {{WorkloadNamespace: "ns1", WorkloadLabels: map[string]string{"app": "istio-egressgateway"}}},
	"internal/dialect/tsb/testdata/select.yaml": {
		{WorkloadNamespace: "egress", WorkloadLabels: map[string]string{"app": "egress-gateway", "team": "a", "pod-template-hash": "x"}},
		{Gateway: "egress-b/team-b"},
	},
	"internal/dialect/tsb/testdata/unsupported.yaml": {
		{Gateway: "gw/mixed"},
		{WorkloadNamespace: "gw", WorkloadLabels: map[string]string{"app": "ingress"}},
	},
	"internal/dialect/gloo/testdata/gateway.yaml": {{BindAddress: "127.0.0.1"}},
	"internal/dialect/gloo/testdata/actions.yaml": {{BindAddress: "127.0.0.1"}},
	"internal/dialect/gloo/testdata/select.yaml": {
		{Gateway: "gateways/north", BindAddress: "127.0.0.1"},
		{Gateway: "east", BindAddress: "127.0.0.1"},
		{WorkloadNamespace: "apps"},
	},
	"internal/dialect/istio/testdata/select.yaml":     {{Gateway: "shop/shop-gw"}},
	"internal/dialect/gatewayapi/testdata/basic.yaml": {{BindAddress: "127.0.0.1"}},
	"internal/dialect/gatewayapi/testdata/select.yaml": {
		{Gateway: "team-a/gw"}, {Gateway: "team-b/gw"}, {Gateway: "egress/tsb-gateway"},
	},
}

// roundTripCases are every example (each folder and each file of
// examples/) and every input under the dialects' testdata, the compile
// tests' and validate's, each with the zero selection and those above.
func roundTripCases(t *testing.T) []roundTripCase {
	t.Helper()
	var inputs []string
	for _, pattern := range []string{
		"examples/*",
		"internal/dialect/*/testdata/*.yaml",
		"internal/gateway/testdata/compile/*.yaml",
		"internal/config/testdata/*.yaml",
		"cmd/jwtgate/testdata/validate/*.yaml",
	} {
		m, err := filepath.Glob(filepath.Join("..", "..", pattern))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, m...)
	}
	var out []roundTripCase
	for _, in := range inputs {
		name := filepath.ToSlash(strings.TrimPrefix(in, filepath.Join("..", "..")+string(filepath.Separator)))
		if fi, err := os.Stat(in); err != nil || (!fi.IsDir() && filepath.Ext(in) != ".yaml") {
			continue // READMEs
		}
		out = append(out, roundTripCase{name: name, paths: []string{in}})
		for i, sel := range selections[name] {
			out = append(out, roundTripCase{name: name + "#" + string(rune('a'+i)), paths: []string{in}, sel: sel})
		}
	}
	return out
}

// converted is a configuration compiled, and its conversion compiled.
type converted struct {
	in, out  *gateway.Snapshot
	dir      string // the folder the output is read from
	yaml     []byte
	refusals model.Issues
	skipped  string // why the input is not converted: it has errors
}

// convertCase compiles c (staged with the files it names, when they are
// missing) and converts it.
func convertCase(t *testing.T, c roundTripCase) *converted {
	t.Helper()
	r := &converted{in: gateway.CompileFor(c.sel, c.paths, proxy.Options{})}
	if !r.in.OK() && len(c.paths) == 1 {
		if staged, ok := stage(t, c.paths[0], r.in.Config); ok {
			c.paths = []string{staged}
			r.in = gateway.CompileFor(c.sel, c.paths, proxy.Options{})
		}
	}
	if !r.in.OK() {
		r.skipped = r.in.Issues.Errors()[0].Error()
		return r
	}
	t.Cleanup(r.in.Runtime.Close)
	r.dir = outputDir(c.paths[0], "")
	r.convert(t)
	return r
}

// convert converts r.in for r.dir and, unless refused, compiles the
// output as if saved there.
func (r *converted) convert(t *testing.T) {
	r.yaml, r.refusals = native.EncodeWith(r.in.Config, native.EncodeOptions{Dir: r.dir})
	if len(r.refusals) > 0 {
		return
	}
	r.out = gateway.CompileBytes(filepath.Join(r.dir, "converted.yaml"), r.yaml, proxy.Options{})
	if r.out.Runtime != nil {
		t.Cleanup(r.out.Runtime.Close)
	}
}

// sanitize gives what was refused for want of a native form one the test
// can make, so that the rest of the input is still checked: a listener's
// inline certificates and keys (the default one and those chosen by SNI)
// are written to files, an unavailable
// backend becomes available, methods are upper-cased. It rebuilds r.in from the changed model and
// converts again.
func (r *converted) sanitize(t *testing.T) {
	cfg := r.in.Config
	// toFiles writes an inline certificate and key to files and names
	// them in place of the PEM.
	toFiles := func(certPEM, keyPEM *[]byte, certFile, keyFile, source *string) {
		if *certPEM == nil {
			return
		}
		dir := t.TempDir()
		*certFile, *keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if os.WriteFile(*certFile, *certPEM, 0o600) != nil || os.WriteFile(*keyFile, *keyPEM, 0o600) != nil {
			t.Fatal("writing the certificate")
		}
		*certPEM, *keyPEM, *source = nil, nil, ""
	}
	for i := range cfg.Listeners {
		tls := cfg.Listeners[i].TLS
		if tls == nil {
			continue
		}
		toFiles(&tls.CertPEM, &tls.KeyPEM, &tls.CertFile, &tls.KeyFile, &tls.CertSource)
		for j := range tls.Certificates {
			c := &tls.Certificates[j]
			toFiles(&c.CertPEM, &c.KeyPEM, &c.CertFile, &c.KeyFile, &c.CertSource)
		}
	}
	upper := func(ms []string) {
		for i, m := range ms {
			ms[i] = strings.ToUpper(m)
		}
	}
	for _, p := range cfg.Policies {
		for _, r := range p.Rules {
			for _, to := range r.To {
				upper(to.Methods)
				upper(to.NotMethods)
			}
		}
	}
	for i := range cfg.Routes {
		rt := &cfg.Routes[i]
		upper(rt.Match.Methods)
		rt.Backend.Unavailable = ""
		for j := range rt.Backends {
			rt.Backends[j].Unavailable = ""
		}
	}
	rt, issues := proxy.Build(cfg, proxy.Options{})
	if rt == nil {
		t.Fatalf("the sanitized model does not build: %v", issues.Err())
	}
	t.Cleanup(rt.Close)
	r.in = &gateway.Snapshot{Config: cfg, Runtime: rt}
	r.convert(t)
}

// TestConvertRoundTrip converts every example and golden input that
// compiles and checks that the output compiles to the same model
// (Origins aside, with the documented normalizations of normalize), the
// same routes as validate explains them and the same egress plans.
// Inputs with no native equivalent must be refused, each refusal one of
// the documented ones; the rest of them is then checked all the same
// (see sanitize).
func TestConvertRoundTrip(t *testing.T) {
	var converted, refused, skipped []string
	for _, c := range roundTripCases(t) {
		t.Run(c.name, func(t *testing.T) {
			r := convertCase(t, c)
			if r.skipped != "" {
				skipped = append(skipped, c.name)
				t.Skipf("does not compile: %s", r.skipped)
			}
			if len(r.refusals) > 0 {
				refused = append(refused, c.name)
				for _, is := range r.refusals {
					if !documentedRefusal(is.Msg) {
						t.Errorf("undocumented refusal: %s", is.Error())
					}
					t.Logf("refused: %s", is.Error())
				}
				if r.sanitize(t); len(r.refusals) > 0 {
					t.Logf("still refused once sanitized: %v", r.refusals.Err())
					return
				}
			} else {
				converted = append(converted, c.name)
			}
			if !r.out.OK() {
				t.Fatalf("the output does not compile: %v\n%s", r.out.Issues.Err(), r.yaml)
			}
			inPlans, outPlans := r.in.Config.EgressPlans(), r.out.Config.EgressPlans()
			want, got := normalize(r.in.Config), normalize(r.out.Config)
			if !reflect.DeepEqual(want, got) {
				t.Errorf("the models differ:\n%s\noutput:\n%s", diff(dump(want), dump(got)), r.yaml)
			}
			if a, b := explained(r.in), explained(r.out); !reflect.DeepEqual(a, b) {
				t.Errorf("the routes differ:\n%s", diff(dump(a), dump(b)))
			}
			plans(inPlans)
			plans(outPlans)
			if !reflect.DeepEqual(inPlans, outPlans) {
				t.Errorf("the egress plans differ:\n%s", diff(dump(inPlans), dump(outPlans)))
			}
		})
	}
	t.Logf("converted %d: %s", len(converted), strings.Join(converted, " "))
	t.Logf("refused (the rest checked) %d: %s", len(refused), strings.Join(refused, " "))
	t.Logf("not compiling %d: %s", len(skipped), strings.Join(skipped, " "))
	if len(converted) < 30 {
		t.Errorf("only %d inputs converted", len(converted))
	}
}

// documentedRefusal reports whether a refusal message is one that
// docs/cli.md lists.
func documentedRefusal(msg string) bool {
	for _, s := range []string{
		"the listener's certificate and key are held inline",
		"the backend is unavailable",
		"a condition on the verified token's issuer",
		"holds a \"*\"",
		"cannot be written as a native path",
		"the native format lists paths before pathPrefix",
		"is not upper case",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// normalize clears the Origins of c, in place, and applies what the
// native decoder fills in where a zero means the same (the documented,
// intended differences of a conversion): the defaults of provider key
// sets, token sizes, backend timeouts, JWT modes and phases, client
// certificate modes; an empty rule list read as none (both deny
// everything); paths in native order (paths, pathRegex, pathPrefix: they
// match the same; no input has another order today, and validate's
// explanation, compared as it is, would show one).
func normalize(c *model.Config) *model.Config {
	clearOrigins(c)
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.TLS != nil && l.TLS.ClientCAFile != "" && l.TLS.ClientCerts == "" {
			l.TLS.ClientCerts = model.ClientCertsRequire
		}
		if l.Egress != nil && l.Egress.ProxyJWT != nil {
			requirement(l.Egress.ProxyJWT)
		}
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		if p.MaxTokenBytes == 0 {
			p.MaxTokenBytes = model.DefaultMaxTokenBytes
		}
		k := &p.JWKS
		if k.Remote() {
			k.CacheDuration = or(k.CacheDuration, model.DefaultJWKSCacheDuration)
			k.Timeout = or(k.Timeout, model.DefaultJWKSTimeout)
			k.RefetchInterval = or(k.RefetchInterval, model.DefaultJWKSRefetchInterval)
		} else {
			k.CacheDuration, k.Timeout, k.RefetchInterval, k.CAFile = 0, 0, 0, ""
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if len(r.Backends) == 0 && r.Redirect == nil && r.DirectResponse == nil {
			r.Backend.Timeout = or(r.Backend.Timeout, model.DefaultBackendTimeout)
		}
		for j := range r.Backends {
			r.Backends[j].Timeout = or(r.Backends[j].Timeout, model.DefaultBackendTimeout)
		}
		slices.SortStableFunc(r.Match.Paths, func(a, b model.PathMatch) int { return pathOrder(a.Kind) - pathOrder(b.Kind) })
		if r.JWT != nil {
			requirement(r.JWT)
		}
	}
	for i := range c.JWTPolicies {
		requirement(&c.JWTPolicies[i].Requirement)
	}
	for i := range c.Egress.Servers {
		s := &c.Egress.Servers[i]
		if s.JWT != nil {
			requirement(s.JWT)
		}
		if s.Authorization != nil && len(s.Authorization.Rules) == 0 {
			s.Authorization.Rules = nil
		}
	}
	for i := range c.Egress.Authorizations {
		if a := &c.Egress.Authorizations[i]; len(a.Rules) == 0 {
			a.Rules = nil
		}
	}
	for i := range c.Policies {
		if p := &c.Policies[i]; len(p.Rules) == 0 {
			p.Rules = nil
		}
	}
	return c
}

func requirement(r *model.JWTRequirement) {
	r.Mode = or(r.Mode, model.AuthRequired)
	r.Phase = or(r.Phase, model.PhasePreAuthz)
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func pathOrder(k model.PathMatchKind) int {
	switch k {
	case model.PathRegex:
		return 1
	case model.PathSegmentPrefix:
		return 2
	}
	return 0
}

// clearOrigins zeroes every model.Origin reachable from v (a pointer).
func clearOrigins(v any) {
	var walk func(reflect.Value)
	origin := reflect.TypeFor[model.Origin]()
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			if v.Type() == origin {
				v.Set(reflect.Zero(origin))
				return
			}
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(v))
}

func dump(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// diff shows where two dumps part: a few lines before the first
// difference and what each side has from there.
func diff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	i := 0
	for i < len(al) && i < len(bl) && al[i] == bl[i] {
		i++
	}
	from := max(0, i-6)
	part := func(l []string) string {
		return strings.Join(l[from:min(len(l), i+8)], "\n")
	}
	return "--- input\n" + part(al) + "\n+++ conversion\n" + part(bl)
}

// stage copies the input file into a folder of its own where it writes
// the certificates, keys, CA bundles, key sets and secrets that the
// configuration names and that are missing (test inputs name files they
// do not ship); false when nothing is missing.
func stage(t *testing.T, file string, cfg *model.Config) (string, bool) {
	t.Helper()
	if cfg == nil || len(missing(cfg)) == 0 {
		return "", false
	}
	dir := t.TempDir()
	for name, kind := range missing(cfg) {
		if filepath.IsAbs(name) || strings.Contains(kind, "|/") { // not the input's to ship
			return "", false
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	staged := filepath.Join(dir, filepath.Base(file))
	if err := os.WriteFile(staged, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ld := config.Read(staged)
	ca := certtest.NewCA(t)
	write := func(name string, content []byte) {
		if !strings.HasPrefix(name, dir+string(filepath.Separator)) {
			t.Fatalf("%s: not in the staging folder", name)
		}
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, kind := range missing(ld.Config) {
		switch kind {
		case "ca":
			write(name, read(ca.File))
		case "jwks":
			write(name, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"docs","x":"GGsZR3N0a7oyZparsLTnWqDooeDkRdtE2ZVz5mP6Fwc"}]}`))
		case "secret":
			write(name, []byte("s3cret\n"))
		default: // a certificate and its key
			certFile, keyFile, _ := ca.Leaf(t, "leaf", []string{"localhost"})
			pair := strings.Split(kind, "|")
			write(pair[0], read(certFile))
			write(pair[1], read(keyFile))
		}
	}
	return staged, true
}

// missing maps each file cfg names that does not exist to its kind: "ca",
// "jwks", "secret", or "CERT|KEY" for a certificate and its key (keyed by
// the certificate).
func missing(cfg *model.Config) map[string]string {
	out := map[string]string{}
	add := func(kind string, files ...string) {
		for _, f := range files {
			if _, err := os.Stat(f); f == "" || err == nil {
				return
			}
		}
		out[files[0]] = kind
	}
	pair := func(cert, key string) {
		if cert != "" && key != "" {
			add(cert+"|"+key, cert, key)
		}
	}
	for _, l := range cfg.Listeners {
		if l.TLS != nil {
			pair(l.TLS.CertFile, l.TLS.KeyFile)
			add("ca", l.TLS.ClientCAFile)
		}
		if l.Egress != nil {
			add("ca", l.Egress.CAFile)
		}
	}
	for _, p := range cfg.Providers {
		add("jwks", p.JWKS.File)
		add("ca", p.JWKS.CAFile)
	}
	for _, r := range cfg.Routes {
		for _, b := range append([]model.Backend{r.Backend}, backends(r)...) {
			pair(b.CertFile, b.KeyFile)
			add("ca", b.CAFile)
		}
	}
	for _, s := range cfg.Egress.Servers {
		if s.TLS != nil {
			pair(s.TLS.CertFile, s.TLS.KeyFile)
			add("ca", s.TLS.CAFile)
		}
		for _, in := range s.Inject {
			add("secret", in.File)
		}
	}
	return out
}

func backends(r model.Route) []model.Backend {
	var out []model.Backend
	for _, b := range r.Backends {
		out = append(out, b.Backend)
	}
	return out
}

// at is where an explanation names a policy's origin.
var at = regexp.MustCompile(` at \S+:\d+( |$)`)

// explained is the snapshot's routes as validate explains them, without
// the origins of policies.
func explained(s *gateway.Snapshot) []proxy.RouteExplanation {
	routes := s.Runtime.Explain()
	for i := range routes {
		for j, p := range routes[i].Policies {
			routes[i].Policies[j] = at.ReplaceAllString(p, "$1")
		}
	}
	return routes
}

// plans clears the origins of the plans' policies, and reads an empty rule
// list as none (the decoder's reading: both deny everything).
func plans(ps []model.EgressPlan) {
	clearOrigins(&ps)
	for i := range ps {
		for j := range ps[i].Policies {
			if len(ps[i].Policies[j].Rules) == 0 {
				ps[i].Policies[j].Rules = nil
			}
		}
	}
}
