package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/gateway"
)

// TestDrainDelay: on Shutdown, /readyz answers 503 at once while the
// listeners keep serving new requests for DrainDelay; then they close.
func TestDrainDelay(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	defer up.Close()
	cfg := "apiVersion: jwtgate.dev/v1alpha1\nkind: Config\nlisteners: [{name: web, address: 127.0.0.1:0}]\nroutes: [{name: r, backend: {url: " + up.URL + "}}]\n"
	g, _, err := gateway.Start(t.Context(), gateway.Options{Data: []byte(cfg), DataName: "gw.yaml", AdminAddress: "127.0.0.1:0", DrainDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	base, admin := "http://"+g.Addr("web").String(), "http://"+g.AdminAddr().String()
	status := func(url string) int {
		res, err := http.Get(url)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := status(admin + "/readyz"); s != 200 {
		t.Fatalf("readyz %d before shutdown", s)
	}
	done := make(chan error, 1)
	go func() { done <- g.Shutdown(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for status(admin+"/readyz") != 503 {
		if time.Now().After(deadline) {
			t.Fatal("readyz never turned 503")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Not ready, still serving: a load balancer has time to notice.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get(base + "/x")
	if err != nil {
		t.Fatalf("request during the drain delay: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 204 {
		t.Fatalf("status %d during the drain delay", res.StatusCode)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(base + "/x"); err == nil {
		t.Fatal("listener still accepts after Shutdown")
	}
}
