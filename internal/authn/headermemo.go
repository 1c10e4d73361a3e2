package authn

import (
	"strings"
	"sync"
	"sync/atomic"
)

// headerMemoSize bounds the headers a provider remembers. An issuer's
// tokens share one protected header per signing key, so a few cover the
// keys in use during a rotation.
const headerMemoSize = 16

// memoHeader is one remembered protected header and what it decides.
type memoHeader struct {
	seg      string // base64url, as in the token
	alg, kid string
}

// headerMemo remembers the protected headers of tokens that verified, so
// that the next token with the same header skips decoding it: the same
// bytes always decode to the same alg and kid, and a header with crit
// never verifies. Only verified tokens add to it, so forged tokens cannot
// crowd out the real headers; past headerMemoSize the oldest is replaced.
// Lookups take no lock. The zero value is ready; a nil memo remembers
// nothing.
type headerMemo struct {
	list atomic.Pointer[[]memoHeader]
	mu   sync.Mutex // serializes remember
	next int        // the slot remember replaces once the list is full
}

// lookup returns what the header seg decided, if it is remembered.
func (m *headerMemo) lookup(seg string) (memoHeader, bool) {
	if m == nil {
		return memoHeader{}, false
	}
	if l := m.list.Load(); l != nil {
		for _, h := range *l {
			if h.seg == seg {
				return h, true
			}
		}
	}
	return memoHeader{}, false
}

// remember adds t's header, which belongs to a token that verified.
func (m *headerMemo) remember(t *token) {
	if m == nil {
		return
	}
	if _, ok := m.lookup(t.headerSeg); ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.lookup(t.headerSeg); ok {
		return // remembered meanwhile
	}
	var l []memoHeader
	if old := m.list.Load(); old != nil {
		l = append(make([]memoHeader, 0, headerMemoSize), *old...)
	}
	// The token's own string would stay alive through a substring.
	h := memoHeader{seg: strings.Clone(t.headerSeg), alg: t.alg, kid: strings.Clone(t.kid)}
	if len(l) < headerMemoSize {
		l = append(l, h)
	} else {
		l[m.next] = h
		m.next = (m.next + 1) % headerMemoSize
	}
	m.list.Store(&l)
}
