package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// TestJWKS: the printed key set holds the key's public half, with the
// default or given alg and kid, and a token that `jwtgate token` signs
// with the private key verifies against it.
func TestJWKS(t *testing.T) {
	dir := t.TempDir()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pubFile := func(name string, key crypto.Signer) string {
		der, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		file    string
		signer  crypto.Signer
		args    []string
		wantAlg string
	}{
		{"rsa private pkcs1", writeKey(t, dir, "rsa.pem", rsaKey, true), rsaKey, nil, "RS256"},
		{"rsa public", pubFile("rsa.pub", rsaKey), rsaKey, []string{"--kid", "k1", "--alg", "PS256"}, "PS256"},
		{"ec p384", writeKey(t, dir, "ec.pem", ecKey, false), ecKey, nil, "ES384"},
		{"ed25519 public", pubFile("ed.pub", edKey), edKey, nil, "EdDSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, append([]string{"jwks", "--key", tt.file}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal([]byte(out), &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("not a one-key JWKS (%v): %s", err, out)
			}
			k := set.Keys[0]
			if k.Algorithm != tt.wantAlg || !k.IsPublic() || k.Use != "sig" {
				t.Errorf("key %+v: want public, alg %s, use sig", k, tt.wantAlg)
			}
			if strings.Contains(strings.Join(tt.args, " "), "k1") != (k.KeyID == "k1") {
				t.Errorf("kid %q", k.KeyID)
			}
			type equaler interface{ Equal(crypto.PublicKey) bool }
			if !tt.signer.Public().(equaler).Equal(k.Key) {
				t.Error("the JWKS key is not the file's public key")
			}
		})
	}
	// A token minted with the private key verifies against the JWKS.
	priv := writeKey(t, dir, "sign.pem", rsaKey, false)
	_, tok, _ := runCmd(t, "token", "--key", priv, "--sub", "alice")
	_, out, _ := runCmd(t, "jwks", "--key", priv)
	var set jose.JSONWebKeySet
	_ = json.Unmarshal([]byte(out), &set)
	if _, err := jwt.Parse(strings.TrimSpace(tok), func(*jwt.Token) (any, error) { return set.Keys[0].Key, nil }); err != nil {
		t.Errorf("token does not verify against the printed JWKS: %v", err)
	}
	junk := filepath.Join(dir, "junk")
	_ = os.WriteFile(junk, []byte("not a key"), 0o600)
	if code, _, errOut := runCmd(t, "jwks", "--key", junk); code != exitError || !strings.Contains(errOut, "no PEM private key, public key or certificate") {
		t.Errorf("junk: exit %d, %q", code, errOut)
	}
	if code, _, _ := runCmd(t, "jwks"); code != exitUsage {
		t.Errorf("no --key: exit %d", code)
	}
}
