package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/proxy"
)

// TestCompileErrors: every error of a configuration, found while reading,
// validating or building it, is reported once, with its exact
// file:line: field path text, every bad element of a list on its own, and
// nothing that only follows from an error already reported.
func TestCompileErrors(t *testing.T) {
	const head = "apiVersion: jwtgate.dev/v1alpha1\nkind: Config\nlisteners:\n  - name: web\n    address: 127.0.0.1:8080\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"build-time files, JWKS contents, regexes", head + `    tls:
      certFile: missing.pem
      keyFile: missing-key.pem
providers:
  - name: file
    jwks:
      file: nothing.json
  - name: empty
    jwks:
      inline: '{"keys":[]}'
routes:
  - name: r
    match:
      pathRegex: ["/ok/.*", "/bad/(", "/also[bad"]
    backend:
      url: https://127.0.0.1:8443
      caFile: no-ca.pem
    jwt:
      providers: [file, empty]
`, []string{
			`gw.yaml:7: listeners[0].tls.certFile: loading certificate: open missing.pem: no such file or directory (listener "web")`,
			`gw.yaml:12: providers[0].jwks.file: reading key file: open nothing.json: no such file or directory (provider "file")`,
			`gw.yaml:15: providers[1].jwks.inline: parsing jwks: no keys (provider "empty")`,
			`gw.yaml:19: routes[0].match.pathRegex[1]: invalid regex "/bad/(": missing closing ) (route "r")`,
			`gw.yaml:19: routes[0].match.pathRegex[2]: invalid regex "/also[bad": missing closing ] (route "r")`,
			`gw.yaml:22: routes[0].backend.caFile: reading CA file: open no-ca.pem: no such file or directory (route "r")`,
		}},
		{"several bad elements of one list", head + `routes:
  - name: r
    backend: {url: http://127.0.0.1:8000}
policies:
  - name: p
    action: DENY
    rules:
      - to:
          - paths:
              - /fine
              - no-slash
              - /q?x
              - /also-fine
              - "/a*b"
`, []string{
			`gw.yaml:16: policies[0].rules[0].to[0].paths[1]: "no-slash": a path starts with "/" (or write "*suffix") (policy "p")`,
			`gw.yaml:17: policies[0].rules[0].to[0].paths[2]: "/q?x": "?" and "#" start the query and the fragment, which are not part of the path (policy "p")`,
			`gw.yaml:19: policies[0].rules[0].to[0].paths[4]: invalid pattern "/a*b": "*" is only allowed as the whole value, its first or its last character (policy "p")`,
		}},
		{"YAML syntax error at the parser's line", head + "routes:\n  - name: r\n    backend: {url: http://x\n", []string{
			`gw.yaml:8: invalid YAML: did not find expected ',' or '}'`,
		}},
		{"no follow-on noise from an undecodable match", head + `routes:
  - name: a
    match: {paths: 7}
    backend: {url: http://127.0.0.1:8000}
  - name: b
    match: {paths: [/x]}
    backend: {url: http://127.0.0.1:8000}
`, []string{
			`gw.yaml:8: routes[0].match.paths: expected a list, got an integer (route "a")`,
		}},
		{"egress: every field at its line", head + `  - name: egress
    address: 127.0.0.1:15443
    egress:
      connectPorts: [443, 70000]
      resolve: [httpbin.org]
egress:
  servers:
    - name: httpbin
      host: httpbin.org
      tls:
        mode: MUTUAL
        certFile: client.pem
      inject:
        - header: Host
          file: no-such-secret
    - name: twice
      host: HTTPBIN.org
  authorizations:
    - name: gw
      rules:
        - to:
            - hosts: [a.com]
            - hosts: [b.com, a.com, b.com]
        - from: [{namespaces: [x]}]
`, []string{
			`gw.yaml:9: listeners[1].egress.connectPorts[1]: invalid port 70000 (listener "egress")`,
			`gw.yaml:10: listeners[1].egress.resolve[0]: resolve "httpbin.org": want HOST:PORT:ADDR[,ADDR...] (listener "egress")`,
			`gw.yaml:14: warning: egress.servers[0].host: no gateway-wide egress rule names host "httpbin.org" or *: every request to it is denied (egress server "httpbin")`,
			`gw.yaml:15: egress.servers[0].tls.keyFile: required with mode MUTUAL (egress server "httpbin")`,
			`gw.yaml:17: egress.servers[0].tls.certFile: loading client certificate: open client.pem: no such file or directory (egress server "httpbin")`,
			`gw.yaml:19: egress.servers[0].inject[0].header: header "Host" cannot be injected (egress server "httpbin")`,
			`gw.yaml:20: egress.servers[0].inject[0].file: reading credential file: no such file or directory (egress server "httpbin")`,
			`gw.yaml:22: egress.servers[1].host: host "HTTPBIN.org" is served by egress server "httpbin" (gw.yaml:13) already (egress server "twice")`,
			`gw.yaml:22: warning: egress.servers[1].host: no gateway-wide egress rule names host "HTTPBIN.org" or *: every request to it is denied (egress server "twice")`,
			`gw.yaml:28: egress.authorizations[0].rules[0].to[1].hosts[2]: host "b.com" listed twice (egress authorization "gw")`,
			`gw.yaml:29: egress.authorizations[0].rules[1].to: required: a rule names the hosts it allows (* for any) (egress authorization "gw")`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "gw.yaml")
			if err := os.WriteFile(file, []byte(tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			snap := Compile([]string{file}, proxy.Options{})
			if snap.OK() {
				snap.Runtime.Close()
				t.Fatal("compiled without errors")
			}
			var got []string
			for _, is := range snap.Issues {
				got = append(got, strings.ReplaceAll(strings.ReplaceAll(is.Error(), dir+"/", ""), dir, "DIR"))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("issues:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, st := range snap.Statuses {
				if st.Accepted() {
					t.Errorf("%s reads Accepted in a refused configuration", st)
				}
			}
		})
	}
}
