package demo

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is a local token issuer: an RSA-2048 key made at start, its JWKS
// and OIDC discovery document served over HTTP, and a way to mint tokens
// signed with RS256. It is for demos, tests and benchmarks only; the key
// never leaves memory.
type Issuer struct {
	// URL is the issuer's base URL and its tokens' iss claim. Set it
	// before serving Handler (discovery names it) and before minting.
	URL string

	key  *rsa.PrivateKey
	kid  string
	jwks []byte
}

// NewIssuer generates a fresh key. url is the issuer (iss) and base URL.
func NewIssuer(url string) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating issuer key: %w", err)
	}
	jwk := map[string]string{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"n":   b64(key.N.Bytes()),
		"e":   b64(big.NewInt(int64(key.E)).Bytes()),
	}
	// The kid is the RFC 7638 thumbprint: the SHA-256 of the required
	// members in lexical order.
	thumb, _ := json.Marshal(map[string]string{"e": jwk["e"], "kty": "RSA", "n": jwk["n"]})
	sum := sha256.Sum256(thumb)
	jwk["kid"] = b64(sum[:])
	jwks, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	if err != nil {
		return nil, err
	}
	return &Issuer{URL: url, key: key, kid: jwk["kid"], jwks: jwks}, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// KeyID is the kid of the issuer's key.
func (i *Issuer) KeyID() string { return i.kid }

// JWKS is the issuer's public key set, as a JSON document.
func (i *Issuer) JWKS() []byte { return i.jwks }

// Key is the issuer's private key (for tools that sign on their own).
func (i *Issuer) Key() *rsa.PrivateKey { return i.key }

// JWKSPath and DiscoveryPath are where Handler serves the key set and
// the OIDC discovery document.
const (
	JWKSPath      = "/.well-known/jwks.json"
	DiscoveryPath = "/.well-known/openid-configuration"
)

// Handler serves the JWKS and the discovery document.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+JWKSPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(i.jwks)
	})
	mux.HandleFunc("GET "+DiscoveryPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                i.URL,
			"jwks_uri":                              i.URL + JWKSPath,
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	return mux
}

// Mint signs claims with RS256. iss is set to the issuer's URL and iat
// to now unless claims already hold them.
func (i *Issuer) Mint(claims map[string]any) (string, error) {
	c := jwt.MapClaims{"iss": i.URL, "iat": time.Now().Unix()}
	for k, v := range claims {
		c[k] = v
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = i.kid
	s, err := t.SignedString(i.key)
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return s, nil
}

// MintFor is Mint for a subject with a lifetime: exp = now + ttl (a
// negative ttl makes an expired token), plus extra claims.
func (i *Issuer) MintFor(sub string, ttl time.Duration, extra map[string]any) (string, error) {
	c := map[string]any{"sub": sub, "exp": time.Now().Add(ttl).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return i.Mint(c)
}
