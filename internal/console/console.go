// Package console is the admin listener's web console: a few
// server-rendered HTML pages (html/template, no JavaScript) that show the
// running configuration's listeners and routes, each provider's key set,
// every resource's status, the last requests the gateway denied, and a
// form that explains what the gateway would do with a request.
//
// The console only reads: every page answers GET and HEAD, and the one
// form (explain) is a POST that changes nothing. Every response forbids
// framing, caching, scripts and loading anything from elsewhere (a
// Content-Security-Policy of default-src 'none'); the explain POST is
// refused when it comes from another origin, and every page is refused
// when the Host header names a host that is neither an IP address nor
// localhost, so that a web page elsewhere cannot reach a console bound on
// loopback by rebinding its own DNS name.
package console

import (
	"context"
	"net/http"
	"time"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// Prefix is the path every console page is under; Handler serves it and
// everything below.
const Prefix = "/console/"

// The console's pages, under Prefix.
const (
	PathOverview  = Prefix
	PathProviders = Prefix + "providers"
	PathResources = Prefix + "resources"
	PathDenied    = Prefix + "denied"
	PathExplain   = Prefix + "explain"
)

// Bounds on the explain form.
const (
	// maxFormBytes bounds an explain POST body.
	maxFormBytes = 64 << 10
	// maxHeaders bounds the headers the explain form takes.
	maxHeaders = 100
	// explainTimeout bounds an explanation (it may wait for a key set).
	explainTimeout = 15 * time.Second
)

// State is what the console shows of the running configuration, taken
// afresh for every page.
type State struct {
	// Version is the configuration's digest, LoadedAt when it was
	// compiled, Files the files it was read from.
	Version  string
	LoadedAt time.Time
	Files    []string
	// Warnings are the configuration's warnings.
	Warnings []string
	// Listeners are the configured listeners, in configuration order.
	Listeners []Listener
	// Routes are the compiled routes (proxy.Runtime.Explain).
	Routes []proxy.RouteExplanation
	// Resources are every resource's status.
	Resources []model.Status
	// Providers are the running configuration's providers with their
	// key sets.
	Providers []Provider
}

// Listener is one listener as the overview shows it.
type Listener struct {
	Name string
	// Address is the configured address; Bound the one the socket got
	// (they differ for port 0), empty when not bound.
	Address string
	Bound   string
	TLS     bool
	Egress  bool
}

// Provider is one provider and its key set.
type Provider struct {
	Name   string
	KeySet authn.KeySetState
}

// ExplainInput is what the explain form submits.
type ExplainInput struct {
	// Listener names the listener the request arrives on; empty lets the
	// explainer choose.
	Listener string
	Method   string
	URL      string
	Header   http.Header
	// PeerSPIFFE is the SPIFFE ID of the client certificate, if any;
	// RemoteAddr the client's ip:port, if given.
	PeerSPIFFE string
	RemoteAddr string
}

// Explainer explains what the gateway would do with a request, without
// sending it anywhere, as the report `jwtgate explain` prints.
type Explainer interface {
	Explain(ctx context.Context, in ExplainInput) (string, error)
}

// ExplainerFunc adapts a function to Explainer.
type ExplainerFunc func(ctx context.Context, in ExplainInput) (string, error)

// Explain calls f.
func (f ExplainerFunc) Explain(ctx context.Context, in ExplainInput) (string, error) {
	return f(ctx, in)
}

// Options configure the console.
type Options struct {
	// State returns the running configuration; it is called once per
	// page and must be safe for concurrent use. Nil shows an empty one.
	State func() State
	// Denied is the gateway's log of denied requests; nil shows none.
	Denied *proxy.DeniedLog
	// Explainer answers the explain form; nil shows the form as
	// unavailable.
	Explainer Explainer
	// Now is the clock ages are computed with; nil means time.Now.
	Now func() time.Time
}

// Handler serves the console's pages under Prefix.
type Handler struct {
	opts  Options
	cross *http.CrossOriginProtection
}

// New returns the console handler.
func New(opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.State == nil {
		opts.State = func() State { return State{} }
	}
	return &Handler{opts: opts, cross: http.NewCrossOriginProtection()}
}

// ServeHTTP serves one console page. Unknown paths get 404, methods a
// page does not take 405.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w.Header())
	if !localHost(r.Host) {
		plain(w, http.StatusMisdirectedRequest, "the console answers only requests addressed to an IP address or localhost")
		return
	}
	post := false
	switch r.URL.Path {
	case PathOverview, PathProviders, PathResources, PathDenied:
	case PathExplain:
		post = true
	default:
		plain(w, http.StatusNotFound, "no such console page")
		return
	}
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
	case r.Method == http.MethodPost && post:
		h.explainPost(w, r)
		return
	default:
		allow := "GET, HEAD"
		if post {
			allow += ", POST"
		}
		w.Header().Set("Allow", allow)
		plain(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	switch r.URL.Path {
	case PathOverview:
		h.overview(w)
	case PathProviders:
		h.providers(w)
	case PathResources:
		h.resources(w)
	case PathDenied:
		h.denied(w)
	case PathExplain:
		h.explainForm(w)
	}
}
