package authn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// Key families: the JWK kty a key has.
const (
	ktyRSA = "RSA"
	ktyEC  = "EC"
	ktyOKP = "OKP"
	ktyOct = "oct"
)

// key is one verification key.
type key struct {
	kid string
	// alg is the JWK's alg, empty when the key does not restrict it.
	alg string
	kty string
	// crv is the EC curve name (P-256, P-384, P-521).
	crv string
	// pub is *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or
	// []byte (oct), the types golang-jwt's signing methods take.
	pub any
	// fp identifies the key: two keys with the same fp verify the same
	// tokens (see keyFingerprint).
	fp keyFP
}

// keyFP is a key's fingerprint: SHA-256 over its kid, alg, kty, curve and
// public material (for oct keys the secret, which the hash does not
// reveal).
type keyFP [sha256.Size]byte

// keyFingerprint computes k's fingerprint.
func keyFingerprint(k *key) (keyFP, error) {
	var material []byte
	switch p := k.pub.(type) {
	case []byte:
		material = p
	default:
		der, err := x509.MarshalPKIXPublicKey(p)
		if err != nil {
			return keyFP{}, fmt.Errorf("fingerprinting the key: %w", err)
		}
		material = der
	}
	h := sha256.New()
	for _, part := range []string{k.kid, k.alg, k.kty, k.crv} {
		// Length-prefixed, so that no two tuples hash alike.
		fmt.Fprintf(h, "%d:%s", len(part), part)
	}
	h.Write(material)
	var fp keyFP
	h.Sum(fp[:0])
	return fp, nil
}

// keySet is an immutable set of keys. Remote key sets may be shared by
// several providers (see KeySets); what is a provider's own, such as its
// verified-token cache, is kept by the provider against the key set it
// belongs to (see Provider.tokenCache).
type keySet struct {
	keys []key
	kids map[string]struct{}
	fps  map[keyFP]struct{}
	// raw is the document the set was parsed from (remote sets), so that an
	// unchanged refresh keeps the set and the providers' caches.
	raw []byte
	// gen counts the key sets a remote key set had before this one, so
	// that a provider can tell the newer of two sets.
	gen uint64
}

func newKeySet(keys []key, raw []byte) *keySet {
	ks := &keySet{keys: keys, kids: make(map[string]struct{}, len(keys)), fps: make(map[keyFP]struct{}, len(keys)), raw: raw}
	for _, k := range keys {
		ks.fps[k.fp] = struct{}{}
		if k.kid != "" {
			ks.kids[k.kid] = struct{}{}
		}
	}
	return ks
}

// hasKid reports whether some key carries kid.
func (ks *keySet) hasKid(kid string) bool {
	_, ok := ks.kids[kid]
	return ok
}

// algFamily is the kty (and for EC the curve) an algorithm needs.
func algFamily(alg string) (kty, crv string) {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return ktyRSA, ""
	case "ES256":
		return ktyEC, "P-256"
	case "ES384":
		return ktyEC, "P-384"
	case "ES512":
		return ktyEC, "P-521"
	case "EdDSA":
		return ktyOKP, ""
	case "HS256", "HS384", "HS512":
		return ktyOct, ""
	}
	return "", ""
}

// fits reports whether k may verify a token signed with alg: same family,
// and the JWK's own alg, when set, equal to it.
func (k *key) fits(alg string) bool {
	kty, crv := algFamily(alg)
	if kty == "" || k.kty != kty || k.crv != crv {
		return false
	}
	return k.alg == "" || k.alg == alg
}

// verify checks t's signature with the keys that fit its kid and alg,
// and returns the key that verified it. allowed, when not nil, is the
// provider's algorithm allow-list.
func (ks *keySet) verify(t *token, allowed map[string]bool) (*key, *Error) {
	if allowed != nil && !allowed[t.alg] {
		return nil, ErrKidAlgMismatch
	}
	method := jwt.GetSigningMethod(t.alg)
	if method == nil {
		return nil, ErrAlgUnsupported
	}
	tried := false
	for i := range ks.keys {
		k := &ks.keys[i]
		if t.kid != "" && k.kid != "" && k.kid != t.kid {
			continue
		}
		if !k.fits(t.alg) {
			continue
		}
		tried = true
		if method.Verify(t.signingInput, t.sig, k.pub) == nil {
			return k, nil
		}
	}
	if !tried {
		return nil, ErrKidAlgMismatch
	}
	return nil, ErrVerificationFail
}

