package istio_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/config"
	"jwtgate.dev/jwtgate/internal/demo"
	"jwtgate.dev/jwtgate/internal/dialect"
	"jwtgate.dev/jwtgate/internal/gatewaytest"
	"jwtgate.dev/jwtgate/internal/model"
)

const examples = "../../../examples/istio"

// TestExamples loads examples/istio as `jwtgate validate -c
// examples/istio` reads it: no error, no warning, every resource
// Accepted; and with the README's --workload-namespace shop, the
// resources that select the ingress gateway NotSelected.
func TestExamples(t *testing.T) {
	for _, tc := range []struct {
		name        string
		sel         dialect.Selection
		notSelected []string
		policies    int
	}{
		{"glue", dialect.Selection{}, nil, 2},
		{"flags", dialect.Selection{WorkloadNamespace: "shop"}, []string{"istio-system/require-jwt", "istio-system/ingressgateway-jwt"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ld := config.ReadSelected(tc.sel, examples)
			cfg, issues := ld.Validated()
			for _, is := range issues {
				t.Errorf("%s", is.Error())
			}
			if cfg == nil {
				t.Fatal("not valid")
			}
			if len(cfg.Policies) != tc.policies {
				t.Errorf("%d policies, want %d", len(cfg.Policies), tc.policies)
			}
			for _, st := range model.Statuses(ld.Resources, issues, append(ld.Notes, cfg.Notes()...), true) {
				name := st.Namespace + "/" + st.Name
				switch {
				case strings.Contains(strings.Join(tc.notSelected, " "), name):
					if st.Conditions[0].Reason != model.ReasonNotSelected {
						t.Errorf("want NotSelected: %s", st)
					}
				case !st.Accepted():
					t.Errorf("%s", st)
				}
			}
		})
	}
}

// TestExamplesServed serves examples/istio in front of an echo upstream
// and sends the README's requests.
func TestExamplesServed(t *testing.T) {
	up := httptest.NewServer(demo.Echo())
	t.Cleanup(up.Close)
	files, err := filepath.Glob(filepath.Join(examples, "*.yaml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("%v %v", files, err)
	}
	var docs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	yaml := strings.NewReplacer("127.0.0.1:8080", "127.0.0.1:0", "http://127.0.0.1:8000", up.URL).Replace(strings.Join(docs, "\n---\n"))
	h := gatewaytest.Start(t, yaml)
	token := readTrim(t, seedToken)
	for _, tc := range []struct {
		path, token string
		status      int
	}{
		{"/productpage", token, 200},
		{"/productpage", "", 403},
		{"/productpage", "invalid", 401},
		{"/api/v1/products/1", "", 200},
		{"/productpage?access_token=" + token, "", 200},
		{"/api/v1/reviews/1", "", 403},
		{"/api/v1/reviews/1/votes", "", 200},
		{"/admin/users", "", 403},
		{"/admin", "", 403},
		{"/admin/users", token, 200},
		{"/api/../productpage", "", 403},
	} {
		a := get(t, h, tc.path, tc.token)
		if a.status != tc.status {
			t.Errorf("%s (token %v): %d %q, want %d", tc.path, tc.token != "", a.status, a.body, tc.status)
		}
		if a.status == 200 && tc.token == token {
			if a.echo.Headers["X-User"] == nil || a.echo.Headers["X-Jwt-Payload"] == nil {
				t.Errorf("%s: the echo lacks x-user or x-jwt-payload: %v", tc.path, a.echo.Headers)
			}
		}
	}
}
