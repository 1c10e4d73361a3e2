package demo

import (
	"encoding/json"
	"net/http"
)

// Echoed is what the echo upstream answers: the request as it arrived.
type Echoed struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Query is the decoded query string.
	Query map[string][]string `json:"query"`
	// Headers are all request headers in canonical form, Host included.
	Headers map[string][]string `json:"headers"`
}

// Echo is an upstream that answers every request with 200 and a JSON
// Echoed of what it received, like httpbin's /anything.
func Echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := Echoed{
			Method:  r.Method,
			Path:    r.URL.Path,
			Query:   r.URL.Query(),
			Headers: map[string][]string{"Host": {r.Host}},
		}
		for k, v := range r.Header {
			e.Headers[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(e)
	})
}
