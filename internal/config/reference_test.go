package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// These tests follow docs/configuration.md key by key: the type, the
// default, the validation and the effect (the model the loader produces)
// of every documented key.

const docsKey = `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"docs","x":"GGsZR3N0a7oyZparsLTnWqDooeDkRdtE2ZVz5mP6Fwc"}]}`

// base is a valid configuration; cases append to its route from line 13
// on.
const base = `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:8080
providers:
  - name: p
    jwks: {inline: '` + docsKey + `'}
routes:
  - name: r
    match: {paths: [/r]}
    backend: {url: http://127.0.0.1:8000}
`

func load(t *testing.T, src string) *model.Config {
	t.Helper()
	cfg, is := LoadBytes("gw.yaml", []byte(src))
	if len(is) != 0 {
		t.Fatalf("issues:\n%s", strings.Join(issueTexts(is), "\n"))
	}
	return cfg
}

func TestDefaults(t *testing.T) {
	cfg := load(t, base+"    jwt: {providers: [p]}\n")
	p := cfg.Providers[0]
	if p.ClockSkew != 60*time.Second || p.MaxTokenBytes != 8192 || p.ForwardToken || p.RequireExpiration ||
		p.MaxLifetime != 0 || p.Algorithms != nil || p.Audiences != nil || p.From != nil || p.Issuer != "" {
		t.Errorf("provider defaults = %+v", p)
	}
	r := cfg.Routes[0]
	if r.Listener != "web" || r.Backend.Timeout != 15*time.Second || r.Backend.ServerName != "" {
		t.Errorf("route defaults = %+v", r)
	}
	if j := r.JWT; j.Mode != model.AuthRequired || j.Phase != model.PhasePreAuthz || j.Priority != 0 || j.RequireAll {
		t.Errorf("jwt defaults = %+v", j)
	}
	if cfg.Listeners[0].TLS != nil {
		t.Errorf("tls = %+v", cfg.Listeners[0].TLS)
	}

	// A remote key set, by uri or by discovery, gets the fetch defaults.
	cfg = load(t, base+`---
apiVersion: jwtgate.dev/v1alpha1
kind: Config
providers:
  - name: remote
    jwks: {uri: https://login.example.com/jwks}
  - name: discovered
    issuer: https://login.example.com
`)
	for _, p := range cfg.Providers[1:] {
		if p.Name == "" {
			t.Fatal(cfg.Providers)
		}
		if k := p.JWKS; k.CacheDuration != 10*time.Minute || k.Timeout != 5*time.Second || k.RefetchInterval != time.Second {
			t.Errorf("%s: jwks = %+v", p.Name, k)
		}
	}
}

