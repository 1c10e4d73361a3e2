package proxy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// TestEgressBuildIssues: files an egress configuration names are loaded
// when it is compiled, and a problem is reported once, against the field
// that names the file, without the file's contents.
func TestEgressBuildIssues(t *testing.T) {
	dir := t.TempDir()
	twoLines := filepath.Join(dir, "two-lines")
	if err := os.WriteFile(twoLines, []byte("secret-first-line\nsecret-second-line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const head = `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: egress
    address: 127.0.0.1:0
    egress:
`
	tests := []struct {
		name     string
		yaml     string
		field    string // the one error's field path
		contains string
	}{
		{"listener CA bundle missing, shared by two servers", head + `      caFile: /nonexistent/ca.pem
egress:
  servers:
    - {name: a, host: a.example, tls: {mode: SIMPLE}}
    - {name: b, host: b.example, tls: {mode: SIMPLE}}
`, "listeners[0].egress.caFile", "no such file"},
		{"listener CA bundle missing, no TLS server", head + `      caFile: /nonexistent/ca.pem
egress:
  servers:
    - {name: a, host: a.example}
`, "listeners[0].egress.caFile", "no such file"},
		{"server CA bundle missing", head + `      connectPorts: [443]
egress:
  servers:
    - {name: a, host: a.example, tls: {mode: SIMPLE, caFile: /nonexistent/ca.pem}}
`, "egress.servers[0].tls.caFile", "no such file"},
		{"client certificate missing", head + `      connectPorts: [443]
egress:
  servers:
    - {name: a, host: a.example, tls: {mode: MUTUAL, certFile: /nonexistent/c.pem, keyFile: /nonexistent/k.pem}}
`, "egress.servers[0].tls.certFile", "loading client certificate"},
		{"credential file missing", head + `      connectPorts: [443]
egress:
  servers:
    - {name: a, host: a.example, inject: [{header: x-api-key, file: /nonexistent/key}]}
`, "egress.servers[0].inject[0].file", "no such file"},
		{"credential file with two lines", head + `      connectPorts: [443]
egress:
  servers:
    - {name: a, host: a.example, inject: [{header: x-api-key, file: ` + twoLines + `}]}
`, "egress.servers[0].inject[0].file", "line break"},
		{"empty credential file", head + `      connectPorts: [443]
egress:
  servers:
    - {name: a, host: a.example, inject: [{header: x-api-key, file: ` + empty + `}]}
`, "egress.servers[0].inject[0].file", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := gatewaytest.Compile(t, tt.yaml)
			errs := snap.Issues.Errors()
			if len(errs) != 1 {
				t.Fatalf("%d errors, want 1: %v", len(errs), errs)
			}
			msg := errs[0].Error()
			if errs[0].Field != tt.field && !strings.Contains(msg, tt.field+":") {
				t.Errorf("error %q, want it at %s", msg, tt.field)
			}
			if !strings.Contains(msg, tt.contains) || strings.Contains(msg, "secret-") {
				t.Errorf("error %q", msg)
			}
		})
	}
}
