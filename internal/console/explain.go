package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// explainData is the explain page's: the form (refilled after a POST)
// and the report or the error.
type explainData struct {
	// Available is false without an Explainer.
	Available bool
	Listeners []string
	Form      explainForm
	// Report is the explanation; Error what went wrong instead.
	Report string
	Error  string
}

// explainForm holds the form's fields as submitted.
type explainForm struct {
	Listener, Method, URL, Headers, PeerSPIFFE, RemoteAddr string
}

func (h *Handler) explainData() explainData {
	d := explainData{Available: h.opts.Explainer != nil, Form: explainForm{Method: http.MethodGet}}
	for _, l := range h.opts.State().Listeners {
		d.Listeners = append(d.Listeners, l.Name)
	}
	return d
}

func (h *Handler) explainForm(w http.ResponseWriter) {
	h.render(w, http.StatusOK, "explain", "Explain a request", h.explainData())
}

// explainPost explains the submitted request. It changes nothing; it is
// still refused from another origin, so that another site cannot make a
// browser on the operator's machine run it (and read nothing back, but
// have the gateway fetch key sets on its behalf).
func (h *Handler) explainPost(w http.ResponseWriter, r *http.Request) {
	if err := h.cross.Check(r); err != nil {
		plain(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("form larger than %d bytes", maxFormBytes))
			return
		}
		plain(w, http.StatusBadRequest, "the form could not be read")
		return
	}
	d := h.explainData()
	f := explainForm{
		Listener:   strings.TrimSpace(r.PostForm.Get("listener")),
		Method:     strings.ToUpper(strings.TrimSpace(r.PostForm.Get("method"))),
		URL:        strings.TrimSpace(r.PostForm.Get("url")),
		Headers:    r.PostForm.Get("headers"),
		PeerSPIFFE: strings.TrimSpace(r.PostForm.Get("peer_spiffe")),
		RemoteAddr: strings.TrimSpace(r.PostForm.Get("remote_addr")),
	}
	d.Form = f
	in, err := f.input()
	if err != nil {
		d.Error = err.Error()
		h.render(w, http.StatusBadRequest, "explain", "Explain a request", d)
		return
	}
	if !d.Available {
		d.Error = "explain is not available in this gateway"
		h.render(w, http.StatusNotImplemented, "explain", "Explain a request", d)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), explainTimeout)
	defer cancel()
	report, err := h.opts.Explainer.Explain(ctx, in)
	if err != nil {
		d.Error = err.Error()
		h.render(w, http.StatusUnprocessableEntity, "explain", "Explain a request", d)
		return
	}
	d.Report = report
	h.render(w, http.StatusOK, "explain", "Explain a request", d)
}

// input checks the form and turns it into an ExplainInput.
func (f explainForm) input() (ExplainInput, error) {
	if f.Method == "" {
		f.Method = http.MethodGet
	}
	if !isToken(f.Method) {
		return ExplainInput{}, fmt.Errorf("method %q is not an HTTP method", f.Method)
	}
	if f.URL == "" {
		return ExplainInput{}, errors.New("the URL is required")
	}
	hdr, err := ParseHeaders(f.Headers)
	if err != nil {
		return ExplainInput{}, err
	}
	return ExplainInput{Listener: f.Listener, Method: f.Method, URL: f.URL, Header: hdr, PeerSPIFFE: f.PeerSPIFFE, RemoteAddr: f.RemoteAddr}, nil
}

// ParseHeaders reads the explain form's headers: one "Name: value" per
// line, blank lines ignored, a name repeated adds a value. A line that is
// not a header, a name that is not an HTTP token, a value with a control
// character, or more than 100 headers is an error.
func ParseHeaders(text string) (http.Header, error) {
	h := http.Header{}
	n := 0
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("header line %d has no colon: write Name: value", i+1)
		}
		name = strings.TrimSpace(name)
		if !isToken(name) {
			return nil, fmt.Errorf("header line %d: %q is not a header name", i+1, name)
		}
		value = strings.Trim(value, " \t")
		for j := 0; j < len(value); j++ {
			if c := value[j]; c < 0x20 && c != '\t' || c == 0x7f {
				return nil, fmt.Errorf("header line %d: the value has a control character", i+1)
			}
		}
		if n++; n > maxHeaders {
			return nil, fmt.Errorf("more than %d headers", maxHeaders)
		}
		h.Add(name, value)
	}
	return h, nil
}

// isToken reports whether s is a non-empty HTTP token (RFC 9110 section
// 5.6.2): a method or a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
