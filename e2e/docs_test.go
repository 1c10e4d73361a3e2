package e2e

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/proxy"
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
			cfg, issues := config.LoadBytes(where, []byte(block))
			if err := issues.Err(); err != nil {
				t.Errorf("block at %s does not load:\n%v", where, err)
				continue
			}
			rt, issues := proxy.Build(cfg, proxy.Options{Logger: slog.New(slog.DiscardHandler)})
			if err := issues.Err(); err != nil {
				t.Errorf("block at %s does not compile:\n%v", where, err)
				continue
			}
			rt.Close()
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
	paths = append(paths, "../examples/multi")
	for _, p := range paths {
		cfg, issues := config.Load(p)
		if err := issues.Err(); err != nil {
			t.Errorf("%s does not load:\n%v", p, err)
			continue
		}
		rt, issues := proxy.Build(cfg, proxy.Options{Logger: slog.New(slog.DiscardHandler)})
		if err := issues.Err(); err != nil {
			t.Errorf("%s does not compile:\n%v", p, err)
			continue
		}
		rt.Close()
	}
}
