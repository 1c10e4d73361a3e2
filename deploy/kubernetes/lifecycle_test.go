package kubernetes

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// buildJwtgate builds the jwtgate binary into a temporary folder.
func buildJwtgate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jwtgate")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "jwtgate.dev/jwtgate/cmd/jwtgate").CombinedOutput()
	if err != nil {
		t.Fatalf("building jwtgate: %v\n%s", err, out)
	}
	return bin
}

// The container's command line, run as the kubelet runs it: the real
// binary with the manifest's args and env (only the config folder and
// the admin address moved to the test's: the ConfigMap mounted as the
// kubelet mounts it, and a free loopback port). Every flag is known, the
// probes answer 200 once the key set is in, and SIGTERM drains as the
// Deployment expects: /readyz turns 503 while the listener still serves
// for --drain-delay, and the process exits 0 before
// terminationGracePeriodSeconds.
func TestPodLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the jwtgate binary")
	}
	m := load(t)
	c := container(t, m)
	cfg := compileMounted(t, mountConfigMap(t, m, func(s string) string { return s }).dir).Config
	l := newLocal(t, cfg)
	v := mountConfigMap(t, m, l.edit(t, cfg))
	bin := buildJwtgate(t)

	admin := freeAddr(t)
	args := append([]string(nil), c.Args...)
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-c", "--c":
			args[i+1] = v.dir
		case "-admin", "--admin":
			args[i+1] = admin
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	for _, e := range c.Env {
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("jwtgate's log:\n%s", logs.String())
		}
	})

	readyz := "http://" + admin + c.ReadinessProbe.HTTPGet.Path
	for _, path := range []string{c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path, m.deployment.Spec.Template.Annotations["prometheus.io/path"]} {
		eventually(t, "GET "+path, func() string {
			select {
			case err := <-exited:
				killed = true
				t.Fatalf("jwtgate exited: %v", err)
			default:
			}
			status, _, err := get("http://"+admin+path, "")
			if err != nil || status != http.StatusOK {
				return fmt.Sprintf("%d, %v", status, err)
			}
			return ""
		})
	}
	web := "http://" + l.listen + "/"
	tok := l.token(t, cfg)
	if status, body, err := get(web, tok); err != nil || status != http.StatusOK {
		t.Fatalf("valid token: %d %q, %v; want 200", status, body, err)
	}

	grace := time.Duration(*m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	sigterm := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, "/readyz after SIGTERM", func() string {
		status, _, err := get(readyz, "")
		if err != nil || status != http.StatusServiceUnavailable {
			return fmt.Sprintf("%d, %v; want 503", status, err)
		}
		return ""
	})
	// Still within --drain-delay: the listener serves while load
	// balancers catch up.
	if d := durationFlag(t, c.Args, "drain-delay", 0); time.Since(sigterm) < d/2 {
		if status, body, err := get(web, tok); err != nil || status != http.StatusOK {
			t.Errorf("during the drain delay: %d %q, %v; want 200", status, body, err)
		}
	}
	select {
	case err := <-exited:
		killed = true
		if err != nil {
			t.Errorf("jwtgate exited with %v after SIGTERM, want 0", err)
		}
		if took := time.Since(sigterm); took >= grace {
			t.Errorf("drain took %s, not within terminationGracePeriodSeconds %s", took, grace)
		}
	case <-time.After(grace + wait):
		t.Fatalf("jwtgate still running %s after SIGTERM", grace+wait)
	}
}
