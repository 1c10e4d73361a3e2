package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/logtest"
)

// TestDemoTwiceOnOnePort runs `jwtgate demo`, then a second demo on the
// first one's gateway or admin port: the second exits 1 at once, names
// the port on stderr and prints no instructions; the first keeps serving
// and exits 0 when stopped.
func TestDemoTwiceOnOnePort(t *testing.T) {
	for _, tc := range []struct {
		name string
		// second are the second demo's flags, given the first's addresses.
		second func(addr, admin string) []string
		// port is the port the second must name.
		port func(addr, admin string) string
	}{
		{
			name:   "gateway port",
			second: func(addr, _ string) []string { return []string{"--addr", addr, "--admin", "127.0.0.1:0"} },
			port:   func(addr, _ string) string { return addr },
		},
		{
			name:   "admin port",
			second: func(_, admin string) []string { return []string{"--addr", "127.0.0.1:0", "--admin", admin} },
			port:   func(_, admin string) string { return admin },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, admin := gatewaytest.FreeAddr(t), gatewaytest.FreeAddr(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out1, err1 logtest.Buffer
			first := make(chan int, 1)
			go func() { first <- run(ctx, []string{"demo", "--addr", addr, "--admin", admin}, &out1, &err1) }()
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(out1.String(), "jwtgate demo is running") {
				select {
				case code := <-first:
					t.Fatalf("the first demo exited %d: %s", code, err1.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("the first demo did not start")
				}
				time.Sleep(20 * time.Millisecond)
			}

			ctx2, cancel2 := context.WithCancel(context.Background())
			defer cancel2()
			var out2, err2 logtest.Buffer
			second := make(chan int, 1)
			go func() {
				second <- run(ctx2, append([]string{"demo"}, tc.second(addr, admin)...), &out2, &err2)
			}()
			select {
			case code := <-second:
				if code != exitError {
					t.Errorf("the second demo exited %d, want %d", code, exitError)
				}
			case <-time.After(30 * time.Second):
				cancel2()
				<-second
				t.Fatalf("the second demo started on a port in use; stdout:\n%s", out2.String())
			}
			_, port, _ := net.SplitHostPort(tc.port(addr, admin))
			stderr := err2.String()
			for _, want := range []string{"jwtgate demo: ", ":" + port, "address already in use"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("the second demo's stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "panic") || out2.String() != "" {
				t.Errorf("the second demo printed stdout %q, stderr %q", out2.String(), stderr)
			}

			// The first is untouched.
			res, err := http.Get("http://" + addr + "/headers")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 401 {
				t.Errorf("the first demo answers %d, want 401", res.StatusCode)
			}
			cancel()
			select {
			case code := <-first:
				if code != exitOK {
					t.Errorf("the first demo exited %d: %s", code, err1.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the first demo did not stop")
			}
		})
	}
}
