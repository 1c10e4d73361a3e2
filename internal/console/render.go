package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

//go:embed templates/*.html templates/style.css
var files embed.FS

// style is the console's one style sheet, inlined in every page; the
// Content-Security-Policy allows it by its hash, and nothing else.
var style = mustRead("templates/style.css")

// csp is the Content-Security-Policy of every console response: nothing
// may load, run or frame; the inline style sheet is allowed by hash, forms
// post to the console only.
var csp = "default-src 'none'; style-src 'sha256-" + hashOf(style) + "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pages are the parsed templates, one per page, each with the layout.
// They are never modified after init; Execute is safe concurrently.
var pages = mustParse("overview", "providers", "resources", "denied", "explain")

func mustRead(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("console: embedded %s: %v", name, err))
	}
	return string(b)
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

var funcs = template.FuncMap{
	// style is the inline style sheet; its hash is in the CSP.
	"style": func() template.CSS { return template.CSS(style) },
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"join": strings.Join,
}

func mustParse(names ...string) map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html"))
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		t := template.Must(layout.Clone())
		out[n] = template.Must(t.ParseFS(files, "templates/"+n+".html"))
	}
	return out
}

// page is what every page's template gets.
type page struct {
	// Title is the page's title; Active the nav entry to highlight.
	Title  string
	Active string
	// Now is when the page was rendered.
	Now time.Time
	// Data is the page's own data.
	Data any
}

// render writes a page with status; a template error is a 500.
func (h *Handler) render(w http.ResponseWriter, status int, name, title string, data any) {
	var b bytes.Buffer
	p := page{Title: title, Active: name, Now: h.opts.Now().UTC(), Data: data}
	if err := pages[name].ExecuteTemplate(&b, "layout.html", p); err != nil {
		plain(w, http.StatusInternalServerError, "rendering the page failed")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// secureHeaders are set on every console response.
func secureHeaders(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}

// plain writes a short text/plain answer.
func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// localHost reports whether a request's Host names an IP address or
// localhost (any port), or is absent. A browser sends the name it
// resolved: a page on evil.example that rebinds its name to 127.0.0.1
// sends Host: evil.example and is refused.
func localHost(hostport string) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// when formats a time for the pages: UTC, to the second; "never" for
// the zero time.
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// age is how long ago t was, to the second; "" for the zero time.
func age(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String()
}
