package gloo_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect"
)

// TestDocBlocks loads every complete YAML block of docs/dialects/gloo.md
// (one that starts with apiVersion and is not marked <!-- not-loaded -->)
// for a workload, as the page says to: each must load without errors.
func TestDocBlocks(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/dialects/gloo.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)(<!-- not-loaded -->\n)?```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	sel := dialect.Selection{WorkloadNamespace: "sleep", WorkloadLabels: map[string]string{"app": "sleep"}}
	loaded := 0
	for i, m := range blocks {
		if len(m[1]) > 0 || !strings.HasPrefix(string(m[2]), "apiVersion:") {
			continue
		}
		loaded++
		if _, issues := config.ReadBytesSelected(sel, "gloo.md", m[2]).Validated(); len(issues.Errors()) > 0 {
			t.Errorf("block %d:\n%s\n%v", i, m[2], issues.Err())
		}
	}
	if loaded == 0 {
		t.Error("no YAML block loaded")
	}
}
