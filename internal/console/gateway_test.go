package console_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestGatewayConsole: a real gateway's console shows its listeners,
// routes, providers (keys and the failing key set's error) and
// resources.
func TestGatewayConsole(t *testing.T) {
	h, _ := startGateway(t)
	admin := h.AdminURL()
	tests := []struct {
		path string
		want []string
	}{
		{"/console/", []string{"web", h.Addr("web"), "127.0.0.1:0", "api", "flaky", "no-admin", "required idp"}},
		{"/console/resources", []string{"Listener", "default/web", "Provider", "default/flaky", "Accepted=True Accepted", "gateway.yaml:24"}},
	}
	for _, tc := range tests {
		code, body := getPage(t, admin+tc.path)
		if code != 200 {
			t.Fatalf("%s: status %d", tc.path, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", tc.path, w)
			}
		}
	}
	// The failing key set's error shows once its first fetch has ended.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := getPage(t, admin+"/console/providers")
		if strings.Contains(body, "status 500") {
			for _, w := range []string{"console-k1", "EdDSA", "OKP", "remote: http://127.0.0.1:", "local (inline or file)", "0 succeeded"} {
				if !strings.Contains(body, w) {
					t.Errorf("providers page lacks %q", w)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the key set's error never showed:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rows counts the data rows of the denied table.
var rowRE = regexp.MustCompile(`<tr><td>\d{4}-\d\d-\d\dT`)

// TestGatewayDeniedNeverShowsTokens: requests denied with tokens in the
// header and in the query are listed with their reason, route and policy,
// and the page holds no part of any token and no subject; the list keeps
// the last 200.
func TestGatewayDeniedNeverShowsTokens(t *testing.T) {
	h, is := startGateway(t)
	tk := is.tokens(t)
	base, admin := h.URL("web"), h.AdminURL()
	denied := sendDenied(t, base, tk)
	_, body := getPage(t, admin+"/console/denied")
	for _, w := range []string{"no-admin", "RBAC: access denied", "Jwt is expired", "Jwt verification fails", "Jwt issuer is not configured", "Jwt is missing", "/admin", "/data"} {
		if !strings.Contains(body, w) {
			t.Errorf("denied page lacks %q", w)
		}
	}
	if got := len(rowRE.FindAllString(body, -1)); got != denied {
		t.Errorf("%d rows, want %d", got, denied)
	}
	for _, s := range tk.secrets() {
		if strings.Contains(body, s) {
			t.Errorf("the denied page holds %q", s)
		}
	}
	if strings.Contains(body, "access_token") || strings.Contains(body, "<th>subject</th>") {
		t.Error("the denied page shows a query or a claim column")
	}
	// Past 200 the oldest go.
	for denied < 230 {
		denied += sendDenied(t, base, tk)
	}
	_, body = getPage(t, admin+"/console/denied")
	if got := len(rowRE.FindAllString(body, -1)); got != 200 {
		t.Errorf("%d rows after %d denials, want 200", got, denied)
	}
	if !strings.Contains(body, strconv.Itoa(denied)+" requests denied since the gateway started") {
		t.Errorf("the page does not count %d denials", denied)
	}
	for _, s := range tk.secrets() {
		if strings.Contains(body, s) {
			t.Errorf("the denied page holds %q", s)
		}
	}
}
