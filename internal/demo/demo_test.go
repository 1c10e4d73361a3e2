package demo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func startDemo(t *testing.T) *Demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := Start(ctx, Options{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		if err := d.Close(sctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func do(t *testing.T, url, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestDemo(t *testing.T) {
	d := startDemo(t)

	t.Run("no token", func(t *testing.T) {
		resp, body := do(t, d.GatewayURL+"/headers", "")
		if resp.StatusCode != 401 || body != "Jwt is missing" {
			t.Errorf("got %d %q, want 401 %q", resp.StatusCode, body, "Jwt is missing")
		}
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer realm=") {
			t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("valid token", func(t *testing.T) {
		resp, body := do(t, d.GatewayURL+"/headers?x=1", d.ValidToken)
		if resp.StatusCode != 200 {
			t.Fatalf("got %d %q, want 200", resp.StatusCode, body)
		}
		var e Echoed
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("echo body %q: %v", body, err)
		}
		if e.Method != "GET" || e.Path != "/headers" || e.Query["x"][0] != "1" {
			t.Errorf("echo = %+v", e)
		}
		if got := e.Headers["X-User"]; len(got) != 1 || got[0] != "alice" {
			t.Errorf("X-User = %q", got)
		}
		if got := e.Headers["X-Team"]; len(got) != 1 || got[0] != "dev" {
			t.Errorf("X-Team = %q", got)
		}
		payload, err := base64.RawURLEncoding.DecodeString(first(e.Headers["X-Jwt-Payload"]))
		if err != nil || !bytes.Contains(payload, []byte(`"sub":"alice"`)) {
			t.Errorf("X-Jwt-Payload = %q (%v)", payload, err)
		}
		if _, ok := e.Headers["Authorization"]; ok {
			t.Error("the token was forwarded upstream")
		}
	})
	t.Run("expired token", func(t *testing.T) {
		resp, body := do(t, d.GatewayURL+"/headers", d.ExpiredToken)
		if resp.StatusCode != 401 || body != "Jwt is expired" {
			t.Errorf("got %d %q, want 401 %q", resp.StatusCode, body, "Jwt is expired")
		}
	})
	t.Run("admin", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			if resp, body := do(t, d.AdminURL+p, ""); resp.StatusCode != 200 {
				t.Errorf("%s = %d %q", p, resp.StatusCode, body)
			}
		}
	})
	t.Run("discovery", func(t *testing.T) {
		resp, body := do(t, d.IssuerURL+DiscoveryPath, "")
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal([]byte(body), &doc); err != nil || resp.StatusCode != 200 {
			t.Fatalf("discovery: %d %q", resp.StatusCode, body)
		}
		if doc.Issuer != d.IssuerURL || doc.JWKSURI != d.IssuerURL+JWKSPath {
			t.Errorf("discovery = %+v", doc)
		}
		if resp, body := do(t, doc.JWKSURI, ""); resp.StatusCode != 200 || !strings.Contains(body, d.Issuer.KeyID()) {
			t.Errorf("jwks: %d %q", resp.StatusCode, body)
		}
	})
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

var curlRE = regexp.MustCompile(`^curl -i (\S+)(?: -H 'Authorization: Bearer ([^']+)')?$`)

// TestInstructions parses the printed curl commands and replays them.
func TestInstructions(t *testing.T) {
	d := startDemo(t)
	text := d.Instructions()
	for _, want := range []string{d.GatewayURL, d.AdminURL} {
		if !strings.Contains(text, want) {
			t.Errorf("instructions lack %s:\n%s", want, text)
		}
	}
	var curls []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "curl ") {
			curls = append(curls, line)
		}
	}
	want := []struct {
		token  string
		status int
		body   string
	}{
		{"", 401, "Jwt is missing"},
		{d.ValidToken, 200, ""},
		{d.ExpiredToken, 401, "Jwt is expired"},
	}
	if len(curls) != len(want) {
		t.Fatalf("%d curl commands, want %d:\n%s", len(curls), len(want), text)
	}
	for i, line := range curls {
		m := curlRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("cannot parse %q", line)
		}
		if m[1] != d.GatewayURL+"/headers" || m[2] != want[i].token {
			t.Errorf("curl %d = %q: url %q token %q", i, line, m[1], m[2])
		}
		resp, body := do(t, m[1], m[2])
		if resp.StatusCode != want[i].status || (want[i].body != "" && body != want[i].body) {
			t.Errorf("%s: got %d %q", line, resp.StatusCode, body)
		}
	}
}

// TestRun checks that Run prints the instructions and returns when its
// context ends.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Out: pw, AdminAddr: "off"}) }()
	buf := make([]byte, 4096)
	n, err := pr.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(buf[:n]), "curl -i http://127.0.0.1:") || strings.Contains(string(buf[:n]), "admin:") {
		t.Errorf("Run printed:\n%s", buf[:n])
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestConfigRendersRealLoader(t *testing.T) {
	d := startDemo(t)
	for _, want := range []string{"apiVersion: jwtgate.dev/v1alpha1", `uri: "` + d.IssuerURL + JWKSPath + `"`, "payloadHeader: x-jwt-payload"} {
		if !bytes.Contains(d.Config, []byte(want)) {
			t.Errorf("config lacks %q:\n%s", want, d.Config)
		}
	}
}

// TestStartOnAddressInUse: a second demo on the first one's gateway or
// admin address fails with an error naming the address, and the first
// keeps serving.
func TestStartOnAddressInUse(t *testing.T) {
	d := startDemo(t)
	for _, tc := range []struct {
		name string
		opts Options
		addr string
	}{
		{"gateway", Options{Addr: strings.TrimPrefix(d.GatewayURL, "http://"), AdminAddr: "off"}, strings.TrimPrefix(d.GatewayURL, "http://")},
		{"admin", Options{AdminAddr: strings.TrimPrefix(d.AdminURL, "http://")}, strings.TrimPrefix(d.AdminURL, "http://")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d2, err := Start(context.Background(), tc.opts)
			if err == nil {
				_ = d2.Close(context.Background())
				t.Fatalf("a second demo started on %s", tc.addr)
			}
			if !strings.Contains(err.Error(), tc.addr) || !strings.Contains(err.Error(), "address already in use") {
				t.Errorf("error %q does not name %s in use", err, tc.addr)
			}
			if resp, body := do(t, d.GatewayURL+"/headers", ""); resp.StatusCode != 401 || body != "Jwt is missing" {
				t.Errorf("the first demo answers %d %q", resp.StatusCode, body)
			}
		})
	}
}
