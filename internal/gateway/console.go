package gateway

import (
	"context"
	"errors"
	"net/http"

	"jwtgate.dev/jwtgate/internal/console"
	"jwtgate.dev/jwtgate/internal/proxy"
)

// console is the admin listener's web console, showing the running
// configuration.
func (g *Gateway) console() http.Handler {
	return console.New(console.Options{State: g.consoleState, Denied: g.denied, Explainer: g.explainer()})
}

// consoleState describes the running configuration for the console.
func (g *Gateway) consoleState() console.State {
	s := g.snap.Load()
	if s == nil {
		return console.State{}
	}
	st := console.State{Version: s.Version, LoadedAt: s.LoadedAt, Files: s.Files, Resources: s.Statuses}
	for _, w := range s.Issues.Warnings() {
		st.Warnings = append(st.Warnings, w.Error())
	}
	if s.Config != nil {
		for _, l := range s.Config.Listeners {
			cl := console.Listener{Name: l.Name, Address: l.Address, TLS: l.TLS != nil, Egress: l.Egress != nil}
			if a := g.srv.Addr(l.Name); a != nil {
				cl.Bound = a.String()
			}
			st.Listeners = append(st.Listeners, cl)
		}
	}
	if rt := s.Runtime; rt != nil {
		st.Routes = rt.Explain()
		for _, p := range rt.Providers() {
			st.Providers = append(st.Providers, console.Provider{Name: p.Name(), KeySet: p.KeySetState()})
		}
	}
	return st
}

// explainer answers the console's explain form with the running
// configuration's Runtime (proxy.Runtime.ExplainRequest), the same
// pipeline that serves traffic; nothing is sent.
func (g *Gateway) explainer() console.Explainer {
	return console.ExplainerFunc(func(ctx context.Context, in console.ExplainInput) (string, error) {
		s := g.snap.Load()
		if s == nil || s.Runtime == nil {
			return "", errors.New("no configuration is running")
		}
		rep, err := s.Runtime.ExplainRequest(ctx, proxy.ExplainRequest{Listener: in.Listener, Method: in.Method, URL: in.URL,
			Header: in.Header, PeerSPIFFE: in.PeerSPIFFE, RemoteAddr: in.RemoteAddr})
		if err != nil {
			return "", err
		}
		return rep.Text(), nil
	})
}
