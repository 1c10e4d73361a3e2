package console_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// requireBrowserEnv, set to 1 (as .ci/run does), makes a missing
// Chromium a failure instead of a skip.
const requireBrowserEnv = "JWTGATE_REQUIRE_CHROMIUM"

// chromium is the path of a Chromium or Chrome binary, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// browser starts a headless Chromium for the test, or skips it when
// there is none (fails when requireBrowserEnv is set).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium()
	if path == "" {
		msg := "no Chromium found (chromium, chromium-browser or google-chrome in PATH, or /usr/bin/chromium): install it with `apt-get install -y chromium` to run the console's browser test"
		if os.Getenv(requireBrowserEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.DisableGPU)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// run runs an action that returns a value, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// do runs actions, failing the test on error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func contains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q; it shows:\n%s", what, w, got)
		}
	}
}

// TestBrowser loads every console page of a running gateway in headless
// Chromium, checks what each shows (the inline style applied under the
// Content-Security-Policy), submits the explain form, and checks that a
// form on another origin cannot post to it.
func TestBrowser(t *testing.T) {
	ctx := browser(t)
	h, is := startGateway(t)
	tk := is.tokens(t)
	sendDenied(t, h.URL("web"), tk)
	admin := h.AdminURL()

	t.Run("overview", func(t *testing.T) {
		do(t, ctx, "open /", chromedp.Navigate(admin+"/"))
		if loc := run(t, ctx, "location", chromedp.Location()); loc != admin+"/console/" {
			t.Errorf("/ led to %s, want %s/console/", loc, admin)
		}
		contains(t, "title", run(t, ctx, "h1", chromedp.Text(chromedp.CSS("h1"))), "Listeners and routes")
		contains(t, "listeners", run(t, ctx, "listeners", chromedp.Text(chromedp.ID("listeners"))), "web", h.Addr("web"), "ingress")
		contains(t, "routes", run(t, ctx, "routes", chromedp.Text(chromedp.ID("routes"))), "api", "flaky", "no-admin", "required idp")
		// The inline style sheet applies: its hash is in the CSP.
		bg := run(t, ctx, "style", chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header")).backgroundColor`))
		if bg != "rgb(31, 58, 95)" {
			t.Errorf("header background %q: the style sheet was blocked", bg)
		}
	})

	t.Run("providers", func(t *testing.T) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			do(t, ctx, "open providers", chromedp.Navigate(admin+"/console/providers"))
			text := run(t, ctx, "main", chromedp.Text(chromedp.CSS("main")))
			if strings.Contains(text, "status 500") {
				contains(t, "providers", text, "idp", "console-k1", "EdDSA", "OKP", "flaky", "no key yet", "0 succeeded")
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the failing key set's error never showed:\n%s", text)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("resources", func(t *testing.T) {
		do(t, ctx, "open resources", chromedp.Navigate(admin+"/console/resources"))
		contains(t, "resources", run(t, ctx, "table", chromedp.Text(chromedp.ID("resources"))), "Route", "default/api", "Policy", "default/no-admin", "Accepted=True", "gateway.yaml:24")
	})

	t.Run("denied", func(t *testing.T) {
		do(t, ctx, "open denied", chromedp.Navigate(admin+"/console/denied"))
		contains(t, "denied", run(t, ctx, "table", chromedp.Text(chromedp.ID("denied"))),
			"/admin", "403", "no-admin", "RBAC: access denied", "Jwt is expired", "Jwt verification fails", "Jwt is missing")
		page := run(t, ctx, "html", chromedp.OuterHTML(chromedp.CSS("html")))
		for _, s := range tk.secrets() {
			if strings.Contains(page, s) {
				t.Errorf("the denied page holds %q", s)
			}
		}
	})

	t.Run("explain", func(t *testing.T) {
		do(t, ctx, "fill the explain form",
			chromedp.Navigate(admin+"/console/explain"),
			chromedp.SetValue(chromedp.ID("listener"), "web"),
			chromedp.SetValue(chromedp.ID("method"), "GET"),
			chromedp.SetValue(chromedp.ID("url"), "http://www.example.com/admin"),
			chromedp.SetValue(chromedp.ID("headers"), "Authorization: Bearer "+tk.valid+"\nX-Team: dev"),
			chromedp.Click(chromedp.ID("submit")),
			chromedp.WaitVisible(chromedp.ID("report")),
		)
		report := run(t, ctx, "report", chromedp.Text(chromedp.ID("report")))
		t.Logf("report:\n%s", report)
		contains(t, "explain report", report, "api", "no-admin", "403")
		for _, s := range tk.secrets()[:2] { // the valid token's payload and signature
			if strings.Contains(report, s) {
				t.Errorf("the report holds the token part %q", s)
			}
		}
		if got := run(t, ctx, "url field", chromedp.Value(chromedp.ID("url"))); got != "http://www.example.com/admin" {
			t.Errorf("the form was not refilled: url %q", got)
		}
	})

	t.Run("cross-origin form refused", func(t *testing.T) {
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!DOCTYPE html><form method="post" action="%s/console/explain"><input name="url" value="http://a/"><button id="go">go</button></form>`,
				html.EscapeString(admin))
		}))
		defer evil.Close()
		// localhost is another site than 127.0.0.1: Sec-Fetch-Site: cross-site.
		evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
		do(t, ctx, "post from another origin", chromedp.Navigate(evilURL), chromedp.Click(chromedp.ID("go")))
		deadline := time.Now().Add(20 * time.Second)
		for {
			loc := run(t, ctx, "location", chromedp.Location())
			if strings.HasPrefix(loc, admin) {
				body := run(t, ctx, "body", chromedp.Text(chromedp.CSS("body")))
				contains(t, "cross-origin answer", body, "cross-origin request refused")
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the form never posted; the browser is at %s", loc)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
