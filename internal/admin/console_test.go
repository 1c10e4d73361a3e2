package admin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestConsole: with a console, GET / redirects to /console/, every
// method on /console/ and below reaches the console (which answers 405
// itself), and the other endpoints are unchanged; without one, / is 404.
func TestConsole(t *testing.T) {
	con := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "console "+r.Method+" "+r.URL.Path)
	})
	srv := httptest.NewServer(New(Options{Console: con}))
	defer srv.Close()
	bare := httptest.NewServer(New(Options{}))
	defer bare.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		base, method, path string
		status             int
		location, body     string
	}{
		{srv.URL, http.MethodGet, "/", 302, "/console/", ""},
		{srv.URL, http.MethodHead, "/", 302, "/console/", ""},
		{srv.URL, http.MethodPost, "/", 405, "", ""},
		{srv.URL, http.MethodGet, "/console/", 200, "", "console GET /console/"},
		{srv.URL, http.MethodPost, "/console/explain", 200, "", "console POST /console/explain"},
		{srv.URL, http.MethodDelete, "/console/denied", 200, "", "console DELETE /console/denied"},
		{srv.URL, http.MethodGet, "/console", 307, "/console/", ""},
		{srv.URL, http.MethodGet, "/healthz", 200, "", "ok\n"},
		{srv.URL, http.MethodGet, "/other", 404, "", ""},
		{bare.URL, http.MethodGet, "/", 404, "", ""},
		{bare.URL, http.MethodGet, "/console/", 404, "", ""},
	}
	for _, tc := range tests {
		req, err := http.NewRequest(tc.method, tc.base+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, res.StatusCode, tc.status)
		}
		if got := res.Header.Get("Location"); got != tc.location {
			t.Errorf("%s %s: Location %q, want %q", tc.method, tc.path, got, tc.location)
		}
		if tc.body != "" && string(b) != tc.body {
			t.Errorf("%s %s: body %q, want %q", tc.method, tc.path, b, tc.body)
		}
	}
}