func TestEveryKeySet(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "conf", "gw.yaml")
	writeFiles(t, dir, map[string]string{"conf/gw.yaml": `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: :8443
    tls:
      certFile: certs/gw.pem
      keyFile: /etc/gw-key.pem
      clientCAFile: certs/ca.pem
  - name: admin
    address: "[::1]:9090"
    tls: {certFile: gw.pem, keyFile: gw-key.pem, clientCAFile: ca.pem, clientCerts: request}
providers:
  - name: p
    issuer: solo.io
    audiences: [api, web]
    jwks:
      file: keys/jwks.json
    from:
      - {header: X-Auth, prefix: "Bearer "}
      - {query: auth_token}
      - {cookie: token}
    claimsToHeaders:
      - {claim: llms.openai, header: x-openai, append: true}
    payloadHeader: x-jwt-payload
    forwardToken: true
    clockSkew: 1m30s
    algorithms: [EdDSA, RS256]
    requireExpiration: true
    maxLifetime: 24h
    maxTokenBytes: 0x1000
  - name: remote
    jwks:
      uri: https://login.example.com/jwks
      cacheDuration: 5m
      timeout: 2s
      refetchInterval: 10s
      caFile: ca/idp.pem
routes:
  - name: r
    listener: web
    labels: {app: pay}
    match:
      hosts: [Pay.Example.com, "*.pay.example.com"]
      paths: ["/v1/*", /health, "*"]
      pathRegex: ["/v2/[0-9]+"]
      methods: [get, Post]
      headers: {x-tenant: "*"}
    backend:
      url: https://pay.internal:8443/api
      timeout: 5s
      caFile: ca.pem
      certFile: client.pem
      keyFile: client-key.pem
      serverName: pay.internal
    jwt:
      providers: [p, remote]
      requireAll: true
      allowMissingOrFailed: true
      phase: postAuthz
      priority: -3
jwtPolicies:
  - name: j
    selector: {app: pay}
    providers: [p]
    allowMissing: true
    phase: postAuthz
    priority: 2
policies:
  - name: pol
    action: DENY
    listeners: [admin]
    rules:
      - name: lower-case methods
        to: [{methods: [delete], notMethods: [get]}]
`})
	cfg, is := Load(file)
	// The route's own jwt wins over the jwtPolicy: a warning, not an error.
	if len(is.Errors()) != 0 || len(is) != 1 || !strings.Contains(is[0].Msg, `jwtPolicy "j" not applied to route "r"`) {
		t.Fatalf("issues:\n%s", strings.Join(issueTexts(is), "\n"))
	}
	conf := filepath.Join(dir, "conf")
	in := func(p string) string { return filepath.Join(conf, p) }

	web, admin := cfg.Listeners[0], cfg.Listeners[1]
	if web.Address != ":8443" || !reflect.DeepEqual(*web.TLS, model.ListenerTLS{CertFile: in("certs/gw.pem"), KeyFile: "/etc/gw-key.pem", ClientCAFile: in("certs/ca.pem"), ClientCerts: model.ClientCertsRequire}) {
		t.Errorf("web = %+v %+v", web, web.TLS)
	}
	if admin.TLS.ClientCerts != model.ClientCertsRequest {
		t.Errorf("admin = %+v", admin.TLS)
	}

	p := cfg.Providers[0]
	wantFrom := []model.TokenSource{{Header: "X-Auth", Prefix: "Bearer "}, {Query: "auth_token"}, {Cookie: "token"}}
	if p.Issuer != "solo.io" || strings.Join(p.Audiences, ",") != "api,web" || p.JWKS.File != in("keys/jwks.json") ||
		len(p.From) != 3 || p.From[0] != wantFrom[0] || p.From[1] != wantFrom[1] || p.From[2] != wantFrom[2] ||
		p.ClaimsToHeaders[0] != (model.ClaimToHeader{Claim: "llms.openai", Header: "x-openai", Append: true}) ||
		p.PayloadHeader != "x-jwt-payload" || !p.ForwardToken || p.ClockSkew != 90*time.Second ||
		strings.Join(p.Algorithms, ",") != "EdDSA,RS256" || !p.RequireExpiration || p.MaxLifetime != 24*time.Hour || p.MaxTokenBytes != 4096 {
		t.Errorf("provider = %+v", p)
	}
	if k := cfg.Providers[1].JWKS; k != (model.KeySource{URI: "https://login.example.com/jwks", CacheDuration: 5 * time.Minute, Timeout: 2 * time.Second, RefetchInterval: 10 * time.Second, CAFile: in("ca/idp.pem")}) {
		t.Errorf("remote jwks = %+v", k)
	}

	r := cfg.Routes[0]
	wantPaths := []model.PathMatch{{Kind: model.PathPrefix, Value: "/v1/"}, {Kind: model.PathExact, Value: "/health"}, {Kind: model.PathPrefix, Value: "/"}, {Kind: model.PathRegex, Value: "/v2/[0-9]+"}}
	if r.Listener != "web" || r.Labels["app"] != "pay" || strings.Join(r.Match.Hosts, ",") != "Pay.Example.com,*.pay.example.com" ||
		strings.Join(r.Match.Methods, ",") != "GET,POST" || r.Match.Headers["x-tenant"] != "*" || len(r.Match.Paths) != 4 {
		t.Errorf("route = %+v", r)
	}
	for i := range wantPaths {
		if i < len(r.Match.Paths) && r.Match.Paths[i] != wantPaths[i] {
			t.Errorf("paths[%d] = %+v, want %+v", i, r.Match.Paths[i], wantPaths[i])
		}
	}
	if !reflect.DeepEqual(r.Backend, model.Backend{URL: "https://pay.internal:8443/api", Timeout: 5 * time.Second, CAFile: in("ca.pem"), CertFile: in("client.pem"), KeyFile: in("client-key.pem"), ServerName: "pay.internal"}) {
		t.Errorf("backend = %+v", r.Backend)
	}
	if j := *r.JWT; strings.Join(j.Providers, ",") != "p,remote" || !j.RequireAll || j.Mode != model.AuthAllowMissingOrFailed || j.Phase != model.PhasePostAuthz || j.Priority != -3 {
		t.Errorf("jwt = %+v", j)
	}
	if j := cfg.JWTPolicies[0]; j.Selector["app"] != "pay" || j.Requirement.Mode != model.AuthAllowMissing || j.Requirement.Phase != model.PhasePostAuthz || j.Requirement.Priority != 2 {
		t.Errorf("jwtPolicy = %+v", j)
	}
	// Methods in policies are upper-cased as in a route's match: a DENY
	// of "delete" must stop DELETE.
	if to := cfg.Policies[0].Rules[0].To[0]; strings.Join(to.Methods, ",") != "DELETE" || strings.Join(to.NotMethods, ",") != "GET" {
		t.Errorf("to = %+v", to)
	}
}

