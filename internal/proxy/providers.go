package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"sync/atomic"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/model"
)

// sharedProvider is a compiled provider that successive Runtimes may
// share: a reload whose provider configuration did not change borrows it,
// so the key set, its refresh schedule and the verified-token cache carry
// over. The last Runtime to let go closes it.
type sharedProvider struct {
	*authn.Provider
	// fingerprint identifies the configuration the provider was built
	// from, files' contents included.
	fingerprint string
	refs        atomic.Int32
}

// release drops one Runtime's hold; the last closes the provider.
func (s *sharedProvider) release() {
	if s.refs.Add(-1) == 0 {
		s.Provider.Close()
	}
}

// providerFingerprint is a digest of everything a provider is built
// from: its model (without origin) and the contents of the files it
// reads, so that an edited key file gives a new provider.
func providerFingerprint(p model.Provider) string {
	p.Origin = model.Origin{}
	h := sha256.New()
	b, _ := json.Marshal(p) // plain data: cannot fail
	h.Write(b)
	for _, f := range []string{p.JWKS.File, p.JWKS.CAFile} {
		if f == "" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			h.Write([]byte("unreadable:" + err.Error()))
			continue
		}
		h.Write([]byte{0})
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// borrow returns the previous Runtime's provider of that name when it was
// built from the same fingerprint, with one more hold on it.
func borrow(prev *Runtime, name, fingerprint string) *sharedProvider {
	if prev == nil {
		return nil
	}
	for _, sp := range prev.providers {
		if sp.Name() == name && sp.fingerprint == fingerprint {
			sp.refs.Add(1)
			return sp
		}
	}
	return nil
}

// Providers returns the runtime's providers, in configuration order.
func (rt *Runtime) Providers() []*authn.Provider {
	out := make([]*authn.Provider, len(rt.providers))
	for i, sp := range rt.providers {
		out[i] = sp.Provider
	}
	return out
}
