package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// TestWalkthroughs runs the walkthroughs of the egress documentation as
// written, with bash, openssl and curl, and the real binary on PATH: every
// command of their sh blocks, in order, and the status codes their
// comments promise. Only the ports change, to free ones.
func TestWalkthroughs(t *testing.T) {
	for _, tool := range []string{"bash", "openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the walkthroughs need %s on PATH", tool)
		}
	}
	tests := []struct {
		doc    string
		ports  []string // the ports the walkthrough uses
		secret string   // a value that must not reach the gateway's log
	}{
		{"../docs/egress.md", []string{"15443", "3128", "8443"}, "external-api-key-123"},
		{"../docs/dialects/tsb.md", []string{"15443", "8443"}, ""},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.doc), func(t *testing.T) {
			runWalkthrough(t, tt.doc, tt.ports, tt.secret)
		})
	}
}

var (
	shBlock    = regexp.MustCompile("(?s)```sh\n(.*?)```")
	wantStatus = regexp.MustCompile(`^[^#\s].* # (\d{3})\b`)
)

func runWalkthrough(t *testing.T, doc string, ports []string, secret string) {
	bin := jwtgateBinary(t)
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "## Walkthrough")
	if i < 0 {
		t.Fatalf("%s has no Walkthrough section", doc)
	}
	text = text[i:]
	if j := strings.Index(text[3:], "\n## "); j >= 0 {
		text = text[:j+3]
	}
	free := map[string]string{}
	for _, p := range ports {
		_, port, _ := strings.Cut(gatewaytest.FreeAddr(t), ":")
		free[p] = port
	}
	swap := func(s string) string {
		for from, to := range free {
			s = regexp.MustCompile(`\b`+from+`\b`).ReplaceAllString(s, to)
		}
		return s
	}
	// waitFor waits until every port is accepting connections (curl's
	// exit 7 is "could not connect").
	waitFor := func(ps []string) string {
		var b strings.Builder
		for _, p := range ps {
			b.WriteString("for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:" + p + "/ 2>/dev/null; [ $? -ne 7 ] && break; sleep 0.1; done\n")
		}
		return b.String()
	}
	var script strings.Builder
	script.WriteString("set -u\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n")
	var want []string
	for _, m := range shBlock.FindAllStringSubmatch(text, -1) {
		for _, line := range strings.Split(m[1], "\n") {
			script.WriteString(line + "\n")
			if s := wantStatus.FindStringSubmatch(line); s != nil {
				want = append(want, s[1])
			}
			if strings.HasSuffix(strings.TrimSpace(line), "&") {
				// A server started in the background: wait for the ports
				// it names, or for every port when it names none.
				var named []string
				for _, p := range ports {
					if regexp.MustCompile(`\b` + p + `\b`).MatchString(line) {
						named = append(named, p)
					}
				}
				if named == nil {
					named = ports
				}
				script.WriteString(waitFor(named))
			}
		}
	}
	if len(want) == 0 {
		t.Fatalf("%s: no command with an expected status", doc)
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", "-c", swap(script.String()))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough: %v\n%s", err, out)
	}
	var got []string
	for _, line := range strings.Split(string(out), "\n") {
		if _, err := strconv.Atoi(line); err == nil && len(line) == 3 {
			got = append(got, line)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("status codes: got %v, the walkthrough says %v\n%s", got, want, out)
	}
	if !strings.Contains(string(out), "valid:") {
		t.Errorf("validate printed no verdict:\n%s", out)
	}
	logs, _ := os.ReadFile(filepath.Join(dir, "gateway.log"))
	if secret != "" && strings.Contains(string(logs), secret) {
		t.Errorf("the injected secret is in the gateway log")
	}
	if !strings.Contains(string(logs), `"status":200`) {
		t.Errorf("no access log line with status 200:\n%s", logs)
	}
}
