package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"jwtgate.dev/jwtgate/internal/demo"
)

const echoSynopsis = `[--addr 127.0.0.1:8000]

Serves the demo's echo upstream alone: every request is answered with 200
and a JSON object of its method, path, query and headers. Handy as a
backend while trying a configuration. Runs until interrupted.`

func runEcho(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("echo", echoSynopsis, stderr)
	addr := fs.String("addr", "127.0.0.1:8000", "listen address")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "jwtgate echo: %v\n", err)
		return exitError
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: demo.Echo(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(stdout, "echo upstream listening on http://%s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "jwtgate echo: %v\n", err)
		return exitError
	}
	return exitOK
}
