package admin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	var ready atomic.Bool
	h := New(Options{Ready: ready.Load})
	h.Handle("GET /extra", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "extra")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	tests := []struct {
		name       string
		ready      bool
		path       string
		wantStatus int
		wantBody   string
	}{
		{"healthz", false, "/healthz", 200, "ok\n"},
		{"not ready", false, "/readyz", 503, "not ready\n"},
		{"ready", true, "/readyz", 200, "ready\n"},
		{"extension", false, "/extra", 200, "extra"},
		{"unknown", false, "/nope", 404, "404 page not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready.Store(tt.ready)
			status, body := get(t, srv.URL+tt.path)
			if status != tt.wantStatus || body != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestNilReadyIsNotReady(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	if status, _ := get(t, srv.URL+"/readyz"); status != 503 {
		t.Errorf("readyz with nil Ready = %d, want 503", status)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", resp.StatusCode)
	}
}
