package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/proxy"
)

func TestConvertUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "at least one -c PATH is required"},
		{[]string{"-c", "x.yaml", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"-c", "x.yaml", "--gateway", "nons"}, exitUsage, "want NAMESPACE/NAME"},
		{[]string{"-c", "x.yaml", "--resolve", "bad"}, exitUsage, "--resolve"},
		{[]string{"-h"}, exitOK, "-workload-labels"},
	} {
		code, out, errOut := runCmd(t, append([]string{"convert"}, tc.args...)...)
		if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("convert %v: exit %d, stdout %q, stderr %q; want %d and %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
}

// TestConvertErrors: a configuration with errors is not converted; its
// errors are printed, as validate prints them, and the exit is 1.
func TestConvertErrors(t *testing.T) {
	code, out, errOut := runCmd(t, "convert", "-c", "testdata/validate/bad.yaml")
	if code != exitError || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{`testdata/validate/bad.yaml:6: listeners[0].address: invalid address "not-an-address"`, "jwtgate convert: configuration has 9 errors; nothing converted"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestConvertRefused: what has no native form is refused, at the vendor
// resource's field, and nothing is printed on stdout.
func TestConvertRefused(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "glue.yaml"), `apiVersion: jwtgate.dev/v1alpha1
kind: Config
workload: {namespace: istio-system, labels: {istio: ingressgateway}}
listeners: [{name: gateway, address: "127.0.0.1:8080"}]
routes: [{name: app, backend: {url: "http://127.0.0.1:8000"}}]
`)
	write(t, filepath.Join(dir, "policy.yaml"), `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: readers, namespace: istio-system}
spec:
  action: ALLOW
  rules:
    - to:
        - operation:
            methods: [get]
`)
	code, out, errOut := runCmd(t, "convert", "-c", dir)
	if code != exitError || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{
		filepath.Join(dir, "policy.yaml") + `:9: spec.rules[0].to[0].operation.methods[0]: method "get" is not upper case`,
		`(AuthorizationPolicy "istio-system/readers")`,
		"jwtgate convert: 1 resource field without a native equivalent; nothing converted",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestConvertOutputFile: with -o, the output goes to the file, and
// relative file names are written for its folder; served from there, it
// finds the same files. Without -o they are written for the input's
// folder. (Given absolute paths, the loader makes every name absolute.)
func TestConvertOutputFile(t *testing.T) {
	t.Chdir(t.TempDir())
	in := filepath.Join("conf", "gw.yaml")
	write(t, filepath.Join("conf", "keys", "jwks.json"), `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"docs","x":"GGsZR3N0a7oyZparsLTnWqDooeDkRdtE2ZVz5mP6Fwc"}]}`)
	write(t, in, `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners: [{name: web, address: "127.0.0.1:8080"}]
providers: [{name: p, jwks: {file: keys/jwks.json}}]
routes: [{name: r, backend: {url: "http://127.0.0.1:8000"}, jwt: {providers: [p]}}]
`)
	code, out, errOut := runCmd(t, "convert", "-c", in)
	if code != exitOK || errOut != "" || !strings.Contains(out, "file: keys/jwks.json\n") {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	file := filepath.Join("out", "native.yaml")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd(t, "convert", "-c", in, "-o", file)
	if code != exitOK || out != "" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the output's mode is %v (%v), want 0600", fi.Mode(), err)
	}
	if !strings.Contains(string(b), "file: ../conf/keys/jwks.json\n") {
		t.Errorf("the key file is not named for the output's folder:\n%s", b)
	}
	// The input itself is not overwritten.
	code, out, errOut = runCmd(t, "convert", "-c", "conf", "-o", "./conf/gw.yaml")
	if code != exitUsage || out != "" || !strings.Contains(errOut, "is a configuration file read") {
		t.Errorf("-o the input: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	snap := gateway.Compile([]string{file}, proxy.Options{})
	if !snap.OK() {
		t.Fatalf("the output does not compile: %v", snap.Issues.Err())
	}
	snap.Runtime.Close()
}

// TestConvertSelection: the output is the gateway the flags choose, with
// the --resolve entries written into the egress listener (the listener's
// own entry wins for the same host and port, as when serving).
func TestConvertSelection(t *testing.T) {
	code, out, errOut := runCmd(t, "convert", "-c", "../../examples/tsb",
		"--workload-namespace", "ns1", "--workload-labels", "app=istio-egressgateway",
		"--resolve", "httpbin.org:443:127.0.0.9", "--resolve", "extra.example:443:127.0.0.2", "--resolve", "extra.example:443:127.0.0.3")
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"# with --workload-namespace ns1 --workload-labels app=istio-egressgateway --resolve httpbin.org:443:127.0.0.9",
		"# from EgressGateway ns1/my-egress (../../examples/tsb/egressgateway.yaml:",
		"resolve:\n        - httpbin.org:443:127.0.0.1\n        - api.payment-provider.com:443:127.0.0.1\n        - www.httpbin.org:443:127.0.0.1\n        - extra.example:443:127.0.0.3\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "shared-egress-gateway") || strings.Contains(out, "- httpbin.org:443:127.0.0.9") || strings.Contains(out, "- extra.example:443:127.0.0.2") {
		t.Errorf("the output holds what was not chosen:\n%s", out)
	}
}

// TestConvertDocsExample runs the example of docs/cli.md's convert
// section and compares its output with what the page shows.
func TestConvertDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	const cmd = "$ jwtgate convert -c examples/gloo\n"
	_, rest, ok := strings.Cut(string(doc), "```console\n"+cmd)
	want, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatalf("docs/cli.md has no console block starting with %q", cmd)
	}
	t.Chdir("../..")
	code, out, errOut := runCmd(t, "convert", "-c", "examples/gloo")
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if out != want {
		t.Errorf("docs/cli.md shows another output; the command prints:\n%s", out)
	}
}
