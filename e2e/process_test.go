package e2e

import (
	"errors"
	"fmt"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/logtest"
	"jwtgate.dev/jwtgate/internal/waittest"
)

// The real binary is built once per run of the package, into binDir,
// which TestMain removes.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// jwtgateBinary builds ../cmd/jwtgate once and returns its path. With
// -short it skips the test.
func jwtgateBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "jwtgate-e2e-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "jwtgate")
		if out, err := exec.Command("go", "build", "-o", binPath, "../cmd/jwtgate").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// process is the real binary, running.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout logtest.Buffer
	stderr logtest.Buffer
	done   chan struct{} // closed when it has exited; err is then set
	err    error
}

// startBinary runs the binary with args; the test's end kills it if it
// is still running.
func startBinary(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{t: t, cmd: exec.Command(jwtgateBinary(t), args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// output is everything the process wrote, stdout then stderr.
func (p *process) output() string { return p.stdout.String() + p.stderr.String() }

// signal sends sig to the process.
func (p *process) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// exitCode waits up to within for the process to exit and returns its
// exit code; a process still running then fails the test.
func (p *process) exitCode(within time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		p.t.Fatalf("the process did not exit within %v; output:\n%s", within, p.output())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	default:
		p.t.Fatalf("waiting for the process: %v", p.err)
		return -1
	}
}

// TestBinaryDemoTwice starts the real `jwtgate demo`, then a second one
// on the same gateway port: the second exits 1, without a panic, naming
// the port on stderr; the first keeps serving and exits 0 on SIGTERM.
func TestBinaryDemoTwice(t *testing.T) {
	addr := gatewaytest.FreeAddr(t)
	first := startBinary(t, "demo", "--addr", addr, "--admin", "127.0.0.1:0")
	waittest.Until(t, 10*time.Second, "the first demo", func() bool { return strings.Contains(first.stdout.String(), "jwtgate demo is running") })

	second := startBinary(t, "demo", "--addr", addr, "--admin", "127.0.0.1:0")
	if code := second.exitCode(30 * time.Second); code != 1 {
		t.Errorf("the second demo exited %d, want 1; stderr:\n%s", code, second.stderr.String())
	}
	_, port, _ := net.SplitHostPort(addr)
	stderr := second.stderr.String()
	if !strings.Contains(stderr, "127.0.0.1:"+port) || !strings.Contains(stderr, "address already in use") {
		t.Errorf("the second demo's stderr does not name the port %s in use:\n%s", port, stderr)
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("the second demo panicked:\n%s", stderr)
	}
	if second.stdout.String() != "" {
		t.Errorf("the second demo printed instructions:\n%s", second.stdout.String())
	}

	if code, body := httpGet(t, http.DefaultClient, "http://"+addr+"/headers", ""); code != 401 || body != "Jwt is missing" {
		t.Errorf("the first demo answers %d %q, want 401 Jwt is missing", code, body)
	}
	first.signal(syscall.SIGTERM)
	if code := first.exitCode(30 * time.Second); code != 0 {
		t.Errorf("the first demo exited %d after SIGTERM, want 0:\n%s", code, first.output())
	}
}
