package config

import (
	"os"
	"strings"
	"testing"
)

// TestDocsExamples loads every ```yaml block of docs/configuration.md that
// is a native document, except those preceded by <!-- not-loaded -->.
func TestDocsExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	loaded := 0
	for i := 0; i < len(lines); i++ {
		if lines[i] != "```yaml" {
			continue
		}
		start := i + 1
		skip := i > 0 && strings.TrimSpace(lines[i-1]) == "<!-- not-loaded -->"
		for i++; i < len(lines) && lines[i] != "```"; i++ {
		}
		block := strings.Join(lines[start:i], "\n") + "\n"
		if skip || !strings.HasPrefix(block, "apiVersion: jwtgate.dev/v1alpha1") {
			continue
		}
		loaded++
		cfg, is := LoadBytes("configuration.md", []byte(block))
		if cfg == nil || len(is.Errors()) > 0 {
			t.Errorf("block at docs/configuration.md:%d does not load:\n%s", start, strings.Join(issueTexts(is), "\n"))
		}
		for _, w := range is.Warnings() {
			t.Logf("block at docs/configuration.md:%d: %s", start, w.Error())
		}
	}
	if loaded < 5 {
		t.Errorf("only %d blocks loaded", loaded)
	}
}
