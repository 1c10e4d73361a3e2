package proxy

import (
	"net/http"

	"jwtgate.dev/jwtgate/internal/model"
)

// serverLimits are the http.Server limits of a Runtime's listeners, by
// configured address, with the defaults applied. They are kept beside the
// compiled listeners, which do not carry them.
type serverLimits map[string]model.ListenerLimits

// recordLimits keeps ml's server limits for its address; the builder calls
// it for every listener it compiles.
func (b *builder) recordLimits(ml model.Listener) {
	if b.rt.limits == nil {
		b.rt.limits = serverLimits{}
	}
	b.rt.limits[ml.Address] = ml.Limits.WithDefaults()
}

// serverLimits returns the limits of the listener at address, or the
// defaults when rt has none recorded for it.
func (rt *Runtime) serverLimits(address string) model.ListenerLimits {
	if l, ok := rt.limits[address]; ok {
		return l
	}
	return model.ListenerLimits{}.WithDefaults()
}

// applyLimits sets srv's limits from l, which has the defaults applied.
// Request bodies are streamed, so there is no read or write timeout on
// the whole exchange: headers must arrive in time, and idle keep-alive
// connections are closed.
func applyLimits(srv *http.Server, l model.ListenerLimits) {
	srv.MaxHeaderBytes = l.MaxHeaderBytes
	srv.ReadHeaderTimeout = l.ReadHeaderTimeout
	srv.IdleTimeout = l.IdleTimeout
}
