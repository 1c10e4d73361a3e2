package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const tokenSynopsis = `(--key PRIVATE.pem | --secret S) [flags]

Mints a signed JWT and prints it alone on stdout. Claims are assembled in
this order, later ones replacing earlier ones: iat, exp, nbf, iss, sub and
aud from their flags; then --claims; then each --claim.`

func runToken(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("token", tokenSynopsis, stderr)
	var (
		keyFile = fs.String("key", "", "private key PEM file: RSA (PKCS#1 or PKCS#8), EC (SEC 1 or PKCS#8) or Ed25519 (PKCS#8)")
		secret  = fs.String("secret", "", "HMAC secret (raw string) for HS256/HS384/HS512, instead of --key")
		alg     = fs.String("alg", "", "signing algorithm; default from the key: RS256, ES256/ES384/ES512 by curve, EdDSA, or HS256 with --secret")
		kid     = fs.String("kid", "", "kid header; none when empty")
		iss     = fs.String("iss", "", "iss claim")
		sub     = fs.String("sub", "", "sub claim")
		exp     = fs.String("exp", "1h", `exp: a duration from now ("1h", "-5m" for an expired token), a UNIX time, or "none"`)
		nbf     = fs.String("nbf", "", "nbf: a duration from now or a UNIX time; none when empty")
		claims  = fs.String("claims", "", `claims as a JSON object, such as '{"team":"dev"}'`)
		aud     = &listFlag{split: true}
		extra   = &listFlag{}
	)
	fs.Var(aud, "aud", "aud claim; repeatable or comma-separated (one value is a string, several an array)")
	fs.Var(extra, "claim", "claim as name=value; the value is JSON when it parses as JSON, else a string; repeatable")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	tok, err := mintToken(tokenRequest{
		keyFile: *keyFile, secret: *secret, alg: *alg, kid: *kid,
		iss: *iss, sub: *sub, aud: aud.values, exp: *exp, nbf: *nbf,
		claimsJSON: *claims, claims: extra.values, now: time.Now(),
	})
	if err != nil {
		fmt.Fprintf(stderr, "jwtgate token: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitError
	}
	fmt.Fprintln(stdout, tok)
	return exitOK
}

// usageError is a mistake in the flags themselves (exit 2): a missing or
// conflicting key flag, a value that does not parse. Errors that depend on
// the key (it cannot be read, the algorithm does not fit it) are not.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

type tokenRequest struct {
	keyFile, secret, alg, kid string
	iss, sub                  string
	aud                       []string
	exp, nbf                  string
	claimsJSON                string
	claims                    []string
	now                       time.Time
}

func mintToken(req tokenRequest) (string, error) {
	var (
		key any
		alg = req.alg
	)
	switch {
	case req.keyFile != "" && req.secret != "":
		return "", usagef("--key and --secret are exclusive")
	case req.keyFile != "":
		data, err := os.ReadFile(req.keyFile)
		if err != nil {
			return "", err
		}
		signer, err := parsePrivateKey(data)
		if err != nil {
			return "", fmt.Errorf("%s: %w", req.keyFile, err)
		}
		key = signer
		if alg == "" {
			if alg, err = defaultAlg(signer); err != nil {
				return "", fmt.Errorf("%s: %w", req.keyFile, err)
			}
		}
	case req.secret != "":
		key = []byte(req.secret)
		if alg == "" {
			alg = "HS256"
		}
	default:
		return "", usagef("--key or --secret is required")
	}
	method := jwt.GetSigningMethod(alg)
	if method == nil || alg == "none" {
		return "", usagef("unsupported --alg %q", alg)
	}
	if err := checkKeyFits(alg, key); err != nil {
		return "", err
	}

	c := jwt.MapClaims{"iat": req.now.Unix()}
	if req.exp != "none" {
		v, err := parseTime(req.exp, req.now)
		if err != nil {
			return "", usagef("--exp: %w", err)
		}
		c["exp"] = v
	}
	if req.nbf != "" {
		v, err := parseTime(req.nbf, req.now)
		if err != nil {
			return "", usagef("--nbf: %w", err)
		}
		c["nbf"] = v
	}
	if req.iss != "" {
		c["iss"] = req.iss
	}
	if req.sub != "" {
		c["sub"] = req.sub
	}
	switch len(req.aud) {
	case 0:
	case 1:
		c["aud"] = req.aud[0]
	default:
		c["aud"] = req.aud
	}
	if req.claimsJSON != "" {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(req.claimsJSON))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil || m == nil {
			return "", usagef("--claims: not a JSON object: %q", req.claimsJSON)
		}
		for k, v := range m {
			c[k] = v
		}
	}
	for _, kv := range req.claims {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return "", usagef("--claim %q: want name=value", kv)
		}
		c[name] = claimValue(value)
	}

	t := jwt.NewWithClaims(method, c)
	if req.kid != "" {
		t.Header["kid"] = req.kid
	}
	return t.SignedString(key)
}

// claimValue is v parsed as JSON when it is valid JSON, else v itself.
func claimValue(v string) any {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil || dec.More() {
		return v
	}
	if _, err := dec.Token(); err != io.EOF {
		return v
	}
	return out
}

// parseTime reads a duration from now or a UNIX time in seconds.
func parseTime(s string, now time.Time) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a duration nor a UNIX time", s)
	}
	return now.Add(d).Unix(), nil
}

// parsePrivateKey reads the first private key in PEM data.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("unsupported PKCS#8 key type %T", k)
			}
			return s, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted private keys are not supported; decrypt it first")
		}
	}
	return nil, errors.New("no PEM private key found (want RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY)")
}

func defaultAlg(k crypto.Signer) (string, error) { return algFor(k.Public()) }

// algFor is the default signing algorithm for a public key's type.
func algFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
		return "", fmt.Errorf("unsupported EC curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return "EdDSA", nil
	}
	return "", fmt.Errorf("unsupported key type %T", pub)
}

// checkKeyFits rejects an algorithm the key cannot sign with, with a
// clearer message than the JWT library's.
func checkKeyFits(alg string, key any) error {
	var ok bool
	switch {
	case strings.HasPrefix(alg, "HS"):
		_, ok = key.([]byte)
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		_, ok = key.(*rsa.PrivateKey)
	case strings.HasPrefix(alg, "ES"):
		var k *ecdsa.PrivateKey
		if k, ok = key.(*ecdsa.PrivateKey); ok {
			want, _ := defaultAlg(k)
			if want != alg {
				return fmt.Errorf("--alg %s does not fit a %s key (use %s)", alg, k.Curve.Params().Name, want)
			}
		}
	case alg == "EdDSA":
		_, ok = key.(ed25519.PrivateKey)
	}
	if !ok {
		return fmt.Errorf("--alg %s does not fit the key (%s)", alg, keyKind(key))
	}
	return nil
}

func keyKind(key any) string {
	switch key.(type) {
	case []byte:
		return "an HMAC secret"
	case *rsa.PrivateKey:
		return "an RSA key"
	case *ecdsa.PrivateKey:
		return "an EC key"
	case ed25519.PrivateKey:
		return "an Ed25519 key"
	}
	return fmt.Sprintf("%T", key)
}
