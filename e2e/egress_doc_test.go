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

// TestEgressWalkthrough runs the walkthrough of docs/egress.md as written,
// with bash, openssl and curl, and the real binary on PATH: its commands,
// its configuration, and the status codes its comments promise. Only the
// ports change, to free ones.
func TestEgressWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the egress walkthrough needs %s on PATH", tool)
		}
	}
	bin := jwtgateBinary(t)
	b, err := os.ReadFile("../docs/egress.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "## Walkthrough")
	if i < 0 {
		t.Fatal("docs/egress.md has no Walkthrough section")
	}
	var sh []string
	var yaml string
	for _, m := range regexp.MustCompile("(?s)```(sh|yaml)\n(.*?)```").FindAllStringSubmatch(doc[i:], -1) {
		if m[1] == "yaml" {
			yaml = m[2]
		} else {
			sh = append(sh, m[2])
		}
	}
	if len(sh) != 5 || yaml == "" {
		t.Fatalf("want 5 sh blocks and a yaml block in the walkthrough, got %d and %v", len(sh), yaml != "")
	}
	// Free ports in place of the documented ones.
	ports := map[string]string{}
	for _, p := range []string{"15443", "3128", "8443"} {
		_, free, _ := strings.Cut(gatewaytest.FreeAddr(t), ":")
		ports[p] = free
	}
	swap := func(s string) string {
		for from, to := range ports {
			s = regexp.MustCompile(`\b`+from+`\b`).ReplaceAllString(s, to)
		}
		return s
	}
	var want []string
	for _, block := range sh[3:] {
		for _, line := range strings.Split(block, "\n") {
			if m := regexp.MustCompile(`^(?:wl|px) .*# (\d{3})\b`).FindStringSubmatch(line); m != nil {
				want = append(want, m[1])
			}
		}
	}
	wait := func(port string) string {
		return "for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:" + port + "/ 2>/dev/null; [ $? -ne 7 ] && break; sleep 0.1; done\n"
	}
	script := "set -u\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n" +
		sh[0] + sh[1] + wait(ports["8443"]) +
		"cat > egress.yaml <<'EOF'\n" + yaml + "EOF\n" +
		sh[2] + wait(ports["3128"]) + sh[3] + sh[4]
	dir := t.TempDir()
	cmd := exec.Command("bash", "-c", swap(script))
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
	if strings.Contains(string(logs), "external-api-key-123") {
		t.Errorf("the injected API key is in the gateway log")
	}
	if !strings.Contains(string(logs), `"status":200`) {
		t.Errorf("no access log line with status 200:\n%s", logs)
	}
}
