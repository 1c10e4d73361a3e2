// Package admin serves the gateway's administration endpoints: liveness,
// readiness, and what the gateway registers (metrics, the configuration
// dump, the web console under /console/, to which / redirects).
//
// The admin handler is meant for a loopback or otherwise private address;
// it performs no authentication of its own.
package admin

import (
	"net/http"
)

// Options configures the admin handler.
type Options struct {
	// Ready reports whether the gateway serves traffic. Nil means never
	// ready: /readyz answers 503 until a real check is supplied.
	Ready func() bool
	// Console, when set, serves the web console: every method on
	// /console/ and below reaches it (it answers 405 itself), and GET /
	// redirects to /console/.
	Console http.Handler
}

// Handler is the admin HTTP handler. Further endpoints are added with
// Handle before it starts serving.
type Handler struct {
	mux   *http.ServeMux
	ready func() bool
}

// New returns the admin handler with GET /healthz and GET /readyz, and
// the console when Options.Console is set.
func New(opts Options) *Handler {
	h := &Handler{mux: http.NewServeMux(), ready: opts.Ready}
	h.mux.HandleFunc("GET /healthz", h.healthz)
	h.mux.HandleFunc("GET /readyz", h.readyz)
	if opts.Console != nil {
		h.mux.Handle("/console/", opts.Console)
		h.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/console/", http.StatusFound)
		})
	}
	return h
}

// Handle registers an extra endpoint, with http.ServeMux pattern syntax
// ("GET /config_dump"). It must be called before the handler serves.
func (h *Handler) Handle(pattern string, handler http.Handler) {
	h.mux.Handle(pattern, handler)
}

// ServeHTTP dispatches to the registered endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// healthz answers 200 while the process runs.
func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	text(w, http.StatusOK, "ok")
}

// readyz answers 200 when the gateway serves traffic, 503 otherwise.
func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	if h.ready != nil && h.ready() {
		text(w, http.StatusOK, "ready")
		return
	}
	text(w, http.StatusServiceUnavailable, "not ready")
}

func text(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}
