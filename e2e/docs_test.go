package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
)

// TestDocsExamples loads and compiles every ```yaml block of the README and
// docs/*.md that is a native document, except a block right after an
// HTML comment <!-- not-loaded --> (one that names files the reader makes).
// What the docs show must be what the product accepts.
func TestDocsExamples(t *testing.T) {
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../README.md")
	loaded := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(file, "../")
		lines := strings.Split(string(data), "\n")
		for i := 0; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) != "```yaml" {
				continue
			}
			skip := i > 0 && strings.TrimSpace(lines[i-1]) == "<!-- not-loaded -->"
			start := i + 1
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			}
			block := strings.Join(lines[start:i], "\n") + "\n"
			if skip || !strings.HasPrefix(strings.TrimSpace(block), "apiVersion: jwtgate.dev/v1alpha1") {
				continue
			}
			loaded++
			where := name + ":" + strconv.Itoa(start)
			if err := gatewaytest.Compile(t, block, gatewaytest.Name(where)).Issues.Err(); err != nil {
				t.Errorf("block at %s does not load and compile:\n%v", where, err)
			}
		}
	}
	if loaded < 10 {
		t.Errorf("only %d native YAML blocks found in the docs", loaded)
	}
}

// TestExamplesCompile loads and compiles each file of examples/ (and the
// examples/multi folder as one config), as `jwtgate validate` would.
func TestExamplesCompile(t *testing.T) {
	paths, err := filepath.Glob("../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Every folder of examples is one configuration (a vendor's resources
	// with their glue), read as `jwtgate validate -c FOLDER` reads it.
	entries, err := os.ReadDir("../examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			paths = append(paths, filepath.Join("../examples", e.Name()))
		}
	}
	for _, p := range paths {
		if err := gatewaytest.CompileFiles(t, []string{p}).Issues.Err(); err != nil {
			t.Errorf("%s does not load and compile:\n%v", p, err)
		}
	}
}
