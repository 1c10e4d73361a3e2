package istio_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/dialect"
)

// TestDocBlocks loads every complete YAML block of docs/dialects/istio.md
// and asm.md (one that starts with apiVersion and is not marked
// <!-- not-loaded -->), as the ingress gateway's pods: each must load
// without errors.
func TestDocBlocks(t *testing.T) {
	sel := dialect.Selection{WorkloadNamespace: "istio-system", WorkloadLabels: map[string]string{"istio": "ingressgateway"}}
	for _, page := range []string{"istio.md", "asm.md"} {
		doc, err := os.ReadFile("../../../docs/dialects/" + page)
		if err != nil {
			t.Fatal(err)
		}
		blocks := regexp.MustCompile("(?s)(<!-- not-loaded -->\n)?```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
		loaded := 0
		for i, m := range blocks {
			if len(m[1]) > 0 || !strings.HasPrefix(string(m[2]), "apiVersion:") {
				continue
			}
			loaded++
			if _, issues := config.ReadBytesSelected(sel, page, m[2]).Validated(); len(issues.Errors()) > 0 {
				t.Errorf("%s block %d:\n%s\n%v", page, i, m[2], issues.Err())
			}
		}
		if loaded == 0 {
			t.Errorf("%s: no YAML block loaded", page)
		}
	}
}
