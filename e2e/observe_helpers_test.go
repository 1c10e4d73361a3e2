package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// jwksServer is a key set endpoint on loopback that counts the requests
// it gets.
type jwksServer struct {
	URL     string // the key set's URL
	fetches atomic.Int64
}

// serveJWKS serves h at /jwks.json, counting every request. Requests to
// other paths get 404 and count too.
func serveJWKS(t *testing.T, h http.HandlerFunc) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if r.URL.Path != "/jwks.json" {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/jwks.json"
	return s
}

// jwksDoc answers with the key set doc.
func jwksDoc(doc string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, doc)
	}
}

// httpGet sends GET url with the token (none when empty) as a bearer
// token and returns the status and body; a transport error fails the test.
func httpGet(t *testing.T, client *http.Client, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return res.StatusCode, string(b)
}

// waitStatus polls GET url until it answers want, for up to 10 seconds.
func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	var last string
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == want {
				return
			}
			last = fmt.Sprintf("%d %q", res.StatusCode, b)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: still %s after 10s, want %d", url, last, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape is one parsed GET /metrics.
type scrape struct {
	body     string
	families map[string]*dto.MetricFamily
}

// scrapeMetrics fetches adminURL/metrics and parses it as the Prometheus
// text format.
func scrapeMetrics(t *testing.T, adminURL string) scrape {
	t.Helper()
	res, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %q", res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, b)
	}
	return scrape{body: string(b), families: fams}
}

// series returns every series of the metric family name as
// `{k="v",...}` (labels sorted) -> value: a counter's or gauge's value,
// a histogram's sample count.
func (s scrape) series(name string) map[string]float64 {
	out := map[string]float64{}
	f := s.families[name]
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		var v float64
		switch {
		case m.GetCounter() != nil:
			v = m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			v = m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			v = float64(m.GetHistogram().GetSampleCount())
		case m.GetUntyped() != nil:
			v = m.GetUntyped().GetValue()
		}
		out[labelKey(m.GetLabel())] = v
	}
	return out
}

// labelKey is `{k="v",...}` with the labels sorted by name.
func labelKey(labels []*dto.LabelPair) string {
	parts := make([]string, 0, len(labels))
	for _, l := range labels {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// value is the value of the series of name with exactly these labels;
// ok is false when there is no such series.
func (s scrape) value(name string, labels ...string) (v float64, ok bool) {
	var parts []string
	for i := 0; i+1 < len(labels); i += 2 {
		parts = append(parts, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	sort.Strings(parts)
	v, ok = s.series(name)["{"+strings.Join(parts, ",")+"}"]
	return v, ok
}

// gatewaySeries is every jwtgate_ series, as `name{labels}`, with its
// value.
func (s scrape) gatewaySeries() map[string]float64 {
	out := map[string]float64{}
	for name := range s.families {
		if !strings.HasPrefix(name, "jwtgate_") {
			continue
		}
		for k, v := range s.series(name) {
			out[name+k] = v
		}
	}
	return out
}

// labelValues are every label value of every series in the scrape.
func (s scrape) labelValues() []string {
	var out []string
	for _, f := range s.families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

// expectSeries checks that the series of name are exactly want.
func (s scrape) expectSeries(t *testing.T, name string, want map[string]float64) {
	t.Helper()
	got := s.series(name)
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s%s is missing, want %v", name, k, w)
		} else if g != w {
			t.Errorf("%s%s = %v, want %v", name, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s%s = %v", name, k, g)
		}
	}
}
