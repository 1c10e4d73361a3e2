package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/dialect/conditionkey"
	"jwtgate.dev/jwtgate/internal/model"
)

// head is a valid start that cases extend from line 10 on.
const head = `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:8080
providers:
  - name: p
    jwks:
      inline: '{"keys":[]}'
`

// route is a valid route on lines 10-14 after head.
const route = `routes:
  - name: r
    backend:
      url: http://127.0.0.1:8000
    jwt: {providers: [p]}
`

func issueTexts(is model.Issues) []string {
	var out []string
	for _, i := range is {
		out = append(out, i.Error())
	}
	return out
}

func checkIssues(t *testing.T, cfg *model.Config, is model.Issues, want []string) {
	t.Helper()
	got := issueTexts(is)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("issues:\n%s\nwant:\n%s", quoteLines(got), quoteLines(want))
	}
	if len(is.Errors()) > 0 && cfg != nil {
		t.Errorf("config returned along with errors")
	}
	if len(is.Errors()) == 0 && cfg == nil {
		t.Errorf("no config returned without errors")
	}
}

func quoteLines(ss []string) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString("\t\t\t`" + s + "`,\n")
	}
	return b.String()
}

func TestBadConfigs(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown top-level key", head + "listenres: []\n", []string{
			`bad.yaml:10: unknown field "listenres"`,
		}},
		{"unknown listener key", `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:8443
    tlss: {certFile: a.pem}
`, []string{
			`bad.yaml:6: listeners[0]: unknown field "tlss" (listener "web")`,
		}},
		{"bad duration", head + "    clockSkew: 5x\n", []string{
			`bad.yaml:10: providers[0].clockSkew: invalid duration "5x" (provider "p")`,
		}},
		{"duration without unit", head + "    maxLifetime: 3600\n", []string{
			`bad.yaml:10: providers[0].maxLifetime: invalid duration "3600" (a duration needs a unit, such as "60s") (provider "p")`,
		}},
		{"wrong kinds", head + "routes: {name: r}\npolicies:\n  - name: x\n    action: [ALLOW]\n    rules: {}\n", []string{
			`bad.yaml:10: routes: expected a list, got a mapping`,
			`bad.yaml:13: policies[0].action: expected a string, got a list (policy "x")`,
			`bad.yaml:14: policies[0].rules: expected a list, got a mapping (policy "x")`,
		}},
		{"bad boolean and integer", head + "    forwardToken: yes\n    maxTokenBytes: lots\n", []string{
			`bad.yaml:10: providers[0].forwardToken: invalid boolean "yes" (want true or false) (provider "p")`,
			`bad.yaml:11: providers[0].maxTokenBytes: invalid integer "lots" (provider "p")`,
		}},
		{"duplicate key", head + route + "    name: again\n", []string{
			`bad.yaml:15: routes[0]: duplicate key "name" (first on line 11) (route "r")`,
		}},
		{"duplicate listener name", `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:8080
  - name: web
    address: 127.0.0.1:8081
`, []string{
			`bad.yaml:6: listeners[1].name: duplicate listener name "web", first defined at bad.yaml:4 (listener "web")`,
		}},
		{"listener address and tls", `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: a
    address: localhost
  - name: b
    address: 127.0.0.1:99999
    tls:
      certFile: gw.pem
      clientCerts: always
  - name: c
    address: :8443
    tls: {certFile: gw.pem, keyFile: gw-key.pem, clientCerts: request}
  - address: 127.0.0.1:1
`, []string{
			`bad.yaml:5: listeners[0].address: invalid address "localhost": missing port in address (listener "a")`,
			`bad.yaml:7: listeners[1].address: invalid address "127.0.0.1:99999": invalid port "99999" (listener "b")`,
			`bad.yaml:8: listeners[1].tls.keyFile: required (listener "b")`,
			`bad.yaml:10: listeners[1].tls.clientCerts: invalid value "always" (want require or request) (listener "b")`,
			`bad.yaml:13: listeners[2].tls.clientCerts: needs clientCAFile (listener "c")`,
			`bad.yaml:14: listeners[3].name: required`,
		}},
		{"key sources", head + `  - name: two
    jwks: {inline: '{"keys":[]}', uri: https://a.example/jwks}
  - name: none
  - name: ftp
    jwks: {uri: ftp://a.example/jwks}
  - name: plain
    jwks: {uri: http://keys.example.com/jwks}
  - name: local
    jwks: {uri: http://127.0.0.1:9000/jwks}
  - name: oidc
    issuer: solo.io
  - name: badjson
    jwks: {inline: '{"keys": [}'}
  - name: badpem
    jwks: {pem: "not a key"}
`, []string{
			`bad.yaml:11: providers[1].jwks: only one of inline, file, pem, uri may be set, got inline and uri (provider "two")`,
			`bad.yaml:12: providers[2].jwks: one of inline, file, pem, uri is required when issuer is empty (provider "none")`,
			`bad.yaml:14: providers[3].jwks.uri: invalid URL "ftp://a.example/jwks": scheme must be http or https (provider "ftp")`,
			`bad.yaml:16: warning: providers[4].jwks.uri: keys fetched over plain http from "keys.example.com" can be tampered with in transit; use https (provider "plain")`,
			`bad.yaml:20: providers[6].issuer: OIDC discovery needs issuer to be an http(s) URL, got "solo.io" (or set one of jwks.inline, file, pem, uri) (provider "oidc")`,
			`bad.yaml:22: providers[7].jwks.inline: invalid JWKS: invalid character '}' looking for beginning of value (provider "badjson")`,
			`bad.yaml:24: providers[8].jwks.pem: no PEM block found (provider "badpem")`,
		}},
		{"token sources and outputs", head + `    from:
      - {header: X-Auth, query: tok}
      - {query: tok, prefix: "Bearer "}
      - {}
      - {header: "X Auth"}
    claimsToHeaders:
      - {claim: team, header: "x team"}
      - {header: x-org}
    payloadHeader: "x:payload"
    algorithms: [RS256, RS257, none]
    clockSkew: -1s
`, []string{
			`bad.yaml:11: providers[0].from[0]: exactly one of header, query, cookie is required (provider "p")`,
			`bad.yaml:12: providers[0].from[1].prefix: only allowed with header (provider "p")`,
			`bad.yaml:13: providers[0].from[2]: exactly one of header, query, cookie is required (provider "p")`,
			`bad.yaml:14: providers[0].from[3].header: invalid header name "X Auth" (provider "p")`,
			`bad.yaml:16: providers[0].claimsToHeaders[0].header: invalid header name "x team" (provider "p")`,
			`bad.yaml:17: providers[0].claimsToHeaders[1].claim: required (provider "p")`,
			`bad.yaml:18: providers[0].payloadHeader: invalid header name "x:payload" (provider "p")`,
			`bad.yaml:19: providers[0].algorithms[1]: unknown algorithm "RS257" (known: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512) (provider "p")`,
			`bad.yaml:19: providers[0].algorithms[2]: unknown algorithm "none" (known: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512) (provider "p")`,
			`bad.yaml:20: providers[0].clockSkew: must not be negative, got -1s (provider "p")`,
		}},
		{"route references", `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - {name: a, address: 127.0.0.1:8080}
  - {name: b, address: 127.0.0.1:8081}
providers:
  - name: prod
    jwks: {inline: '{"keys":[]}'}
routes:
  - name: one
    backend: {url: http://127.0.0.1:8000}
  - name: two
    listener: c
    backend: {url: http://127.0.0.1:8000}
  - name: three
    listener: a
    backend: {url: http://127.0.0.1:8000}
    jwt:
      providers: [dev]
`, []string{
			`bad.yaml:10: routes[0].listener: required when there is not exactly one listener (route "one")`,
			`bad.yaml:13: routes[1].listener: unknown listener "c" (route "two")`,
			`bad.yaml:19: routes[2].jwt.providers[0]: unknown provider "dev" (route "three")`,
		}},
		{"backend", head + `routes:
  - name: nourl
    backend: {timeout: 2s}
  - name: ftp
    backend: {url: ftp://files.example.com}
  - name: nohost
    backend: {url: "http:///x", certFile: c.pem, timeout: -2s}
  - name: nobackend
`, []string{
			`bad.yaml:12: routes[0].backend.url: required (route "nourl")`,
			`bad.yaml:13: warning: routes[1]: never matches: route "nourl" (bad.yaml:11) comes first and matches every request this route matches (route "ftp")`,
			`bad.yaml:14: routes[1].backend.url: invalid URL "ftp://files.example.com": scheme must be http or https (route "ftp")`,
			`bad.yaml:15: warning: routes[2]: never matches: route "nourl" (bad.yaml:11) comes first and matches every request this route matches (route "nohost")`,
			`bad.yaml:16: routes[2].backend.url: invalid URL "http:///x": missing host (route "nohost")`,
			`bad.yaml:16: routes[2].backend.timeout: must not be negative, got -2s (route "nohost")`,
			`bad.yaml:16: routes[2].backend.keyFile: required with certFile (route "nohost")`,
			`bad.yaml:17: routes[3].backend.url: required (route "nobackend")`,
			`bad.yaml:17: warning: routes[3]: never matches: route "nourl" (bad.yaml:11) comes first and matches every request this route matches (route "nobackend")`,
		}},
		{"jwt requirement", head + `routes:
  - name: r
    backend: {url: http://127.0.0.1:8000}
    jwt:
      providers: []
      phase: during
      allowMissing: true
      allowMissingOrFailed: true
`, []string{
			`bad.yaml:14: routes[0].jwt.providers: required (route "r")`,
			`bad.yaml:15: routes[0].jwt.phase: invalid phase "during" (want preAuthz or postAuthz) (route "r")`,
			`bad.yaml:17: routes[0].jwt.allowMissingOrFailed: allowMissing and allowMissingOrFailed exclude each other (route "r")`,
		}},
		{"route match", head + `routes:
  - name: r
    backend: {url: http://127.0.0.1:8000}
    match:
      hosts: ["a b", "*.ok.example", "x.*.example"]
      paths: [/ok, "/a/*/b", nope, "/p/*"]
      pathRegex: ["/ok/.*", "/(unclosed"]
      methods: [get, "GE T"]
      headers: {"x bad": "*"}
`, []string{
			`bad.yaml:14: routes[0].match.hosts[0]: invalid host "a b" (want a host name, *.suffix or *) (route "r")`,
			`bad.yaml:14: routes[0].match.hosts[2]: invalid host "x.*.example" (want a host name, *.suffix or *) (route "r")`,
			`bad.yaml:15: routes[0].match.paths[1]: invalid path "/a/*/b": "*" is only allowed at the end (route "r")`,
			`bad.yaml:15: routes[0].match.paths[2]: invalid path "nope": must start with "/" (route "r")`,
			`bad.yaml:16: routes[0].match.pathRegex[1]: invalid regex "/(unclosed": missing closing ) (route "r")`,
			`bad.yaml:17: routes[0].match.methods[1]: invalid method "GE T" (route "r")`,
			`bad.yaml:18: routes[0].match.headers: invalid header name "x bad" (route "r")`,
		}},
		{"shadowed routes", head + `routes:
  - name: all
    backend: {url: http://127.0.0.1:8000}
  - name: later
    match: {paths: ["/x"]}
    backend: {url: http://127.0.0.1:8000}
`, []string{
			`bad.yaml:13: warning: routes[1]: never matches: route "all" (bad.yaml:11) comes first and matches every request this route matches (route "later")`,
		}},
		{"shadowed by prefix", head + `routes:
  - name: api
    match: {paths: ["/api/*"], hosts: [a.example]}
    backend: {url: http://127.0.0.1:8000}
  - name: other-host
    match: {paths: ["/api/v1"], hosts: [b.example]}
    backend: {url: http://127.0.0.1:8000}
  - name: v1
    match: {paths: ["/api/v1", "/api/v2/*"], hosts: [A.example], methods: [GET]}
    backend: {url: http://127.0.0.1:8000}
`, []string{
			`bad.yaml:17: warning: routes[2]: never matches: route "api" (bad.yaml:11) comes first and matches every request this route matches (route "v1")`,
		}},
		{"match modes", head + `routes:
  - name: both
    backend: {url: http://127.0.0.1:8000}
    jwt:
      providers: [p]
      authIfMatched: {paths: [/a]}
      bypassIfMatched: {paths: [/b]}
  - name: empty
    backend: {url: http://127.0.0.1:8000}
    jwt:
      providers: [p]
      authIfMatched: {}
  - name: failed
    backend: {url: http://127.0.0.1:8000}
    jwt:
      providers: [p]
      allowMissingOrFailed: true
      bypassIfMatched: {paths: [/b]}
  - name: pattern
    backend: {url: http://127.0.0.1:8000}
    jwt:
      providers: [p]
      authIfMatched: {paths: [/ok, "/a*b"], methods: ["GE T"]}
  - name: late
    backend: {url: http://127.0.0.1:8000}
    jwt:
      providers: [p]
      phase: postAuthz
      authIfMatched: {paths: [/p]}
`, []string{
			`bad.yaml:16: routes[0].jwt.bypassIfMatched: authIfMatched and bypassIfMatched exclude each other (route "both")`,
			`bad.yaml:17: warning: routes[1]: never matches: route "both" (bad.yaml:11) comes first and matches every request this route matches (route "empty")`,
			`bad.yaml:21: routes[1].jwt.authIfMatched: one of paths, methods is required (route "empty")`,
			`bad.yaml:22: warning: routes[2]: never matches: route "both" (bad.yaml:11) comes first and matches every request this route matches (route "failed")`,
			`bad.yaml:27: routes[2].jwt.bypassIfMatched: bypassIfMatched cannot be combined with allowMissingOrFailed (an invalid token must still be rejected) (route "failed")`,
			`bad.yaml:28: warning: routes[3]: never matches: route "both" (bad.yaml:11) comes first and matches every request this route matches (route "pattern")`,
			`bad.yaml:32: routes[3].jwt.authIfMatched.paths[1]: invalid pattern "/a*b": "*" is only allowed as the whole value, its first or its last character (policy "pattern/authIfMatched")`,
			`bad.yaml:32: routes[3].jwt.authIfMatched.methods[0]: invalid method "GE T" (policy "pattern/authIfMatched")`,
			`bad.yaml:33: warning: routes[4]: never matches: route "both" (bad.yaml:11) comes first and matches every request this route matches (route "late")`,
			`bad.yaml:38: routes[4].jwt.authIfMatched: authIfMatched cannot be combined with phase postAuthz (its policy must see the verified token) (route "late")`,
		}},
		{"jwt policies", head + route + `jwtPolicies:
  - name: a
    routes: [r, ghost]
    providers: [p]
  - name: b
    selector: {team: x}
    providers: [dev]
    phase: later
  - name: a
    providers: [p]
`, []string{
			`bad.yaml:16: warning: jwtPolicies[0]: jwtPolicy "a" not applied to route "r": route already has a JWT requirement of its own (jwtPolicy "a")`,
			`bad.yaml:17: jwtPolicies[0].routes[1]: unknown route "ghost" (jwtPolicy "a")`,
			`bad.yaml:20: warning: jwtPolicies[1].selector: matches no route (jwtPolicy "b")`,
			`bad.yaml:21: jwtPolicies[1].providers[0]: unknown provider "dev" (jwtPolicy "b")`,
			`bad.yaml:22: jwtPolicies[1].phase: invalid phase "later" (want preAuthz or postAuthz) (jwtPolicy "b")`,
			`bad.yaml:23: jwtPolicies[2].name: duplicate jwtPolicy name "a", first defined at bad.yaml:16 (jwtPolicy "a")`,
			`bad.yaml:23: warning: jwtPolicies[2]: jwtPolicy "a" not applied to route "r": route already has a JWT requirement of its own (jwtPolicy "a")`,
		}},
		{"policies", head + route + `policies:
  - name: noaction
    routes: [ghost]
    listeners: [nope]
  - name: bad
    action: ALOW
    selector: {team: none}
    rules:
      - from:
          - ipBlocks: [10.0.0.0/8, 1.2.3.4, 10.0.0/33]
            requestPrincipals: ["a*b"]
        to:
          - ports: [0, 443, 70000]
            paths: ["/a/*/b", "*.css", "/x*"]
            methods: ["GE T"]
        when:
          - {claim: team}
          - {claim: team, header: x, values: [a]}
          - {key: "connection.sni", values: [a]}
          - {key: "request.auth.claims[groups][0]", values: [a]}
`, []string{
			`bad.yaml:16: policies[0].action: required (ALLOW or DENY) (policy "noaction")`,
			`bad.yaml:17: policies[0].routes[0]: unknown route "ghost" (policy "noaction")`,
			`bad.yaml:18: policies[0].listeners[0]: unknown listener "nope" (policy "noaction")`,
			`bad.yaml:20: policies[1].action: invalid action "ALOW" (want ALLOW or DENY) (policy "bad")`,
			`bad.yaml:21: warning: policies[1].selector: matches no route (policy "bad")`,
			`bad.yaml:24: policies[1].rules[0].from[0].ipBlocks[2]: invalid IP address or CIDR block "10.0.0/33" (policy "bad")`,
			`bad.yaml:25: policies[1].rules[0].from[0].requestPrincipals[0]: invalid pattern "a*b": "*" is only allowed as the whole value, its first or its last character (policy "bad")`,
			`bad.yaml:27: policies[1].rules[0].to[0].ports[0]: invalid port 0 (want 1 to 65535) (policy "bad")`,
			`bad.yaml:27: policies[1].rules[0].to[0].ports[2]: invalid port 70000 (want 1 to 65535) (policy "bad")`,
			`bad.yaml:28: policies[1].rules[0].to[0].paths[0]: invalid pattern "/a/*/b": "*" is only allowed as the whole value, its first or its last character (policy "bad")`,
			`bad.yaml:29: policies[1].rules[0].to[0].methods[0]: invalid method "GE T" (policy "bad")`,
			`bad.yaml:31: policies[1].rules[0].when[0]: values or notValues is required (policy "bad")`,
			`bad.yaml:32: policies[1].rules[0].when[1]: exactly one of claim, header, key is required (policy "bad")`,
			`bad.yaml:33: policies[1].rules[0].when[2].key: condition key "connection.sni" is not evaluated by jwtgate (supported: ` + conditionkey.Supported + `) (policy "bad")`,
		}},
		{"unknown version of jwtgate's own format", "apiVersion: jwtgate.dev/v2\nkind: Config\n", []string{
			`bad.yaml:1: unsupported apiVersion "jwtgate.dev/v2" and kind "Config" (supported: ` + supported() + `)`,
		}},
		{"missing apiVersion", "listeners: []\n", []string{
			`bad.yaml:1: missing apiVersion and kind (supported: ` + supported() + `)`,
		}},
		{"not a mapping", "- a\n- b\n", []string{
			`bad.yaml:1: expected a mapping with apiVersion and kind, got a list`,
		}},
		{"yaml syntax", head + "routes:\n  - name: [\n", []string{
			`bad.yaml:11: invalid YAML: did not find expected node content`,
		}},
		{"tabs", "apiVersion: jwtgate.dev/v1alpha1\nkind: Config\nlisteners:\n\t- name: web\n", []string{
			`bad.yaml:4: invalid YAML: tab character in indentation (YAML indents with spaces)`,
		}},
		{"multi-document duplicates", head + route + `---
apiVersion: jwtgate.dev/v1alpha1
kind: Config
routes:
  - name: r
    backend: {url: http://127.0.0.1:9000}
---
---
apiVersion: jwtgate.dev/v1alpha1
kind: Config
providers:
  - name: p
    jwks: {uri: https://keys.example.com}
    clockSkew: 5x
`, []string{
			`bad.yaml:19: routes[0].name: duplicate route name "r", first defined at bad.yaml:11 (route "r")`,
			`bad.yaml:19: warning: routes[0]: never matches: route "r" (bad.yaml:11) comes first and matches every request this route matches (route "r")`,
			`bad.yaml:26: providers[0].name: duplicate provider name "p", first defined at bad.yaml:7 (provider "p")`,
			`bad.yaml:28: providers[0].clockSkew: invalid duration "5x" (provider "p")`,
		}},
		{"several errors at once", `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: nowhere
    tlss: {}
providers:
  - name: p
    jwks: {file: keys.json, pem: "x"}
    clockSkew: 5x
routes:
  - name: r
    listener: web
    backend: {url: http://127.0.0.1:8000, timeout: soon}
    jwt: {providers: [p, dev]}
  - name: r
    backend: {url: http://127.0.0.1:8000}
`, []string{
			`bad.yaml:5: listeners[0].address: invalid address "nowhere": missing port in address (listener "web")`,
			`bad.yaml:6: listeners[0]: unknown field "tlss" (listener "web")`,
			`bad.yaml:9: providers[0].jwks: only one of inline, file, pem, uri may be set, got file and pem (provider "p")`,
			`bad.yaml:10: providers[0].clockSkew: invalid duration "5x" (provider "p")`,
			`bad.yaml:14: routes[0].backend.timeout: invalid duration "soon" (route "r")`,
			`bad.yaml:15: routes[0].jwt.providers[1]: unknown provider "dev" (route "r")`,
			`bad.yaml:16: routes[1].name: duplicate route name "r", first defined at bad.yaml:12 (route "r")`,
			`bad.yaml:16: warning: routes[1]: never matches: route "r" (bad.yaml:12) comes first and matches every request this route matches (route "r")`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, is := LoadBytes("bad.yaml", []byte(tt.src))
			checkIssues(t, cfg, is, tt.want)
		})
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
