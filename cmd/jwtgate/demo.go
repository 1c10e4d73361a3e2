package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"syscall"

	"jwtgate.dev/jwtgate/internal/demo"
)

const demoSynopsis = `[--addr 127.0.0.1:8080] [--admin 127.0.0.1:9901]

Starts a local token issuer, an echo upstream and a gateway protecting it,
all on loopback, and prints curl commands to try. Runs until interrupted.`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", demoSynopsis, stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "gateway listen address")
	adminAddr := fs.String("admin", "127.0.0.1:9901", `admin listener address; "off" disables it`)
	logLevel := fs.String("log-level", "warn", "gateway log level, logged as JSON to stderr")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "jwtgate demo: --log-level: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := demo.Run(ctx, demo.Options{
		Addr:      *addr,
		AdminAddr: *adminAddr,
		Out:       stdout,
		Logger:    slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		fmt.Fprintf(stderr, "jwtgate demo: %v\n", err)
		return exitError
	}
	return exitOK
}