// keyFromPublic wraps a parsed public key.
func keyFromPublic(pub any, kid, alg string) (key, error) {
	k := key{kid: kid, alg: alg, pub: pub}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		k.kty = ktyRSA
	case *ecdsa.PublicKey:
		k.kty = ktyEC
		k.crv = p.Curve.Params().Name
		switch k.crv {
		case "P-256", "P-384", "P-521":
		default:
			return key{}, fmt.Errorf("unsupported EC curve %s", k.crv)
		}
	case ed25519.PublicKey:
		k.kty = ktyOKP
	case []byte:
		if len(p) == 0 {
			return key{}, errors.New("empty symmetric key")
		}
		k.kty = ktyOct
	default:
		return key{}, fmt.Errorf("unsupported key type %T", pub)
	}
	if alg != "" {
		if kty, crv := algFamily(alg); kty != k.kty || crv != k.crv {
			return key{}, fmt.Errorf("key alg %q does not suit a %s key", alg, k.kty)
		}
	}
	fp, err := keyFingerprint(&k)
	if err != nil {
		return key{}, err
	}
	k.fp = fp
	return k, nil
}

// parseJWKS parses a JWKS document. Each key is parsed on its own with
// go-jose; keys that cannot be used for signature verification (use "enc",
// unknown kty or curve, bad material, and oct keys when allowOct is false)
// are skipped, so one odd key does not sink the set. A set with no usable
// key is an error.
func parseJWKS(doc []byte, allowOct bool) ([]key, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("parsing jwks: %w", err)
	}
	var keys []key
	var skipped []error
	for i, raw := range set.Keys {
		k, err := parseJWK(raw, allowOct)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		if len(set.Keys) == 0 {
			return nil, errors.New("parsing jwks: no keys")
		}
		return nil, fmt.Errorf("parsing jwks: no usable key: %w", errors.Join(skipped...))
	}
	return keys, nil
}

// parseJWK parses one JWK into a verification key.
func parseJWK(raw []byte, allowOct bool) (key, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return key{}, err
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return key{}, fmt.Errorf("use %q is not sig", jwk.Use)
	}
	pub := jwk.Key
	if _, sym := pub.([]byte); !sym && !jwk.Valid() {
		return key{}, errors.New("invalid key material")
	}
	switch p := pub.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		pub = jwk.Public().Key
	case []byte:
		if !allowOct {
			return key{}, errors.New("symmetric (oct) keys are not accepted from a remote key set")
		}
		pub = bytes.Clone(p)
	}
	if jwk.Algorithm != "" && !supportedAlgs[jwk.Algorithm] {
		return key{}, fmt.Errorf("alg %q is not supported", jwk.Algorithm)
	}
	return keyFromPublic(pub, jwk.KeyID, jwk.Algorithm)
}

// parsePEM parses one or more PEM blocks, each a PKIX public key, a PKCS#1
// RSA public key or a certificate.
func parsePEM(doc []byte) ([]key, error) {
	var keys []key
	rest := doc
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var pub any
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				pub = c.PublicKey
			}
		default:
			return nil, fmt.Errorf("parsing pem: block %q is not a public key or certificate", b.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("parsing pem %s: %w", b.Type, err)
		}
		k, err := keyFromPublic(pub, "", "")
		if err != nil {
			return nil, fmt.Errorf("parsing pem %s: %w", b.Type, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("parsing pem: no PEM block found")
	}
	return keys, nil
}

// parseLocal parses a local key document, JWKS or PEM by its content.
func parseLocal(doc []byte) ([]key, error) {
	if strings.HasPrefix(strings.TrimSpace(string(doc)), "{") {
		return parseJWKS(doc, true)
	}
	return parsePEM(doc)
}
