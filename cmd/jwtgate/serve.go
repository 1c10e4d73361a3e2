package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/proxy"
)

const serveSynopsis = `-c PATH [-c PATH...] [flags]

Serves the configuration in the given files and folders (a folder's
*.yaml and *.yml files in lexical order). A configuration with any error
is refused whole.

Reloads: on SIGHUP, and (unless --watch=false) when a configuration file,
or a file it names (keys, certificates, CA bundles), changes. A reload
with any error logs every error and keeps the running configuration.
SIGTERM and SIGINT make /readyz answer 503, stop accepting connections,
wait up to --drain-timeout for requests in flight, and exit 0.`

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
	adminAddr := fs.String("admin", "127.0.0.1:9901", `admin listener address (/healthz, /readyz, /metrics, /config, the console at /console/); "" or "off" disables it`)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	drain := fs.Duration("drain-timeout", 30*time.Second, "how long shutdown waits for requests in flight")
	drainDelay := fs.Duration("drain-delay", 0, "how long shutdown keeps accepting connections after /readyz turns 503")
	watchFiles := fs.Bool("watch", true, "reload when a configuration file or a file it names changes")
	readyTimeout := fs.Duration("ready-timeout", gateway.DefaultReadyTimeout, "how long /readyz waits for every remote key set's first fetch")
	showClaims := fs.Bool("console-show-claims", false, "show the verified token's iss and sub of denied requests in the admin console")
	target := addTargetFlags(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	sel, err := target.selection()
	if err != nil {
		fmt.Fprintf(stderr, "jwtgate serve: %v\n", err)
		return exitUsage
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
	admin := *adminAddr
	if admin == "off" {
		admin = ""
	}

	signals := hooks.signals
	if signals == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(ch)
		signals = ch
	}

	gw, snap, err := gateway.Start(ctx, gateway.Options{
		Paths:        paths.values,
		Logger:       logger,
		AdminAddress: admin,
		Watch:        *watchFiles,
		ReadyTimeout: *readyTimeout,
		DrainDelay:   *drainDelay,
		Reloaded:     hooks.reloaded,
		Select:       sel,
		Build:        proxy.Options{Resolve: target.resolve.values},

		ConsoleShowClaims: *showClaims,
	})
	if errors.Is(err, gateway.ErrInvalid) {
		for _, is := range snap.Issues.Errors() {
			fmt.Fprintln(stderr, is.Error())
		}
		fmt.Fprintf(stderr, "jwtgate serve: configuration has %s; not starting\n", plural(len(snap.Issues.Errors()), "error"))
		return exitError
	}
	if err != nil {
		logger.Error("starting gateway", "error", err)
		return exitError
	}
	logger.Info("serving", "config", paths.values, "version", snap.Version)
	if hooks.started != nil {
		hooks.started(gw.Server(), gw.AdminAddr())
	}

	for {
		select {
		case <-ctx.Done():
			logger.Info("shutting down", "reason", context.Cause(ctx).Error())
			shutdown(logger, gw, *drain)
			return exitOK
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				_ = gw.Reload(ctx)
				continue
			}
			logger.Info("shutting down", "signal", sig.String(), "drain_timeout", drain.String())
			shutdown(logger, gw, *drain)
			return exitOK
		}
	}
}

// shutdown drains the gateway: /readyz turns 503 first, then listeners
// stop accepting and requests in flight get up to drain to finish.
func shutdown(logger *slog.Logger, gw *gateway.Gateway, drain time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), drain+gw.DrainDelay())
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		logger.Warn("drain incomplete", "error", err)
	}
	logger.Info("stopped")
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
