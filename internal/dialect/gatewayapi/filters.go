package gatewayapi

import (
	"net/textproto"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
	"jwtgate.dev/jwtgate/internal/strictyaml"
)

// Filter types.
const (
	filterRequestHeaders  = "RequestHeaderModifier"
	filterResponseHeaders = "ResponseHeaderModifier"
	filterRedirect        = "RequestRedirect"
	filterRewrite         = "URLRewrite"
	filterMirror          = "RequestMirror"
	filterCORS            = "CORS"
	filterExtension       = "ExtensionRef"
	filterExternalAuth    = "ExternalAuth"
)

// filterFields names the field each filter type configures.
var filterFields = map[string]string{
	filterRequestHeaders:  "requestHeaderModifier",
	filterResponseHeaders: "responseHeaderModifier",
	filterRedirect:        "requestRedirect",
	filterRewrite:         "urlRewrite",
	filterMirror:          "requestMirror",
	filterCORS:            "cors",
	filterExtension:       "extensionRef",
	filterExternalAuth:    "externalAuth",
}

// filters translates the filters at path p into acts. Filters that only
// add behaviour (mirroring, CORS answers) are left out with a status;
// false means a filter cannot be applied and must not be skipped (an
// extension, external authorization): the rule then answers 500.
func (t *translator) filters(d *document, fs []filter, p string, acts *model.RouteActions, renames map[string]string) bool {
	ok := true
	hostSet, hostAt := "", ""
	defer func() {
		// Setting the Host request header is rewriting the host; a
		// URLRewrite hostname of the same rule wins.
		switch {
		case hostSet == "" || acts.Redirect != nil:
		case acts.Rewrite == nil:
			acts.Rewrite = &model.Rewrite{Host: hostSet}
			renames["rewrite.host"] = hostAt
		case acts.Rewrite.Host == "":
			acts.Rewrite.Host = hostSet
		default:
			d.NotServed(hostAt, "setting the Host header is not applied: the rule's URLRewrite hostname sets it")
		}
	}()
	for i, f := range fs {
		fp := strictyaml.Index(p, i)
		cp := strictyaml.Field(fp, filterFields[f.Type])
		switch f.Type {
		case filterRequestHeaders:
			if f.RequestHeaderModifier != nil {
				var paths map[string]string
				acts.RequestHeaders, hostSet, paths = headerOps(d, f.RequestHeaderModifier, cp, true)
				hostAt = cp
				renames["requestHeaders"] = cp
				for k, v := range paths {
					renames["requestHeaders."+k] = v
				}
			}
		case filterResponseHeaders:
			if f.ResponseHeaderModifier != nil {
				var paths map[string]string
				acts.ResponseHeaders, _, paths = headerOps(d, f.ResponseHeaderModifier, cp, false)
				renames["responseHeaders"] = cp
				for k, v := range paths {
					renames["responseHeaders."+k] = v
				}
			}
		case filterRewrite:
			if rw := f.URLRewrite; rw != nil && (rw.Hostname != nil || rw.Path != nil) {
				acts.Rewrite = &model.Rewrite{Host: deref(rw.Hostname, ""), Path: pathRewrite(rw.Path)}
				renames["rewrite"] = cp
				renames["rewrite.host"] = strictyaml.Field(cp, "hostname")
				renames["rewrite.path"] = strictyaml.Field(cp, "path")
				renames["rewrite.path.full"] = strictyaml.Field(cp, "path.replaceFullPath")
				renames["rewrite.path.prefix"] = strictyaml.Field(cp, "path.replacePrefixMatch")
			}
		case filterRedirect:
			if rd := f.RequestRedirect; rd != nil {
				acts.Redirect = redirectOf(rd)
				renames["redirect"] = cp
				renames["redirect.host"] = strictyaml.Field(cp, "hostname")
				renames["redirect.status"] = strictyaml.Field(cp, "statusCode")
				renames["redirect.path"] = strictyaml.Field(cp, "path")
				renames["redirect.path.full"] = strictyaml.Field(cp, "path.replaceFullPath")
				renames["redirect.path.prefix"] = strictyaml.Field(cp, "path.replacePrefixMatch")
			}
		case filterMirror:
			d.NotServed(fp, "requests are not mirrored by jwtgate: the rule is served without its mirror")
		case filterCORS:
			d.NotServed(fp, "CORS is not applied by jwtgate: no Access-Control-Allow-* headers are added, and preflight requests reach the backend")
		case filterExtension, filterExternalAuth:
			d.NotServed(fp, "Accepted=False UnsupportedValue: filter type %s is not supported by jwtgate; the rule answers 500, as the API requires for a filter that cannot be applied", f.Type)
			ok = false
		default:
			d.NotServed(strictyaml.Field(fp, "type"), "Accepted=False UnsupportedValue: unknown filter type %q; the rule answers 500, as the API requires for a filter that cannot be applied", f.Type)
			ok = false
		}
	}
	return ok
}