// TestRelativeFiles: relative file names resolve against the folder of the
// file that names them, whether the configuration is given as a relative
// file, a relative folder or an absolute path.
func TestRelativeFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"conf/gw.yaml": `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:8443
    tls: {certFile: certs/gw.pem, keyFile: ../keys/gw-key.pem}
providers:
  - name: p
    jwks: {file: keys/jwks.json}
`,
		"conf/sub/routes.yaml": `apiVersion: jwtgate.dev/v1alpha1
kind: Config
routes:
  - name: r
    backend: {url: https://127.0.0.1:8000, caFile: ca.pem}
`,
	})
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"conf/gw.yaml", "conf/sub/routes.yaml"},
		{"./conf/", "conf/sub"},
		{filepath.Join(dir, "conf"), filepath.Join(dir, "conf", "sub", "routes.yaml")},
	} {
		cfg, is := Load(args...)
		if len(is) != 0 {
			t.Fatalf("%v: %s", args, issueTexts(is))
		}
		root := filepath.Dir(filepath.Clean(args[0]))
		if !strings.HasSuffix(args[0], ".yaml") {
			root = filepath.Clean(args[0])
		}
		if got, want := cfg.Providers[0].JWKS.File, filepath.Join(root, "keys", "jwks.json"); got != want {
			t.Errorf("%v: jwks.file = %q, want %q", args, got, want)
		}
		if got, want := cfg.Listeners[0].TLS.KeyFile, filepath.Join(filepath.Dir(root), "keys", "gw-key.pem"); got != want {
			t.Errorf("%v: keyFile = %q, want %q", args, got, want)
		}
		if got, want := cfg.Routes[0].Backend.CAFile, filepath.Join(root, "sub", "ca.pem"); got != want {
			t.Errorf("%v: caFile = %q, want %q", args, got, want)
		}
	}
}

// provLast is a valid configuration whose last resource is the provider;
// cases append its keys from line 12 on.
const provLast = `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:8080
routes:
  - name: r
    backend: {url: http://127.0.0.1:8000}
providers:
  - name: p
    issuer: https://login.example.com
`

