package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestValidateGolden runs validate over testdata/validate/NAME.yaml and
// compares stdout with NAME.golden. Regenerate with -update.
func TestValidateGolden(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"good", []string{"-c", "testdata/validate/good.yaml"}, 0},
		{"bad", []string{"-c", "testdata/validate/bad.yaml"}, 1},
		{"build", []string{"-c", "testdata/validate/build.yaml"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first []byte
			for i := range 3 { // deterministic: the same bytes every run
				code, out, errOut := runCmd(t, append([]string{"validate"}, tt.args...)...)
				if code != tt.wantCode {
					t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
				}
				if errOut != "" {
					t.Errorf("stderr %q, want empty", errOut)
				}
				if i == 0 {
					first = []byte(out)
				} else if out != string(first) {
					t.Fatalf("run %d differs:\n%s\nfirst:\n%s", i, out, first)
				}
			}
			golden := filepath.Join("testdata", "validate", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, first, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, want) {
				t.Errorf("validate output differs from %s (rerun with -update):\n%s", golden, first)
			}
		})
	}
}

func TestValidateUsage(t *testing.T) {
	if code, _, errOut := runCmd(t, "validate"); code != exitUsage || errOut == "" {
		t.Errorf("validate without -c: exit %d, stderr %q", code, errOut)
	}
	code, out, _ := runCmd(t, "validate", "-c", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != exitError || !bytes.Contains([]byte(out), []byte("missing.yaml")) {
		t.Errorf("validate of a missing file: exit %d, stdout %q", code, out)
	}
}

// TestTargetFlags: the selection flags are read and checked.
func TestTargetFlags(t *testing.T) {
	fs := newFlags("t", "", io.Discard)
	tf := addTargetFlags(fs)
	if err := fs.Parse([]string{"--gateway", "ns/gw", "--workload-namespace", "egress", "--workload-labels", "app=gw, team=a",
		"--bind-address", "[::1]", "--resolve", "a.example:443:127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	sel, err := tf.selection()
	if err != nil || sel.Gateway != "ns/gw" || sel.WorkloadNamespace != "egress" || sel.WorkloadLabels["team"] != "a" ||
		sel.WorkloadLabels["app"] != "gw" || sel.BindAddress != "::1" || sel.ListenAddress(8080) != "[::1]:8080" {
		t.Errorf("selection %+v, %v", sel, err)
	}
	for _, bad := range [][]string{{"--gateway", "gw"}, {"--workload-labels", "app"}, {"--bind-address", "localhost"}, {"--resolve", "a:443"}} {
		fs := newFlags("t", "", io.Discard)
		tf := addTargetFlags(fs)
		_ = fs.Parse(bad)
		if _, err := tf.selection(); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}
