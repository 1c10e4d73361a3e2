package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/demo"
)

// The HTTP/2 scenarios run end to end on loopback: both proxies pass the
// sanity checks over HTTP/2, and a short load through either counts 200
// answers and no error, in the same way for both; a corrupted token,
// which the gateway refuses, fails the run. The load client speaks
// HTTP/2 only: a TLS server that offers only HTTP/1.1 fails it.
func TestH2Scenarios(t *testing.T) {
	ctx := context.Background()
	body := []byte(`{"ok":true}`)
	upstream, err := serveHTTP(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer upstream.Close()
	iss, err := demo.NewIssuer("https://bench.jwtgate.dev")
	if err != nil {
		t.Fatal(err)
	}
	token, err := iss.MintFor("bench", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := startH2(ctx, iss, upstream.addr, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.check(token); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		sc      scenario
		wantOK  bool // 200 answers, and no error
		wantErr bool // no 200 answer: the run fails with a 401
	}{
		{name: "(h)", sc: h.scenarios(token)[0], wantOK: true},
		{name: "(i)", sc: h.scenarios(token)[1], wantOK: true},
		{name: "(i) with a corrupted token", sc: h.scenarios(token + "x")[1], wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sc.h2 == nil {
				t.Fatal("not an HTTP/2 scenario")
			}
			r, err := tt.sc.load(ctx, 4, 300*time.Millisecond, false)
			if tt.wantErr {
				// A run without a single 200 fails with its first error.
				if err == nil || !strings.Contains(err.Error(), "401") {
					t.Errorf("load: %v (%d requests, %d errors); want the 401 as an error", err, r.requests, r.errors)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantOK && (r.requests == 0 || r.errors != 0 || len(r.latencies) != r.requests) {
				t.Errorf("%d requests, %d latencies, %d errors (first %v); want requests and no error", r.requests, len(r.latencies), r.errors, r.firstErr)
			}
		})
	}

	// A TLS server with the same certificate that offers only HTTP/1.1.
	cert, err := h.ca.serverCert(h2Host)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h1 := serveOn(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}),
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer h1.Close()
	tr := h.transport()
	defer tr.CloseIdleConnections()
	req, err := h2Request(ctx, h1.addr, token)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := tr.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Errorf("the HTTP/2 client got %s from an HTTP/1.1-only server; want an error", resp.Proto)
	}
}
