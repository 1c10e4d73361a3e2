package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"jwtgate.dev/jwtgate/internal/admin"
	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

const serveSynopsis = `-c PATH [-c PATH...] [flags]

Serves the configuration in the given files and folders (a folder's
*.yaml and *.yml files in lexical order). A configuration with any error
is refused whole.

Signals: SIGHUP reloads the configuration (on any error the old one keeps
serving); SIGTERM and SIGINT stop accepting connections, wait up to
--drain-timeout for requests in flight, and exit 0.`

// serveHooks let tests drive serve without real signals.
type serveHooks struct {
	// signals replaces the process's SIGHUP, SIGINT and SIGTERM.
	signals <-chan os.Signal
	// started is called once the gateway and admin listeners accept
	// connections; admin is nil when the admin listener is off.
	started func(srv *proxy.Server, admin net.Addr)
	// reloaded is called after each reload attempt with its outcome.
	reloaded func(err error)
}

func runServe(ctx context.Context, args []string, _, stderr io.Writer) int {
	return serve(ctx, args, stderr, serveHooks{})
}

func serve(ctx context.Context, args []string, stderr io.Writer, hooks serveHooks) int {
	fs := newFlags("serve", serveSynopsis, stderr)
	var paths listFlag
	fs.Var(&paths, "c", "configuration file or folder; repeatable")
	adminAddr := fs.String("admin", "127.0.0.1:9901", `admin listener address (/healthz, /readyz); "" or "off" disables it`)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	drain := fs.Duration("drain-timeout", 30*time.Second, "how long shutdown waits for requests in flight")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if len(paths.values) == 0 {
		fmt.Fprintln(stderr, "jwtgate serve: at least one -c PATH is required")
		fs.Usage()
		return exitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "jwtgate serve: --log-level: %v\n", err)
		return exitUsage
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	rt, issues := loadRuntime(paths.values, logger)
	if err := issues.Err(); err != nil {
		for _, is := range issues.Errors() {
			fmt.Fprintln(stderr, is.Error())
		}
		fmt.Fprintf(stderr, "jwtgate serve: configuration has %s; not starting\n", plural(len(issues.Errors()), "error"))
		return exitError
	}
	logWarnings(logger, issues)

	signals := hooks.signals
	if signals == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(ch)
		signals = ch
	}

	srv := proxy.NewServer(logger)
	if err := srv.Start(ctx, rt); err != nil {
		rt.Close()
		logger.Error("starting gateway", "error", err)
		return exitError
	}

	var adminSrv *http.Server
	var adminLn net.Listener
	if a := *adminAddr; a != "" && a != "off" {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			logger.Error("starting admin listener", "address", a, "error", err)
			shutdown(logger, srv, nil, *drain)
			return exitError
		}
		adminLn = ln
		adminSrv = &http.Server{Handler: admin.New(admin.Options{Ready: srv.Ready}), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := adminSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("admin listener", "error", err)
			}
		}()
		logger.Info("admin listening", "address", ln.Addr().String())
	}
	logger.Info("serving", "config", paths.values)
	if hooks.started != nil {
		var a net.Addr
		if adminLn != nil {
			a = adminLn.Addr()
		}
		hooks.started(srv, a)
	}

	for {
		select {
		case <-ctx.Done():
			logger.Info("shutting down", "reason", context.Cause(ctx).Error())
			shutdown(logger, srv, adminSrv, *drain)
			return exitOK
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				// The server closes the replaced runtime once the
				// requests it serves have finished.
				err := reload(ctx, logger, srv, paths.values)
				if hooks.reloaded != nil {
					hooks.reloaded(err)
				}
				continue
			}
			logger.Info("shutting down", "signal", sig.String(), "drain_timeout", drain.String())
			shutdown(logger, srv, adminSrv, *drain)
			return exitOK
		}
	}
}

// loadRuntime loads the configuration and builds a runtime from it. The
// runtime is nil when the issues hold errors.
func loadRuntime(paths []string, logger *slog.Logger) (*proxy.Runtime, model.Issues) {
	cfg, issues := loadConfig(paths)
	if issues.Err() != nil || cfg == nil {
		return nil, issues
	}
	rt, more := buildRuntime(cfg, logger)
	issues = append(issues, more...)
	if issues.Err() != nil {
		if rt != nil {
			rt.Close()
		}
		return nil, issues
	}
	return rt, issues
}

// reload loads and builds the configuration again and swaps it in. On
// any error the old configuration keeps serving; every error is logged.
func reload(ctx context.Context, logger *slog.Logger, srv *proxy.Server, paths []string) error {
	logger.Info("reloading", "config", paths)
	rt, issues := loadRuntime(paths, logger)
	if err := issues.Err(); err != nil {
		for _, is := range issues.Errors() {
			logger.Error("configuration error", "error", is.Error())
		}
		logger.Error("reload failed; keeping the previous configuration", "errors", len(issues.Errors()))
		return err
	}
	logWarnings(logger, issues)
	if err := srv.Reload(ctx, rt); err != nil {
		rt.Close()
		logger.Error("reload failed; keeping the previous configuration", "error", err)
		return err
	}
	logger.Info("reloaded", "config", paths)
	return nil
}

// shutdown drains the gateway (which closes its runtime) and stops the
// admin listener.
func shutdown(logger *slog.Logger, srv *proxy.Server, adminSrv *http.Server, drain time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		logger.Warn("drain incomplete", "error", err)
	}
	if adminSrv != nil {
		_ = adminSrv.Shutdown(ctx)
	}
	logger.Info("stopped")
}

func logWarnings(logger *slog.Logger, issues model.Issues) {
	for _, w := range issues.Warnings() {
		logger.Warn("configuration warning", "warning", w.Error())
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// loadConfig reads and merges the configuration files.
func loadConfig(paths []string) (*model.Config, model.Issues) {
	return config.Load(paths...)
}

// buildRuntime compiles cfg; it opens no socket.
func buildRuntime(cfg *model.Config, logger *slog.Logger) (*proxy.Runtime, model.Issues) {
	return proxy.Build(cfg, proxy.Options{Logger: logger})
}
