package main

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

// The pre-built requests parse as what a client sends: origin-form to a
// server, absolute-form with a proxy token to a forward proxy.
func TestRawRequests(t *testing.T) {
	tests := []struct {
		name                  string
		raw                   []byte
		wantURI, wantHost     string
		wantHeader, wantValue string
		wantAbs               bool
	}{
		{"origin-form", rawGET("127.0.0.1:8080", "/", "tok"), "/", "127.0.0.1:8080", "Authorization", "Bearer tok", false},
		{"origin-form, no token", rawGET("127.0.0.1:8080", "/x", ""), "/x", "127.0.0.1:8080", "Authorization", "", false},
		{"proxy", rawProxyGET("http://api.example.com/get", "tok"), "http://api.example.com/get", "api.example.com", "Proxy-Authorization", "Bearer tok", true},
		{"proxy, port", rawProxyGET("http://api.example.com:8443/a/b?c=d", "tok"), "http://api.example.com:8443/a/b?c=d", "api.example.com:8443", "Proxy-Authorization", "Bearer tok", true},
		{"proxy, no path", rawProxyGET("http://api.example.com", ""), "http://api.example.com", "api.example.com", "Proxy-Authorization", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(bytes.NewReader(tt.raw))
			req, err := http.ReadRequest(br)
			if err != nil {
				t.Fatalf("ReadRequest(%q): %v", tt.raw, err)
			}
			if req.Method != http.MethodGet || req.RequestURI != tt.wantURI || req.Host != tt.wantHost || req.URL.IsAbs() != tt.wantAbs {
				t.Errorf("got %s %s (absolute %t), Host %q; want GET %s (absolute %t), Host %q",
					req.Method, req.RequestURI, req.URL.IsAbs(), req.Host, tt.wantURI, tt.wantAbs, tt.wantHost)
			}
			if got := req.Header.Get(tt.wantHeader); got != tt.wantValue {
				t.Errorf("%s = %q, want %q", tt.wantHeader, got, tt.wantValue)
			}
			if req.Close || br.Buffered() != 0 {
				t.Errorf("not one keep-alive request: Close %t, %d bytes left", req.Close, br.Buffered())
			}
		})
	}
}
