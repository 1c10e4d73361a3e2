package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/go-jose/go-jose/v4"
)

const jwksSynopsis = `--key KEY.pem [--kid K] [--alg A]

Prints, on stdout, a JWKS ({"keys":[...]}) holding the public half of the
key in KEY.pem: a private key (as jwtgate token reads it) or a public key
(PUBLIC KEY, RSA PUBLIC KEY) or a certificate. Paste it into a
configuration's inline key set, or serve it as a remote one.`

func runJWKS(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("jwks", jwksSynopsis, stderr)
	keyFile := fs.String("key", "", "PEM file: a private key, a public key or a certificate")
	kid := fs.String("kid", "", "kid of the key; none when empty")
	alg := fs.String("alg", "", "alg of the key; default from the key (RS256, ES256/384/512 by curve, EdDSA)")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *keyFile == "" {
		fmt.Fprintln(stderr, "jwtgate jwks: --key is required")
		fs.Usage()
		return exitUsage
	}
	data, err := os.ReadFile(*keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "jwtgate jwks: %v\n", err)
		return exitError
	}
	pub, err := publicKey(data)
	if err != nil {
		fmt.Fprintf(stderr, "jwtgate jwks: %s: %v\n", *keyFile, err)
		return exitError
	}
	a := *alg
	if a == "" {
		if a, err = algFor(pub); err != nil {
			fmt.Fprintf(stderr, "jwtgate jwks: %v\n", err)
			return exitError
		}
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: *kid, Algorithm: a, Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		fmt.Fprintf(stderr, "jwtgate jwks: %v\n", err)
		return exitError
	}
	fmt.Fprintln(stdout, string(b))
	return exitOK
}

// publicKey reads the public key of the first PEM block that holds one:
// a private key's public half, a public key, or a certificate's.
func publicKey(data []byte) (crypto.PublicKey, error) {
	if s, err := parsePrivateKey(data); err == nil {
		return s.Public(), nil
	}
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key, public key or certificate found")
		}
		switch block.Type {
		case "PUBLIC KEY":
			return x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			return x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			return c.PublicKey, nil
		}
	}
}
