package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

const explainSynopsis = `-c PATH [-c PATH...] --request 'METHOD URL' [--header 'Name: value'...]
       [--peer-spiffe spiffe://...] [--remote-addr IP] [--listener NAME]
       [--jwks FILE | --jwks PROVIDER=FILE...] [--at TIME] [-o text|json]

Runs one request through the gateway's request pipeline, compiled from
the configuration exactly as serve compiles it, and prints what each
stage did: the route chosen and the routes that did not match, each
token's verdict, each policy and rule, the answer, and the request the
upstream would receive. Nothing is sent upstream. Remote key sets are
fetched as serve fetches them, unless --jwks gives the keys. Exit 0 when
the request was explained, whatever the answer.`

// defaultExplainTimeout bounds an explanation (the key set fetches).
const defaultExplainTimeout = 30 * time.Second

func runExplain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("explain", explainSynopsis, stderr)
	var paths, headers, jwks listFlag
	fs.Var(&paths, "c", "configuration file or folder; repeatable")
	request := fs.String("request", "", `the request: "METHOD URL" or "URL" (GET); URL absolute, or a path with the host from --header Host`)
	fs.Var(&headers, "header", `a request header, "Name: value"; repeatable`)
	fs.Var(&headers, "H", "short for --header")
	peer := fs.String("peer-spiffe", "", "the SPIFFE ID of the client's verified certificate (spiffe://TD/ns/NS/sa/SA)")
	remote := fs.String("remote-addr", "", "the client's address, IP or IP:port (default 127.0.0.1)")
	listener := fs.String("listener", "", "the listener that receives the request (default: the only one, or the one on the URL's port)")
	fs.Var(&jwks, "jwks", "a JWKS (or PEM) file used instead of every remote key set, or PROVIDER=FILE for one provider; repeatable")
	at := fs.String("at", "", "check token times as of TIME (RFC 3339, or seconds since the epoch) instead of now")
	timeout := fs.Duration("timeout", defaultExplainTimeout, "how long to wait for remote key sets")
	format := fs.String("o", "text", "output format: text or json")
	target := addTargetFlags(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "jwtgate explain: "+format+"\n", a...)
		return exitUsage
	}
	sel, err := target.selection()
	if err != nil {
		return usageErr("%v", err)
	}
	if len(paths.values) == 0 {
		fmt.Fprintln(stderr, "jwtgate explain: at least one -c PATH is required")
		fs.Usage()
		return exitUsage
	}
	if *request == "" {
		fmt.Fprintln(stderr, "jwtgate explain: --request is required")
		fs.Usage()
		return exitUsage
	}
	if *format != "text" && *format != "json" {
		return usageErr("-o %q: want text or json", *format)
	}
	req := proxy.ExplainRequest{Listener: *listener, PeerSPIFFE: *peer, RemoteAddr: *remote, Header: http.Header{}}
	if m, u, ok := strings.Cut(strings.TrimSpace(*request), " "); ok {
		req.Method, req.URL = m, strings.TrimSpace(u)
	} else {
		req.URL = m
	}
	for _, h := range headers.values {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return usageErr("--header %q: want \"Name: value\"", h)
		}
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	opts := proxy.Options{Resolve: target.resolve.values, Logger: slog.New(slog.DiscardHandler)}
	if *at != "" {
		t, err := parseInstant(*at)
		if err != nil {
			return usageErr("--at %q: %v", *at, err)
		}
		opts.Now = func() time.Time { return t }
	}

	snap := gateway.CompileFor(sel, paths.values, opts)
	if !snap.OK() {
		for _, is := range snap.Issues.Errors() {
			fmt.Fprintln(stderr, is.Error())
		}
		fmt.Fprintf(stderr, "jwtgate explain: configuration has %s\n", plural(len(snap.Issues.Errors()), "error"))
		return exitError
	}
	rt := snap.Runtime
	if len(jwks.values) > 0 {
		rt.Close()
		if err := useKeyFiles(snap.Config, jwks.values, stderr); err != nil {
			return usageErr("--jwks: %v", err)
		}
		var issues model.Issues
		if rt, issues = proxy.Build(snap.Config, opts); rt == nil {
			for _, is := range issues.Errors() {
				fmt.Fprintln(stderr, is.Error())
			}
			fmt.Fprintln(stderr, "jwtgate explain: the configuration does not build with the --jwks keys")
			return exitError
		}
	}
	defer rt.Close()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rep, err := rt.ExplainRequest(ctx, req)
	if err != nil {
		return usageErr("%v", err)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "jwtgate explain: %v\n", err)
			return exitError
		}
		return exitOK
	}
	_, _ = io.WriteString(stdout, rep.Text())
	return exitOK
}

// useKeyFiles points providers at key files (--jwks): FILE for every
// provider whose key set is remote, PROVIDER=FILE for one provider
// whatever its key source. The provider keeps everything else (issuer,
// audiences, token sources, outputs).
func useKeyFiles(cfg *model.Config, specs []string, stderr io.Writer) error {
	byName := map[string]int{}
	for i, p := range cfg.Providers {
		byName[p.Name] = i
	}
	all := ""
	one := map[int]string{}
	for _, s := range specs {
		if name, file, ok := strings.Cut(s, "="); ok {
			if i, found := byName[name]; found {
				if file == "" {
					return fmt.Errorf("%q: no file", s)
				}
				one[i] = file
				continue
			}
		}
		if all != "" {
			return fmt.Errorf("%q and %q: give one FILE for every remote key set, and PROVIDER=FILE for the others", all, s)
		}
		all = s
	}
	used := len(one) > 0
	for i := range cfg.Providers {
		p := &cfg.Providers[i]
		file, ok := one[i]
		if !ok && all != "" && p.JWKS.Remote() {
			file, ok = all, true
			used = true
		}
		if ok {
			p.JWKS = model.KeySource{File: file}
		}
	}
	if !used {
		fmt.Fprintf(stderr, "jwtgate explain: --jwks %s: no provider has a remote key set; nothing replaced\n", all)
	}
	return nil
}

// parseInstant reads RFC 3339 or seconds since the epoch.
func parseInstant(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want RFC 3339 (2026-01-02T15:04:05Z) or seconds since the epoch")
	}
	return t, nil
}
