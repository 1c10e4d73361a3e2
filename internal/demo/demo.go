// Package demo runs a self-contained jwtgate: a local token issuer, an
// echo upstream and a gateway in front of it, all on loopback. The
// gateway's configuration is native YAML embedded here and loaded by the
// real loader, so the demo exercises the same path as "jwtgate serve".
package demo

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"text/template"
	"time"

	"jwtgate.dev/jwtgate/internal/gateway"
)

//go:embed demo.yaml.tmpl
var configTemplate string

var tmpl = template.Must(template.New("demo.yaml").Funcs(template.FuncMap{
	"quote": strconv.Quote, // a Go-quoted ASCII string is a YAML double-quoted scalar
}).Parse(configTemplate))

// Options configures the demo.
type Options struct {
	// Addr is the gateway's listen address. Empty means 127.0.0.1:0, a
	// free loopback port.
	Addr string
	// AdminAddr is the admin listener's address. Empty means
	// 127.0.0.1:0; "off" disables it.
	AdminAddr string
	// Out receives the instructions Run prints. Nil means io.Discard.
	Out io.Writer
	// Logger receives the gateway's logs. Nil discards them.
	Logger *slog.Logger
}

// Demo is a running demo.
type Demo struct {
	// GatewayURL is the gateway's base URL, such as http://127.0.0.1:8080.
	GatewayURL string
	// AdminURL is the admin listener's base URL; empty when disabled.
	AdminURL string
	// IssuerURL is the local issuer (its tokens' iss); UpstreamURL the
	// echo upstream behind the gateway.
	IssuerURL   string
	UpstreamURL string
	// Config is the rendered native YAML the gateway was built from.
	Config []byte
	// ValidToken is valid for a day: sub alice, team dev. ExpiredToken
	// expired an hour ago.
	ValidToken   string
	ExpiredToken string
	// Issuer mints further tokens.
	Issuer *Issuer

	servers []*http.Server
	gw      *gateway.Gateway
}

// Start starts the issuer, the upstream, the gateway and the admin
// listener, and returns once all accept connections. Close stops them.
func Start(ctx context.Context, opts Options) (*Demo, error) {
	d := &Demo{}
	if err := d.start(ctx, opts); err != nil {
		_ = d.Close(context.Background())
		return nil, err
	}
	return d, nil
}

func (d *Demo) start(ctx context.Context, opts Options) error {
	var err error

	issuerLn, err := listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	d.IssuerURL = "http://" + issuerLn.Addr().String()
	if d.Issuer, err = NewIssuer(d.IssuerURL); err != nil {
		issuerLn.Close()
		return err
	}
	d.serve(issuerLn, d.Issuer.Handler())

	upstreamLn, err := listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	d.UpstreamURL = "http://" + upstreamLn.Addr().String()
	d.serve(upstreamLn, Echo())

	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, map[string]string{
		"Addr":     addr,
		"Issuer":   d.IssuerURL,
		"JWKSURI":  d.IssuerURL + JWKSPath,
		"Upstream": d.UpstreamURL,
	}); err != nil {
		return fmt.Errorf("rendering demo config: %w", err)
	}
	d.Config = buf.Bytes()
	admin := opts.AdminAddr
	switch admin {
	case "":
		admin = "127.0.0.1:0"
	case "off":
		admin = ""
	}
	gw, snap, err := gateway.Start(ctx, gateway.Options{Data: d.Config, DataName: "demo.yaml", Logger: opts.Logger, AdminAddress: admin})
	if errors.Is(err, gateway.ErrInvalid) {
		return fmt.Errorf("demo config: %w", snap.Issues.Err())
	}
	if err != nil {
		return fmt.Errorf("starting demo gateway: %w", err)
	}
	d.gw = gw
	a := gw.Addr("demo")
	if a == nil {
		return errors.New("demo gateway has no address")
	}
	d.GatewayURL = "http://" + a.String()
	if aa := gw.AdminAddr(); aa != nil {
		d.AdminURL = "http://" + aa.String()
	}

	if d.ValidToken, err = d.Issuer.MintFor("alice", 24*time.Hour, map[string]any{"team": "dev"}); err != nil {
		return err
	}
	if d.ExpiredToken, err = d.Issuer.MintFor("alice", -time.Hour, map[string]any{"team": "dev"}); err != nil {
		return err
	}
	return nil
}

func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

func (d *Demo) serve(ln net.Listener, h http.Handler) {
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	d.servers = append(d.servers, s)
	go func() { _ = s.Serve(ln) }()
}

// Close stops everything the demo started, waiting for requests in flight
// until ctx is done.
func (d *Demo) Close(ctx context.Context) error {
	var errs []error
	if d.gw != nil {
		errs = append(errs, d.gw.Shutdown(ctx))
	}
	for _, s := range d.servers {
		errs = append(errs, s.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Example is one request to try against the demo.
type Example struct {
	// Title says what the request shows and what it gets.
	Title string
	// Curl is a command ready to paste into a shell.
	Curl string
	// URL and Token (empty for none) are what Curl sends.
	URL   string
	Token string
}

// Examples are the three requests the demo suggests: no token, a valid
// one and an expired one.
func (d *Demo) Examples() []Example {
	url := d.GatewayURL + "/headers"
	curl := func(token string) string {
		if token == "" {
			return "curl -i " + url
		}
		return "curl -i " + url + " -H 'Authorization: Bearer " + token + "'"
	}
	return []Example{
		{"No token: 401 Jwt is missing", curl(""), url, ""},
		{"A valid token (sub alice, team dev): 200, the echo shows X-User, X-Team and X-Jwt-Payload", curl(d.ValidToken), url, d.ValidToken},
		{"An expired token: 401 Jwt is expired", curl(d.ExpiredToken), url, d.ExpiredToken},
	}
}

// Instructions is the text Run prints: the addresses and the examples.
func (d *Demo) Instructions() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jwtgate demo is running.\n\n")
	fmt.Fprintf(&b, "  gateway:  %s\n", d.GatewayURL)
	if d.AdminURL != "" {
		fmt.Fprintf(&b, "  admin:    %s  (/healthz, /readyz, /metrics, /config)\n", d.AdminURL)
	}
	fmt.Fprintf(&b, "  issuer:   %s  (%s)\n", d.IssuerURL, JWKSPath)
	fmt.Fprintf(&b, "  upstream: %s  (echoes the request as JSON)\n\n", d.UpstreamURL)
	for _, e := range d.Examples() {
		fmt.Fprintf(&b, "# %s\n%s\n\n", e.Title, e.Curl)
	}
	b.WriteString("The gateway's configuration is internal/demo/demo.yaml.tmpl. Press Ctrl-C to stop.\n")
	return b.String()
}

// Run starts the demo, prints the instructions to opts.Out and serves
// until ctx is done.
func Run(ctx context.Context, opts Options) error {
	d, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	_, _ = io.WriteString(out, d.Instructions())
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return d.Close(shutdown)
}
