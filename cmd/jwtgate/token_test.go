package main

import (
	"bytes"
	"context"
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
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// writeKey writes key as PEM (PKCS#8 unless pkcs1/sec1 asks otherwise)
// into dir and returns the path.
func writeKey(t *testing.T, dir, name string, key crypto.Signer, legacy bool) string {
	t.Helper()
	var block *pem.Block
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if legacy {
			block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
		}
	case *ecdsa.PrivateKey:
		if legacy {
			der, err := x509.MarshalECPrivateKey(k)
			if err != nil {
				t.Fatal(err)
			}
			block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
		}
	}
	if block == nil {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTokenKeys(t *testing.T) {
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)

	tests := []struct {
		name    string
		key     crypto.Signer
		legacy  bool
		args    []string
		wantAlg string
		verify  any
	}{
		{"rsa pkcs1", rsaKey, true, nil, "RS256", &rsaKey.PublicKey},
		{"rsa pkcs8", rsaKey, false, nil, "RS256", &rsaKey.PublicKey},
		{"rsa RS512", rsaKey, false, []string{"--alg", "RS512"}, "RS512", &rsaKey.PublicKey},
		{"rsa PS256", rsaKey, false, []string{"--alg", "PS256"}, "PS256", &rsaKey.PublicKey},
		{"ec p256 sec1", ec256, true, nil, "ES256", &ec256.PublicKey},
		{"ec p384", ec384, false, nil, "ES384", &ec384.PublicKey},
		{"ec p521", ec521, false, nil, "ES512", &ec521.PublicKey},
		{"ed25519", edKey, false, nil, "EdDSA", edKey.Public()},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeKey(t, dir, strings.ReplaceAll(tt.name, " ", "_")+".pem", tt.key, tt.legacy)
			args := append([]string{"token", "--key", path, "--kid", "k" + string(rune('a'+i)), "--sub", "alice"}, tt.args...)
			code, out, errOut := runCmd(t, args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
				t.Fatalf("stdout %q: want the token and one newline", out)
			}
			tok, err := jwt.Parse(strings.TrimSpace(out), func(*jwt.Token) (any, error) { return tt.verify, nil },
				jwt.WithValidMethods([]string{tt.wantAlg}))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := tok.Header["kid"]; got != "k"+string(rune('a'+i)) {
				t.Errorf("kid = %v", got)
			}
			if sub, _ := tok.Claims.GetSubject(); sub != "alice" {
				t.Errorf("sub = %q", sub)
			}
		})
	}
}

// TestTokenECParameters reads a key as "openssl ecparam -genkey" writes
// it: an EC PARAMETERS block before the key.
func TestTokenECParameters(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}})
	path := filepath.Join(t.TempDir(), "ec.pem")
	if err := os.WriteFile(path, append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "token", "--key", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := jwt.Parse(strings.TrimSpace(out), func(*jwt.Token) (any, error) { return &k.PublicKey, nil }, jwt.WithValidMethods([]string{"ES384"})); err != nil {
		t.Fatal(err)
	}
}

