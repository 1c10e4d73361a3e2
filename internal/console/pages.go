package console

import (
	"fmt"
	"net/http"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// overviewData is the overview page's.
type overviewData struct {
	Version   string
	LoadedAt  string
	Age       string
	Files     []string
	Warnings  []string
	Listeners []Listener
	Routes    []routeRow
}

// routeRow is one compiled route.
type routeRow struct {
	proxy.RouteExplanation
	// Auth summarizes the JWT requirement: "open" or its providers and
	// mode.
	Auth string
}

func (h *Handler) overview(w http.ResponseWriter) {
	s := h.opts.State()
	now := h.opts.Now()
	d := overviewData{Version: s.Version, LoadedAt: when(s.LoadedAt), Age: age(now, s.LoadedAt), Files: s.Files,
		Warnings: s.Warnings, Listeners: s.Listeners}
	for _, r := range s.Routes {
		d.Routes = append(d.Routes, routeRow{RouteExplanation: r, Auth: authSummary(r.JWT)})
	}
	h.render(w, http.StatusOK, "overview", "Listeners and routes", d)
}

// authSummary describes a route's JWT requirement in one line.
func authSummary(j *proxy.JWTExplanation) string {
	if j == nil {
		return "open (no JWT requirement)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", j.Mode, strings.Join(j.Providers, ", "))
	if j.RequireAll {
		b.WriteString(" (all)")
	}
	fmt.Fprintf(&b, "; phase %s; from %s", j.Phase, j.From)
	if len(j.NotApplied) > 0 {
		fmt.Fprintf(&b, "; not applied: %s", strings.Join(j.NotApplied, ", "))
	}
	return b.String()
}

// providerRow is one provider on the providers page.
type providerRow struct {
	Name        string
	Source      string
	Keys        []keyRow
	LoadedAt    string
	Age         string
	LastFetch   string
	LastError   string
	LastErrorAt string
	Fetches     uint64
	Failures    uint64
	Remote      bool
	// SharedWith names the other providers whose key set this is.
	SharedWith []string
}

// keyRow is one key, by its public attributes.
type keyRow struct {
	Kid, Alg, Type string
}

func (h *Handler) providers(w http.ResponseWriter) {
	s := h.opts.State()
	now := h.opts.Now()
	rows := make([]providerRow, 0, len(s.Providers))
	for _, p := range s.Providers {
		k := p.KeySet
		r := providerRow{Name: p.Name, LoadedAt: when(k.LoadedAt), Age: age(now, k.LoadedAt), Remote: k.Remote,
			Fetches: k.Fetches, Failures: k.Failures, LastError: k.LastError, SharedWith: k.SharedWith}
		switch {
		case k.URI != "":
			r.Source = "remote: " + k.URI
		case k.Remote:
			r.Source = "remote: OIDC discovery from " + k.Issuer
		default:
			r.Source = "local (inline or file)"
		}
		if k.Remote {
			r.LastFetch = when(k.LastFetch)
			if !k.LastErrorAt.IsZero() {
				r.LastErrorAt = when(k.LastErrorAt)
			}
		}
		for _, key := range k.Keys {
			typ := key.Type
			if key.Curve != "" {
				typ += " " + key.Curve
			}
			kid, alg := key.Kid, key.Alg
			if kid == "" {
				kid = "(none)"
			}
			if alg == "" {
				alg = "(any of its type)"
			}
			r.Keys = append(r.Keys, keyRow{Kid: kid, Alg: alg, Type: typ})
		}
		rows = append(rows, r)
	}
	h.render(w, http.StatusOK, "providers", "Providers and key sets", rows)
}

// resourceRow is one resource's status.
type resourceRow struct {
	model.Status
	Where    string
	Accepted bool
}

func (h *Handler) resources(w http.ResponseWriter) {
	s := h.opts.State()
	rows := make([]resourceRow, 0, len(s.Resources))
	for _, st := range s.Resources {
		r := resourceRow{Status: st, Accepted: st.Accepted(), Where: st.File}
		if st.Line > 0 {
			r.Where = fmt.Sprintf("%s:%d", st.File, st.Line)
		}
		rows = append(rows, r)
	}
	h.render(w, http.StatusOK, "resources", "Resources", rows)
}

// deniedData is the denied page's.
type deniedData struct {
	// Kept is false without a DeniedLog.
	Kept     bool
	Claims   bool
	Capacity int
	Total    uint64
	Rows     []deniedRow
}

// deniedRow is one denied request.
type deniedRow struct {
	proxy.DeniedRequest
	When string
}

func (h *Handler) denied(w http.ResponseWriter) {
	d := deniedData{}
	if l := h.opts.Denied; l != nil {
		recent, total := l.Recent()
		d = deniedData{Kept: true, Claims: l.Claims(), Capacity: l.Capacity(), Total: total}
		for _, e := range recent {
			d.Rows = append(d.Rows, deniedRow{DeniedRequest: e, When: when(e.Time)})
		}
	}
	h.render(w, http.StatusOK, "denied", "Denied requests", d)
}
