package proxy

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// redirect is a compiled model.Redirect.
type redirect struct {
	status int
	// scheme, host and port replace the request's; empty (0) keeps it.
	scheme string
	host   string
	port   int
	path   *pathRewrite
	// tokenParams are the query parameters the route's providers read
	// tokens from: never copied into a Location.
	tokenParams []string
}

func (b *builder) compileRedirect(mr model.Route, errf func(field, format string, args ...any)) *redirect {
	rd := mr.Redirect
	d := &redirect{status: rd.Status, scheme: rd.Scheme, host: rd.Host, port: rd.Port}
	switch rd.Status {
	case 0:
		d.status = http.StatusFound
	case 301, 302, 303, 307, 308:
	default:
		errf("redirect.status", "invalid redirect status %d", rd.Status)
		d.status = http.StatusFound
	}
	if rd.Path != nil {
		d.path = compilePathRewrite(*rd.Path, "redirect.path", errf)
	}
	if q := b.cfg.EffectiveJWT(mr).Requirement; q != nil {
		for _, name := range q.Providers {
			for _, p := range b.cfg.Providers {
				if p.Name != name {
					continue
				}
				from := p.From
				if len(from) == 0 {
					from = model.DefaultTokenSources()
				}
				for _, s := range from {
					if s.Query != "" && !slices.Contains(d.tokenParams, s.Query) {
						d.tokenParams = append(d.tokenParams, s.Query)
					}
				}
			}
		}
	}
	return d
}

// location is the redirect's Location: the request's URL (scheme by the
// connection, the Host header's host and port, the normalized path, the
// query as sent) with the configured parts replaced.
//
// The port: the configured one; otherwise the Host header's, which is
// dropped when the scheme changes and it was the old scheme's default
// port (http://h:80 to https://h, as Envoy does); a port that is the
// default of the final scheme is never written. A request without a
// Host, redirected without a configured host, gets a relative Location
// (the path and the query).
func (d *redirect) location(rt *route, r *http.Request, path string) string {
	reqScheme := "http"
	if r.TLS != nil {
		reqScheme = "https"
	}
	scheme := d.scheme
	if scheme == "" {
		scheme = reqScheme
	}
	host, port := splitAuthority(r.Host)
	if d.host != "" {
		host = d.host
	}
	switch {
	case d.port != 0:
		port = strconv.Itoa(d.port)
	case scheme != reqScheme && port == defaultPort(reqScheme):
		port = ""
	}
	if port == defaultPort(scheme) {
		port = ""
	}
	if d.path != nil {
		path = d.path.apply(rt, path)
	}
	query := withoutParams(r.URL.RawQuery, d.tokenParams)
	if host == "" {
		// An HTTP/1.0 request without Host, and no host configured: a
		// reference relative to the request's own authority.
		scheme, port = "", ""
	}

	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + 2 + len(port) + 1 + len(path) + 1 + len(query))
	if host != "" {
		b.WriteString(scheme)
		b.WriteString("://")
	}
	if strings.IndexByte(host, ':') >= 0 {
		b.WriteByte('[')
		b.WriteString(host)
		b.WriteByte(']')
	} else {
		b.WriteString(host)
	}
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(path)
	if query != "" {
		b.WriteByte('?')
		b.WriteString(query)
	}
	return b.String()
}

// splitAuthority splits a Host header into its host (IPv6 without
// brackets) and port ("" when it has none).
func splitAuthority(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return h, p
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), ""
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// withoutParams returns the raw query without the parameters named
// (compared decoded); the others are kept as sent, in order.
func withoutParams(raw string, names []string) string {
	if raw == "" || len(names) == 0 {
		return raw
	}
	var b strings.Builder
	for rest := raw; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		k, _, _ := strings.Cut(pair, "=")
		if uk, err := url.QueryUnescape(k); err == nil && slices.Contains(names, uk) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(pair)
	}
	return b.String()
}

// describeRedirect is a redirect for Explain.
func describeRedirect(rd *model.Redirect) string {
	status := rd.Status
	if status == 0 {
		status = http.StatusFound
	}
	s := "redirect " + strconv.Itoa(status)
	if rd.Scheme != "" {
		s += " scheme=" + rd.Scheme
	}
	if rd.Host != "" {
		s += " host=" + rd.Host
	}
	if rd.Port != 0 {
		s += " port=" + strconv.Itoa(rd.Port)
	}
	if p := rd.Path; p != nil {
		if p.Full != "" {
			s += " path=full:" + p.Full
		} else {
			s += " path=prefix:" + p.Prefix
		}
	}
	return s
}