func TestTokenClaims(t *testing.T) {
	now := time.Now().Unix()
	parse := func(t *testing.T, args ...string) jwt.MapClaims {
		t.Helper()
		code, out, errOut := runCmd(t, append([]string{"token", "--secret", "s3cret"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		c := jwt.MapClaims{}
		tok, err := jwt.ParseWithClaims(strings.TrimSpace(out), c, func(*jwt.Token) (any, error) { return []byte("s3cret"), nil },
			jwt.WithoutClaimsValidation(), jwt.WithJSONNumber())
		if err != nil {
			t.Fatal(err)
		}
		if tok.Method.Alg() != "HS256" && !strings.Contains(strings.Join(args, " "), "--alg") {
			t.Errorf("alg = %s, want HS256", tok.Method.Alg())
		}
		if _, ok := tok.Header["kid"]; ok {
			t.Errorf("kid present without --kid")
		}
		return c
	}
	num := func(v any) int64 {
		n, _ := v.(json.Number).Int64()
		return n
	}
	near := func(t *testing.T, name string, got any, want int64) {
		t.Helper()
		if n := num(got); n < want-5 || n > want+5 {
			t.Errorf("%s = %v, want about %d", name, got, want)
		}
	}

	t.Run("defaults", func(t *testing.T) {
		c := parse(t)
		near(t, "iat", c["iat"], now)
		near(t, "exp", c["exp"], now+3600)
		for _, k := range []string{"iss", "sub", "aud", "nbf"} {
			if _, ok := c[k]; ok {
				t.Errorf("%s set without its flag", k)
			}
		}
	})
	t.Run("standard", func(t *testing.T) {
		c := parse(t, "--iss", "solo.io", "--sub", "alice", "--aud", "api", "--exp", "-1h", "--nbf", "-2h")
		if c["iss"] != "solo.io" || c["sub"] != "alice" || c["aud"] != "api" {
			t.Errorf("claims = %v", c)
		}
		near(t, "exp", c["exp"], now-3600)
		near(t, "nbf", c["nbf"], now-7200)
	})
	t.Run("unix exp, several aud", func(t *testing.T) {
		c := parse(t, "--exp", "4685989700", "--aud", "a,b", "--aud", "c")
		if num(c["exp"]) != 4685989700 {
			t.Errorf("exp = %v", c["exp"])
		}
		if !reflect.DeepEqual(c["aud"], []any{"a", "b", "c"}) {
			t.Errorf("aud = %#v", c["aud"])
		}
	})
	t.Run("no exp", func(t *testing.T) {
		if _, ok := parse(t, "--exp", "none")["exp"]; ok {
			t.Error("exp set with --exp none")
		}
	})
	t.Run("claim typing", func(t *testing.T) {
		c := parse(t,
			"--claims", `{"team":"ops","org":"solo.io","nested":{"a":1}}`,
			"--claim", "team=dev",
			"--claim", "n=42",
			"--claim", "ok=true",
			"--claim", `llms={"openai":["gpt-4"]}`,
			"--claim", "list=[1,2]",
			"--claim", "word=hello world",
			"--claim", "quoted=\"x\"",
			"--claim", "eq=a=b",
			"--claim", "trailing=1 2",
			"--claim", "empty=",
		)
		want := map[string]any{
			"team":     "dev",
			"org":      "solo.io",
			"nested":   map[string]any{"a": json.Number("1")},
			"n":        json.Number("42"),
			"ok":       true,
			"llms":     map[string]any{"openai": []any{"gpt-4"}},
			"list":     []any{json.Number("1"), json.Number("2")},
			"word":     "hello world",
			"quoted":   "x",
			"eq":       "a=b",
			"trailing": "1 2",
			"empty":    "",
		}
		for k, v := range want {
			if !reflect.DeepEqual(c[k], v) {
				t.Errorf("%s = %#v, want %#v", k, c[k], v)
			}
		}
	})
	t.Run("claims override flags", func(t *testing.T) {
		c := parse(t, "--sub", "alice", "--claims", `{"sub":"bob"}`, "--alg", "HS384")
		if c["sub"] != "bob" {
			t.Errorf("sub = %v", c["sub"])
		}
	})
}

func TestTokenErrors(t *testing.T) {
	dir := t.TempDir()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPath := writeKey(t, dir, "ec.pem", ec, false)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "pub.pem")
	der, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no key", nil, 2, "--key or --secret is required"},
		{"both", []string{"--key", ecPath, "--secret", "x"}, 2, "exclusive"},
		{"missing file", []string{"--key", filepath.Join(dir, "nope.pem")}, 1, "no such file"},
		{"garbage", []string{"--key", garbage}, 1, "no PEM private key"},
		{"public key", []string{"--key", pub}, 1, "no PEM private key"},
		{"wrong curve", []string{"--key", ecPath, "--alg", "ES384"}, 1, "does not fit a P-256 key (use ES256)"},
		{"rsa alg on ec", []string{"--key", ecPath, "--alg", "RS256"}, 1, "does not fit the key (an EC key)"},
		{"hs with key", []string{"--key", ecPath, "--alg", "HS256"}, 1, "does not fit"},
		{"unknown alg", []string{"--secret", "x", "--alg", "XX1"}, 2, "unsupported --alg"},
		{"none alg", []string{"--secret", "x", "--alg", "none"}, 2, "unsupported --alg"},
		{"bad exp", []string{"--secret", "x", "--exp", "soon"}, 2, "--exp"},
		{"bad nbf", []string{"--secret", "x", "--nbf", "later"}, 2, "--nbf"},
		{"bad claim", []string{"--secret", "x", "--claim", "novalue"}, 2, "want name=value"},
		{"bad claims", []string{"--secret", "x", "--claims", "[1]"}, 2, "not a JSON object"},
		{"unknown flag", []string{"--bogus"}, 2, "flag provided but not defined"},
		{"stray arg", []string{"--secret", "x", "extra"}, 2, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, append([]string{"token"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d stderr %q, want %d containing %q", code, errOut, tt.wantCode, tt.wantErr)
			}
			if out != "" {
				t.Errorf("stdout %q, want empty", out)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := runCmd(t, "help")
	if code != 0 {
		t.Errorf("help exit %d", code)
	}
	for _, c := range commands() {
		if !strings.Contains(out, "  "+c.name+" ") {
			t.Errorf("help does not list %s:\n%s", c.name, out)
		}
	}
	if code, _, errOut := runCmd(t); code != exitUsage || !strings.Contains(errOut, "Commands:") {
		t.Errorf("no args: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCmd(t, "frobnicate"); code != exitUsage || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown: exit %d, stderr %q", code, errOut)
	}
	if code, out, _ := runCmd(t, "version"); code != 0 || !strings.HasPrefix(out, "jwtgate "+version) {
		t.Errorf("version: exit %d, %q", code, out)
	}
	if code, _, errOut := runCmd(t, "token", "-h"); code != 0 || !strings.Contains(errOut, "-claim") {
		t.Errorf("token -h: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCmd(t, "help", "serve"); code != 0 || !strings.Contains(errOut, "-drain-timeout") {
		t.Errorf("help serve: exit %d, %q", code, errOut)
	}
	if code, out, errOut := runCmd(t, "help", "frobnicate"); code != exitUsage || out != "" || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("help frobnicate: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, "version", "-h"); code != 0 || !strings.HasPrefix(errOut, "Usage: jwtgate version\n") {
		t.Errorf("version -h: exit %d, %q", code, errOut)
	}
}