// Headers a header modifier cannot change: hop-by-hop headers and the
// message framing (either way), and the headers the gateway sets on
// every forwarded request.
var (
	fixedHeaders      = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length"}
	forwardingHeaders = []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}
)

// headerOps translates a header modifier at path p. Header names compare
// case-insensitively: of several entries for one name in set (or add),
// the first counts. On requests, setting Host becomes a rewrite of the
// host (returned as host). Entries jwtgate cannot apply are left out
// with a status.
//
// paths maps the model's field paths below the header changes
// ("set.X-A", "remove[0]") to the document's.
func headerOps(d *document, m *headerModifier, p string, request bool) (ops model.HeaderOps, host string, paths map[string]string) {
	paths = map[string]string{}
	usable := func(name, at string) bool {
		h := textproto.CanonicalMIMEHeaderKey(name)
		switch {
		case slices.Contains(fixedHeaders, h):
			d.NotServed(at, "header %s belongs to the connection or the message framing: jwtgate does not change it", h)
		case request && slices.Contains(forwardingHeaders, h):
			d.NotServed(at, "header %s is set by jwtgate on every forwarded request: this entry is not applied", h)
		default:
			return true
		}
		return false
	}
	each := func(hs []header, key string) map[string]string {
		out := map[string]string{}
		seen := map[string]bool{}
		for i, h := range hs {
			at := strictyaml.Index(strictyaml.Field(p, key), i)
			k := strings.ToLower(h.Name)
			switch {
			case seen[k]:
				d.Warnf(strictyaml.Field(at, "name"), "ignored: an earlier entry names header %q already", h.Name)
				continue
			case request && k == "host":
				host = h.Value
			case !usable(h.Name, at):
			default:
				out[h.Name] = h.Value
				paths[strictyaml.Key(key, h.Name)] = at
			}
			seen[k] = true
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	ops.Set = each(m.Set, "set")
	ops.Add = each(m.Add, "add")
	for i, h := range m.Remove {
		at := strictyaml.Index(strictyaml.Field(p, "remove"), i)
		switch {
		case request && strings.EqualFold(h, "host"):
			d.NotServed(at, "the Host header cannot be removed: requests keep it")
		case usable(h, at):
			paths[strictyaml.Index("remove", len(ops.Remove))] = at
			ops.Remove = append(ops.Remove, h)
		}
	}
	return ops, host, paths
}

// redirectOf translates a RequestRedirect. Without a port, a redirect
// that names a scheme goes to that scheme's well-known port (as the API
// says); one that does not keeps the request's port.
func redirectOf(rd *redirect) *model.Redirect {
	r := &model.Redirect{Scheme: deref(rd.Scheme, ""), Host: deref(rd.Hostname, ""), Port: deref(rd.Port, 0), Status: deref(rd.StatusCode, 302)}
	if r.Port == 0 {
		switch r.Scheme {
		case "http":
			r.Port = 80
		case "https":
			r.Port = 443
		}
	}
	r.Path = pathRewrite(rd.Path)
	return r
}

// pathRewrite translates an HTTPPathModifier; nil for none.
func pathRewrite(m *pathModifier) *model.PathRewrite {
	if m == nil {
		return nil
	}
	switch m.Type {
	case "ReplaceFullPath":
		v := deref(m.ReplaceFullPath, "/")
		if v == "" {
			v = "/"
		}
		return &model.PathRewrite{Full: v}
	case "ReplacePrefixMatch":
		v := deref(m.ReplacePrefixMatch, "/")
		if v == "" {
			v = "/" // replacing the prefix with nothing leaves the rest of the path
		}
		return &model.PathRewrite{Prefix: v}
	}
	return nil
}
