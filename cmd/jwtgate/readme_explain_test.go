package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeExplain runs step 7 of the README's tour as written: the
// explain command on the tour's configuration prints what the README
// shows, and with the tour's token it shows the claim headers the
// upstream would receive and never the token.
func TestReadmeExplain(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	section := func(from, to string) string {
		i, j := strings.Index(readme, from), strings.Index(readme, to)
		if i < 0 || j < i {
			t.Fatalf("README lacks %q before %q", from, to)
		}
		return readme[i:j]
	}
	fenced := func(text, open string) string {
		i := strings.Index(text, open)
		if i < 0 {
			t.Fatalf("no %s block", open)
		}
		text = text[i+len(open)+1:]
		return text[:strings.Index(text, "```")]
	}
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, "gateway.yaml", fenced(section("### 2. Write a configuration", "### 3. Check it"), "```yaml"))

	step := fenced(section("### 7. Ask why", "## Load benchmark"), "```console")
	cmd, want, _ := strings.Cut(step, "\n")
	m := regexp.MustCompile(`^\$ \./jwtgate explain -c gateway\.yaml --request '([^']+)'$`).FindStringSubmatch(cmd)
	if m == nil {
		t.Fatalf("step 7 command %q", cmd)
	}
	explain := func(extra ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		args := append([]string{"explain", "-c", "gateway.yaml", "--request", m[1]}, extra...)
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Fatalf("explain exit %d: %s%s", code, out.String(), errOut.String())
		}
		return out.String()
	}
	got := explain()
	rest := got
	for _, part := range strings.Split(want, "...\n") {
		part = strings.TrimSuffix(part, "\n")
		i := strings.Index(rest, part)
		if i < 0 {
			t.Fatalf("explain output lacks %q:\n%s", part, got)
		}
		rest = rest[i+len(part):]
	}

	token := regexp.MustCompile(`export TOKEN=(\S+)`).FindStringSubmatch(readme)
	if token == nil {
		t.Fatal("README lacks the tour's token")
	}
	got = explain("-H", "Authorization: Bearer "+token[1])
	for _, line := range []string{"outcome: verified", "X-Team: dev", "X-Org: solo.io", "upstream request (recorded, not sent)"} {
		if !strings.Contains(got, line) {
			t.Errorf("explain with the token lacks %q:\n%s", line, got)
		}
	}
	if strings.Contains(got, token[1][:40]) {
		t.Errorf("explain printed the token:\n%s", got)
	}
}
