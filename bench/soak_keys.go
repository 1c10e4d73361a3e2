package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// soakKey is one RSA-2048 signing key of the soak's identity provider.
type soakKey struct {
	n    int // 0 for the first key, k for the key of the k-th rotation
	kid  string
	priv *rsa.PrivateKey
	jwk  map[string]string
}

// newSoakKey generates the key of rotation n.
func newSoakKey(n int) (*soakKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating soak key %d: %w", n, err)
	}
	kid := fmt.Sprintf("soak-%d-%s", n, randomHex(4))
	return &soakKey{n: n, kid: kid, priv: priv, jwk: map[string]string{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": kid,
		"n":   base64.RawURLEncoding.EncodeToString(priv.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(priv.E)).Bytes()),
	}}, nil
}

// randomHex is n random bytes in hexadecimal.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// keyring is the soak's identity provider: the keys its JWKS publishes,
// the one it signs valid tokens with, and a stranger key that signs the
// tokens of unknown kids. It serves the JWKS and counts the fetches.
type keyring struct {
	issuer   string
	stranger *rsa.PrivateKey

	mu        sync.Mutex
	published []*soakKey // in publication order
	signing   *soakKey

	jwks    atomic.Pointer[[]byte]
	fetches atomic.Int64

	// recent are valid tokens already sent once, sent again (as a
	// client reuses its token) while younger than maxReuse.
	recentMu sync.Mutex
	recent   [256]recentToken
	maxReuse time.Duration
}

// recentToken is a valid token and what it was minted with.
type recentToken struct {
	token  string
	key    int
	minted time.Time
}

// newKeyring makes the first key, published and used for signing.
// maxReuse bounds the age of a token sent again.
func newKeyring(issuer string, maxReuse time.Duration) (*keyring, error) {
	first, err := newSoakKey(0)
	if err != nil {
		return nil, err
	}
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating the stranger key: %w", err)
	}
	k := &keyring{issuer: issuer, stranger: stranger, maxReuse: maxReuse}
	k.publish(first)
	k.use(first)
	return k, nil
}

// publish adds key to the JWKS.
func (k *keyring) publish(key *soakKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.published = append(k.published, key)
	k.render()
}

// retire removes key from the JWKS.
func (k *keyring) retire(key *soakKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.published = slices.DeleteFunc(k.published, func(p *soakKey) bool { return p == key })
	k.render()
}

// use makes key the one valid tokens are signed with, and returns the
// key it replaces.
func (k *keyring) use(key *soakKey) (previous *soakKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	previous, k.signing = k.signing, key
	return previous
}

// current is the signing key.
func (k *keyring) current() *soakKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.signing
}

// kids are the published key ids, in publication order.
func (k *keyring) kids() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, len(k.published))
	for i, p := range k.published {
		out[i] = p.kid
	}
	return out
}

// render rebuilds the JWKS document; the caller holds k.mu.
func (k *keyring) render() {
	keys := make([]map[string]string, len(k.published))
	for i, p := range k.published {
		keys[i] = p.jwk
	}
	doc, _ := json.Marshal(map[string]any{"keys": keys})
	k.jwks.Store(&doc)
}

// ServeHTTP serves the JWKS and counts the fetch.
func (k *keyring) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != soakJWKSPath {
		http.NotFound(w, r)
		return
	}
	k.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(*k.jwks.Load())
}

// soakJWKSPath is where the keyring serves its JWKS.
const soakJWKSPath = "/.well-known/jwks.json"

// sign signs claims with RS256 and the given kid, adding iss.
func (k *keyring) sign(priv *rsa.PrivateKey, kid string, claims jwt.MapClaims) (string, error) {
	claims["iss"] = k.issuer
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = kid
	s, err := t.SignedString(priv)
	if err != nil {
		return "", fmt.Errorf("signing a soak token: %w", err)
	}
	return s, nil
}

// valid mints a token that must verify: signed with the current key,
// valid for 10 minutes, with a subject of its own (so that it misses the
// gateway's verified-token cache). It is remembered for reuse.
func (k *keyring) valid(seq uint64) (token string, key int, err error) {
	cur := k.current()
	now := time.Now()
	token, err = k.sign(cur.priv, cur.kid, jwt.MapClaims{
		"sub": fmt.Sprintf("soak-%d", seq),
		"iat": now.Unix(),
		"exp": now.Add(10 * time.Minute).Unix(),
	})
	if err != nil {
		return "", 0, err
	}
	k.recentMu.Lock()
	k.recent[seq%uint64(len(k.recent))] = recentToken{token: token, key: cur.n, minted: now}
	k.recentMu.Unlock()
	return token, cur.n, nil
}

// reused returns a valid token sent before (a hit in the gateway's
// cache), minted less than maxReuse ago so that its key is still
// published; when there is none, it mints a new one.
func (k *keyring) reused(seq uint64) (token string, key int, err error) {
	k.recentMu.Lock()
	r := k.recent[(seq*7919)%uint64(len(k.recent))]
	k.recentMu.Unlock()
	if r.token != "" && time.Since(r.minted) < k.maxReuse {
		return r.token, r.key, nil
	}
	return k.valid(seq)
}

// expired mints a token signed with the current key that expired ten
// minutes ago (well past the gateway's 60s clock skew).
func (k *keyring) expired(seq uint64) (string, error) {
	cur := k.current()
	now := time.Now()
	return k.sign(cur.priv, cur.kid, jwt.MapClaims{
		"sub": fmt.Sprintf("soak-%d", seq),
		"iat": now.Add(-20 * time.Minute).Unix(),
		"exp": now.Add(-10 * time.Minute).Unix(),
	})
}

// unknownKid mints an otherwise valid token signed by a key the JWKS has
// never published, under a kid never seen before.
func (k *keyring) unknownKid(seq uint64) (string, error) {
	now := time.Now()
	return k.sign(k.stranger, "stranger-"+randomHex(8), jwt.MapClaims{
		"sub": fmt.Sprintf("soak-%d", seq),
		"iat": now.Unix(),
		"exp": now.Add(10 * time.Minute).Unix(),
	})
}

// forged takes a valid token (a published kid) and replaces its payload
// with one claiming another subject, keeping the signature: no key
// verifies it.
func (k *keyring) forged(seq uint64) (string, error) {
	token, _, err := k.reused(seq)
	if err != nil {
		return "", err
	}
	parts := strings.Split(token, ".")
	payload, _ := json.Marshal(map[string]any{
		"iss": k.issuer,
		"sub": "mallory",
		"iat": time.Now().Unix(),
		"exp": time.Now().Add(10 * time.Minute).Unix(),
	})
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, "."), nil
}
