package proxy_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/waittest"
)

const injectYAML = `
apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: egress
    address: 127.0.0.1:0
    egress:
      resolve: ["{{R1}}", "{{R2}}"]
      caFile: {{CA}}
      connectPorts: [{{P2}}]
providers:
{{PROVIDER}}
egress:
  servers:
    - name: payment-api
      host: api.payment-provider.com
      port: {{P1}}
      tls: {mode: SIMPLE}
      jwt: {providers: [auth-example]}
      inject:
        - header: Authorization
          prefix: "Bearer "
          file: {{TOKENFILE}}
    - name: httpbin
      host: httpbin.org
      port: {{P2}}
      tls: {mode: SIMPLE}
      inject:
        - header: x-api-key
          file: {{KEYFILE}}
`

func randomSecret(t testing.TB, prefix string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// writeAtomic replaces file's contents by a rename, as Kubernetes and
// editors do.
func writeAtomic(t testing.TB, file, data string) {
	t.Helper()
	tmp := file + ".new"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// TestEgressCredentialInjection: allowed requests carry the credential
// read from a file, never the caller's token or key; a rewritten file is
// in use within two seconds; the secret appears in no log line, no
// validate output, no /config and no /metrics.
func TestEgressCredentialInjection(t *testing.T) {
	ca := certtest.NewCA(t)
	payments := startExternal(t, ca, "api.payment-provider.com", extOptions{})
	httpbin := startExternal(t, ca, "httpbin.org", extOptions{})
	is := newIssuer(t, "https://auth.example.com", true)
	dir := t.TempDir()
	tokenFile, keyFile := filepath.Join(dir, "payments-token"), filepath.Join(dir, "httpbin-key")
	secrets := []string{randomSecret(t, "pay-"), randomSecret(t, "key-")}
	writeAtomic(t, tokenFile, secrets[0]+"\n")
	writeAtomic(t, keyFile, "  "+secrets[1]+"\r\n")
	vars := map[string]string{
		"R1": payments.resolve(), "R2": httpbin.resolve(), "CA": ca.File,
		"P1": itoa(payments.port), "P2": itoa(httpbin.port),
		"PROVIDER":  is.provider("auth-example", ""),
		"TOKENFILE": tokenFile, "KEYFILE": keyFile,
	}
	seam := newDialSeam(t)
	h := startEgress(t, seam, injectYAML, vars, gatewaytest.Admin())
	addr := h.Addr("egress")
	caller := is.token(t, "payments-service@example.com", nil)

	pay := func(t *testing.T) seen {
		t.Helper()
		r := send(t, nil, hostReq(t, "POST", addr, "api.payment-provider.com", "/v1/payments/x", bearer(caller)))
		expect(t, r, 200, "*")
		return r.seen(t)
	}
	bin := func(t *testing.T) seen {
		t.Helper()
		hdr := http.Header{"Authorization": {"Bearer caller-token"}, "X-Api-Key": {"caller-key", "second"}}
		r := send(t, nil, hostReq(t, "GET", addr, "httpbin.org", "/get", hdr))
		expect(t, r, 200, "*")
		return r.seen(t)
	}

	t.Run("injected", func(t *testing.T) {
		if got := pay(t).Header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer "+secrets[0] {
			t.Errorf("payments saw Authorization %q", got)
		}
		s := bin(t)
		if got := s.Header.Values("X-Api-Key"); len(got) != 1 || got[0] != "  "+secrets[1] && got[0] != secrets[1] {
			t.Errorf("httpbin saw x-api-key %q", got)
		}
		if got := s.Header.Get("Authorization"); got != "" {
			t.Errorf("the caller's Authorization reached httpbin: %q", got)
		}
	})
	t.Run("denied requests carry nothing", func(t *testing.T) {
		before := len(payments.requests())
		r := send(t, nil, hostReq(t, "POST", addr, "api.payment-provider.com", "/v1/payments/x", nil))
		expect(t, r, 401, "Jwt is missing")
		if len(payments.requests()) != before || strings.Contains(r.body+strings.Join(r.header.Values("Www-Authenticate"), ""), secrets[0]) {
			t.Errorf("a rejected request went out or showed the secret")
		}
	})

	t.Run("a tunnel carries no credential", func(t *testing.T) {
		// CONNECT to a server that injects is a tunnel like any other
		// (docs/egress.md): the client's TLS runs through it, so the
		// gateway adds nothing, and the secret never reaches the client.
		c := proxyClient(addr, ca.Pool, nil)
		req, _ := http.NewRequest("GET", "https://httpbin.org:"+itoa(httpbin.port)+"/tunnel", nil)
		r := send(t, c, req)
		expect(t, r, 200, "*")
		if s := r.seen(t); s.Header.Get("X-Api-Key") != "" || s.URI != "/tunnel" {
			t.Errorf("through the tunnel the server saw %+v", s)
		}
	})
	t.Run("rotation", func(t *testing.T) {
		next := randomSecret(t, "pay2-")
		secrets = append(secrets, next)
		writeAtomic(t, tokenFile, next)
		start := time.Now()
		waittest.Until(t, 2*time.Second+500*time.Millisecond, "the rotated token in use", func() bool {
			return pay(t).Header.Get("Authorization") == "Bearer "+next
		})
		t.Logf("rotated after %v", time.Since(start))
		// Written in place (not renamed) this time.
		key2 := randomSecret(t, "key2-")
		secrets = append(secrets, key2)
		if err := os.WriteFile(keyFile, []byte(key2), 0o600); err != nil {
			t.Fatal(err)
		}
		waittest.Until(t, 2*time.Second+500*time.Millisecond, "the rotated key in use", func() bool {
			return bin(t).Header.Get("X-Api-Key") == key2
		})
	})
	t.Run("an unreadable file keeps the last value", func(t *testing.T) {
		if err := os.Remove(tokenFile); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(1500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if got := pay(t).Header.Get("Authorization"); got != "Bearer "+secrets[2] {
				t.Fatalf("Authorization %q after the file went away", got)
			}
			time.Sleep(100 * time.Millisecond)
		}
		waittest.Until(t, 3*time.Second, "a warning naming the file", func() bool {
			return strings.Contains(h.Logs.String(), "credential file unreadable")
		})
		writeAtomic(t, tokenFile, secrets[2])
	})

	// No secret anywhere an operator or a scraper looks.
	places := map[string]string{"log": h.Logs.String()}
	for _, p := range []string{"/config", "/metrics"} {
		resp, err := http.Get(h.AdminURL() + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
		places[p] = string(b)
	}
	var yaml = injectYAML
	for k, v := range vars {
		yaml = strings.ReplaceAll(yaml, "{{"+k+"}}", v)
	}
	snap := gatewaytest.Compile(t, yaml, gatewaytest.Build(seam.options()))
	if !snap.OK() {
		t.Fatalf("validate: %v", snap.Issues.Err())
	}
	ex, _ := json.Marshal(snap.Runtime.Explain())
	places["validate"] = fmt.Sprint(snap.Issues) + string(ex)
	cfg, _ := json.Marshal(snap.Config)
	places["the configuration model"] = string(cfg)
	for where, text := range places {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s holds a secret", where)
			}
		}
		if strings.Contains(text, caller) {
			t.Errorf("the %s holds the caller's token", where)
		}
	}
	// The metrics and the explanation still say what the servers are.
	if !strings.Contains(places["/metrics"], `route="payment-api"`) {
		t.Errorf("no payment-api metrics in:\n%s", places["/metrics"])
	}
	if !strings.Contains(places["/config"], `"egress https://api.payment-provider.com:`+itoa(payments.port)+`"`) {
		t.Errorf("no payment-api route in /config:\n%s", places["/config"])
	}
}
