package istio_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/dialect/dialecttest"
	"jwtgate.dev/jwtgate/internal/gateway"
	"jwtgate.dev/jwtgate/internal/model"
)

// asmFiles are the files of examples/asm that make one configuration
// with the AuthorizationPolicy of the match mode.
func asmFiles(policy string) []string {
	out := []string{"gateway.yaml", "service.yaml", "requestauthentication.yaml", policy}
	for i, f := range out {
		out[i] = filepath.Join(asmExamples, f)
	}
	return out
}

// serveASM serves the files, unedited but for the gateway's port and the
// upstream's address, as `jwtgate serve -c ... --bind-address 127.0.0.1`
// does, in front of an echo upstream; it returns the gateway's base URL.
func serveASM(t *testing.T, files []string) string {
	t.Helper()
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	gwPort := port(t)
	dir := t.TempDir()
	var paths []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer("number: 8080", "number: "+gwPort, "port: 8000", "port: "+u.Port()).Replace(string(b))
		p := filepath.Join(dir, filepath.Base(filepath.Dir(f))+"-"+filepath.Base(f))
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	gw, snap, err := gateway.Start(context.Background(), gateway.Options{
		Paths: paths, Select: dialect.Selection{BindAddress: "127.0.0.1"},
	})
	if err != nil {
		t.Fatalf("%v\n%v", err, snap.Issues.Err())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	for _, is := range snap.Issues {
		t.Errorf("%s", is.Error())
	}
	for _, st := range snap.Statuses {
		if !st.Accepted() {
			t.Errorf("%s", st)
		}
	}
	return "http://127.0.0.1:" + gwPort
}

// TestSeed003Resources is seed 003's four-request table (and the other
// match mode's), served from the Istio resources of examples/asm with
// the ASM walkthrough's sample token: the Gateway and VirtualService
// route bookinfo's paths to the productpage Service, and the security
// resources apply to those routes because they select the Gateway's
// pods.
func TestSeed003Resources(t *testing.T) {
	token := readTrim(t, seedToken)
	for _, mode := range []struct {
		name, policy, protected, open string
	}{
		{"auth if matched", "authorizationpolicy.yaml", "/productpage", "/api/v1/products/1"},
		{"bypass auth if matched", "bypass/authorizationpolicy.yaml", "/api/v1/products/1", "/productpage"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			base := serveASM(t, asmFiles(mode.policy))
			c := &http.Client{}
			bearer := func(tok string) map[string]string {
				if tok == "" {
					return nil
				}
				return map[string]string{"Authorization": "Bearer " + tok}
			}
			// 1. A valid token on the protected path: 200, the token
			// passed through and its payload in x-jwt-payload.
			r := fetch(t, c, "GET", base+mode.protected, "bookinfo.example.com", bearer(token))
			if r.status != 200 {
				t.Fatalf("valid token: %d %q", r.status, r.body)
			}
			if got := r.echo.Headers["Authorization"]; len(got) != 1 || got[0] != "Bearer "+token {
				t.Errorf("JWT passthrough: upstream Authorization %q", got)
			}
			if got := r.echo.Headers["X-Jwt-Payload"]; len(got) != 1 || got[0] != strings.Split(token, ".")[1] {
				t.Errorf("payload header %q", got)
			}
			// 2. No token on the protected path: 403.
			if r := fetch(t, c, "GET", base+mode.protected, "bookinfo.example.com", nil); r.status != 403 || r.body != "RBAC: access denied" {
				t.Errorf("no token, protected: %d %q", r.status, r.body)
			}
			// 3. An invalid token: 401 with error="invalid_token", on
			// either path.
			for _, p := range []string{mode.protected, mode.open} {
				r := fetch(t, c, "GET", base+p, "bookinfo.example.com", bearer("invalid token"))
				want := `Bearer realm="http://bookinfo.example.com` + p + `", error="invalid_token"`
				if r.status != 401 || r.header.Get("WWW-Authenticate") != want {
					t.Errorf("invalid token on %s: %d %q %q", p, r.status, r.body, r.header.Get("WWW-Authenticate"))
				}
			}
			// 4. No token elsewhere: 200.
			if r := fetch(t, c, "GET", base+mode.open, "bookinfo.example.com", nil); r.status != 200 {
				t.Errorf("no token, open: %d %q", r.status, r.body)
			}
			// A path no VirtualService route takes: 404.
			if r := fetch(t, c, "GET", base+"/elsewhere", "bookinfo.example.com", nil); r.status != 404 {
				t.Errorf("unrouted path: %d %q", r.status, r.body)
			}
		})
	}
}

// TestASMExample checks examples/asm as `jwtgate validate -c
// examples/asm` reads it: every resource Accepted, the routes of the
// VirtualService under the JWT policy and the DENY policy.
func TestASMExample(t *testing.T) {
	c := dialecttest.Case{Path: asmExamples}
	ld, issues, statuses := dialecttest.Read(t, c)
	for _, is := range issues {
		t.Errorf("%s", is.Error())
	}
	for _, st := range statuses {
		if !st.Accepted() {
			t.Errorf("%s", st)
		}
	}
	cfg := ld.Config
	if len(cfg.Routes) != 5 || len(cfg.Policies) != 1 {
		t.Fatalf("%d routes and %d policies, want 5 and 1", len(cfg.Routes), len(cfg.Policies))
	}
	for _, r := range cfg.Routes {
		eff := cfg.EffectiveJWT(r)
		if eff.Requirement == nil || eff.Requirement.Mode != model.AuthAllowMissing || len(cfg.PoliciesFor(r)) != 1 {
			t.Errorf("route %s: JWT %+v, %d policies", r.Name, eff, len(cfg.PoliciesFor(r)))
		}
	}
}
