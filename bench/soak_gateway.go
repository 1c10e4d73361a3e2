package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// gatewayProcess is `jwtgate serve` running as a child process, so that
// its heap and RSS are its own and not the load generator's.
type gatewayProcess struct {
	cmd    *exec.Cmd
	listen string // the gateway listener's host:port
	admin  string // the admin listener's host:port
	log    string // the file its stderr (the JSON log) goes to
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

// buildJwtgate builds the jwtgate binary into dir with the go command
// that runs this program.
func buildJwtgate(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "jwtgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "jwtgate.dev/jwtgate/cmd/jwtgate")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building jwtgate: %w\n%s", err, out)
	}
	return bin, nil
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startGatewayProcess runs `bin serve -c config --admin ADDR` with its log
// in dir, and waits until /readyz answers 200.
func startGatewayProcess(ctx context.Context, bin, dir, config, listen string) (*gatewayProcess, error) {
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "gateway.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "-c", config, "--admin", admin)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	g := &gatewayProcess{cmd: cmd, listen: listen, admin: admin, log: logPath, exited: make(chan struct{})}
	go func() {
		g.err = cmd.Wait()
		logFile.Close()
		close(g.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g, nil
			}
		}
		select {
		case <-g.exited:
			return nil, fmt.Errorf("jwtgate exited at start (%v); its log:\n%s", g.err, g.logTail(20))
		case <-ctx.Done():
			g.kill()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			g.kill()
			return nil, fmt.Errorf("jwtgate not ready after 30s; its log:\n%s", g.logTail(20))
		}
	}
}

// stop sends SIGTERM and waits for the drain; it reports how the process
// exited.
func (g *gatewayProcess) stop(wait time.Duration) error {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
		if g.err != nil {
			return fmt.Errorf("jwtgate exited after SIGTERM with %w", g.err)
		}
		return nil
	case <-time.After(wait):
		g.kill()
		return fmt.Errorf("jwtgate still running %s after SIGTERM; killed", wait)
	}
}

func (g *gatewayProcess) kill() {
	_ = g.cmd.Process.Kill()
	<-g.exited
}

// logTail is the last n lines of the gateway's log.
func (g *gatewayProcess) logTail(n int) string {
	data, err := os.ReadFile(g.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// memSample is the gateway's memory at one moment of the soak.
type memSample struct {
	at time.Duration // since the load started
	// heap is the bytes of allocated heap objects, live or garbage not
	// yet collected (go_memstats_heap_alloc_bytes): it saws between the
	// live heap and the goal with every garbage collection.
	heap float64
	// goal is the heap size at which the next collection starts
	// (go_memstats_next_gc_bytes): set by each collection from the live
	// heap it found (twice it, plus stacks and globals, with the default
	// GOGC), so it follows the live heap without the sawtooth.
	goal float64
	rss  float64 // resident set size (VmRSS), bytes; 0 when unknown
}

// sample reads the process's RSS from /proc and its heap figures from
// /metrics.
func (g *gatewayProcess) sample(client *http.Client) (memSample, error) {
	var s memSample
	s.rss, _ = procRSS(g.cmd.Process.Pid) // 0 where /proc is missing
	resp, err := client.Get("http://" + g.admin + "/metrics")
	if err != nil {
		return s, fmt.Errorf("scraping /metrics: %w", err)
	}
	defer resp.Body.Close()
	v, err := metricValues(resp.Body, "go_memstats_heap_alloc_bytes", "go_memstats_next_gc_bytes")
	s.heap, s.goal = v[0], v[1]
	return s, err
}

// metricValues finds unlabelled metrics in a Prometheus text exposition,
// in the order of names.
func metricValues(r io.Reader, names ...string) ([]float64, error) {
	out := make([]float64, len(names))
	found := make([]bool, len(names))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		for i, name := range names {
			if rest, ok := bytes.CutPrefix(line, []byte(name+" ")); ok {
				v, err := strconv.ParseFloat(string(bytes.TrimSpace(rest)), 64)
				if err != nil {
					return out, fmt.Errorf("metric %s: %w", name, err)
				}
				out[i], found[i] = v, true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	for i, ok := range found {
		if !ok {
			return out, fmt.Errorf("no metric %s", names[i])
		}
	}
	return out, nil
}

// procRSS is VmRSS of the process pid, in bytes.
func procRSS(pid int) (float64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				break
			}
			kb, err := strconv.ParseFloat(f[0], 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

// procCPU is the CPU time (user and system) the process pid has used, from
// /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields are
	// counted after its closing parenthesis. utime and stime are the
	// 14th and 15th fields, the 12th and 13th after it.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100, nil // USER_HZ ticks
}
