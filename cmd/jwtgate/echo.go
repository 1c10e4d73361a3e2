package main

import (
	"context"
	"crypto/tls"
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

const echoSynopsis = `[--addr 127.0.0.1:8000] [--cert CERT.pem --key KEY.pem]

Serves the demo's echo upstream alone: every request is answered with 200
and a JSON object of its method, path, query and headers. Handy as a
backend while trying a configuration, and, with --cert and --key, as a
stand-in HTTPS server for an external host behind an egress gateway.
Runs until interrupted.`

func runEcho(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("echo", echoSynopsis, stderr)
	addr := fs.String("addr", "127.0.0.1:8000", "listen address")
	certFile := fs.String("cert", "", "serve HTTPS with this certificate (PEM; with --key)")
	keyFile := fs.String("key", "", "the certificate's private key (PEM)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if (*certFile == "") != (*keyFile == "") {
		fmt.Fprintln(stderr, "jwtgate echo: --cert and --key go together")
		return exitUsage
	}
	scheme := "http"
	var tlsConf *tls.Config
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintf(stderr, "jwtgate echo: %v\n", err)
			return exitError
		}
		scheme, tlsConf = "https", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "jwtgate echo: %v\n", err)
		return exitError
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	srv := &http.Server{Handler: demo.Echo(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(stdout, "echo upstream listening on %s://%s\n", scheme, ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "jwtgate echo: %v\n", err)
		return exitError
	}
	return exitOK
}