// TestValues checks the value types of the reference's last table.
func TestValues(t *testing.T) {
	const at = "    clockSkew: "
	inline := "    jwks: {inline: '" + docsKey + "'}\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		// durations
		{"duration 60s", provLast + at + "60s\n", nil},
		{"duration 1m30s", provLast + at + "1m30s\n", nil},
		{"duration 500ms", provLast + at + "500ms\n", []string{`gw.yaml:12: warning: providers[0].clockSkew: token times are whole seconds: 500ms is applied as 0s (provider "p")`}},
		{"duration quoted", provLast + at + "\"60s\"\n", nil},
		{"duration null is the default", provLast + at + "~\n", nil},
		{"bare number", provLast + at + "60\n", []string{`gw.yaml:12: providers[0].clockSkew: invalid duration "60" (a duration needs a unit, such as "60s") (provider "p")`}},
		{"bare zero", provLast + at + "0\n", []string{`gw.yaml:12: providers[0].clockSkew: invalid duration "0" (a duration needs a unit, such as "60s") (provider "p")`}},
		{"negative", provLast + at + "-1s\n", []string{`gw.yaml:12: providers[0].clockSkew: must not be negative, got -1s (provider "p")`}},
		{"days", provLast + at + "1d\n", []string{`gw.yaml:12: providers[0].clockSkew: invalid duration "1d" (provider "p")`}},
		{"empty", provLast + at + "\"\"\n", []string{`gw.yaml:12: providers[0].clockSkew: invalid duration "" (provider "p")`}},
		{"overflow", provLast + at + "9999999h\n", []string{`gw.yaml:12: providers[0].clockSkew: invalid duration "9999999h" (provider "p")`}},
		{"list", provLast + at + "[1s]\n", []string{`gw.yaml:12: providers[0].clockSkew: expected a duration, got a list (provider "p")`}},
		{"zero clock skew is fine", provLast + at + "0s\n", nil},
		// booleans
		{"bool", provLast + "    forwardToken: true\n", nil},
		{"bool yes", provLast + "    forwardToken: yes\n", []string{`gw.yaml:12: providers[0].forwardToken: invalid boolean "yes" (want true or false) (provider "p")`}},
		{"bool quoted yes", provLast + "    forwardToken: \"yes\"\n", []string{`gw.yaml:12: providers[0].forwardToken: invalid boolean "yes" (want true or false) (provider "p")`}},
		{"bool number", provLast + "    forwardToken: 1\n", []string{`gw.yaml:12: providers[0].forwardToken: invalid boolean "1" (want true or false) (provider "p")`}},
		// integers
		{"integer", provLast + "    maxTokenBytes: 4096\n", nil},
		{"integer hex", provLast + "    maxTokenBytes: 0x1000\n", nil},
		{"integer octal", provLast + "    maxTokenBytes: 010000\n", []string{`gw.yaml:12: providers[0].maxTokenBytes: invalid integer "010000" (want a decimal integer, or hexadecimal with 0x) (provider "p")`}},
		{"integer 0o", provLast + "    maxTokenBytes: 0o10000\n", []string{`gw.yaml:12: providers[0].maxTokenBytes: invalid integer "0o10000" (want a decimal integer, or hexadecimal with 0x) (provider "p")`}},
		{"integer separators", provLast + "    maxTokenBytes: 4_096\n", []string{`gw.yaml:12: providers[0].maxTokenBytes: invalid integer "4_096" (want a decimal integer, or hexadecimal with 0x) (provider "p")`}},
		{"integer float", provLast + "    maxTokenBytes: 4096.0\n", []string{`gw.yaml:12: providers[0].maxTokenBytes: invalid integer "4096.0" (provider "p")`}},
		{"integer zero", provLast + "    maxTokenBytes: 0\n", []string{`gw.yaml:12: providers[0].maxTokenBytes: must be positive (provider "p")`}},
		{"integer negative", provLast + "    maxTokenBytes: -1\n", []string{`gw.yaml:12: providers[0].maxTokenBytes: must not be negative, got -1 (provider "p")`}},
		// strings are any scalar; header names are HTTP tokens
		{"numbers as strings", base + "    labels: {x-a: 1}\n  - name: 123\n    match: {paths: [/n]}\n    backend: {url: http://127.0.0.1:8000}\n", nil},
		{"header name number", provLast + "    claimsToHeaders: [{claim: 1, header: 1}]\n", nil},
		{"header name", provLast + "    payloadHeader: \"x payload\"\n", []string{`gw.yaml:12: providers[0].payloadHeader: invalid header name "x payload" (provider "p")`}},
		// zeros that would silently stand for the default
		{"zero fetch settings", provLast + "    jwks: {uri: https://a.example/jwks, timeout: 0s, cacheDuration: 0s, refetchInterval: 0s}\n", []string{
			`gw.yaml:12: providers[0].jwks.cacheDuration: must be positive (provider "p")`,
			`gw.yaml:12: providers[0].jwks.timeout: must be positive (provider "p")`,
			`gw.yaml:12: providers[0].jwks.refetchInterval: must be positive (provider "p")`,
		}},
		{"zero backend timeout", base + "  - name: s\n    match: {paths: [/s]}\n    backend: {url: http://127.0.0.1:8000, timeout: 0s}\n", []string{
			`gw.yaml:15: routes[1].backend.timeout: must be positive (route "s")`,
		}},
		{"a key set and an issuer", provLast + inline, nil},
		{"remote-only keys warn", strings.Replace(provLast, "    issuer: https://login.example.com\n", "", 1) + "    jwks:\n      inline: '" + docsKey + "'\n      timeout: 1s\n      caFile: ca.pem\n", []string{
			`gw.yaml:13: warning: providers[0].jwks.timeout: ignored: only used with a remote key set (uri, or OIDC discovery) (provider "p")`,
			`gw.yaml:14: warning: providers[0].jwks.caFile: ignored: only used with a remote key set (uri, or OIDC discovery) (provider "p")`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, is := LoadBytes("gw.yaml", []byte(tt.src))
			checkIssues(t, cfg, is, tt.want)
		})
	}
}
