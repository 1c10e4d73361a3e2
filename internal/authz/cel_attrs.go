package authz

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"reflect"
	"strings"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"

	"jwtgate.dev/jwtgate/internal/model"
)

// celVars is the activation of one evaluation: Envoy's variables, each
// a map whose entries are computed from the request when an expression
// reads them, so that an expression pays only for what it reads (the
// claims are wrapped, not copied, and only when read).
type celVars struct {
	r *Request
	c *celCondition
	// req is a copy of the request r points to: an activation lives on
	// the heap, and pointing it at the caller's Request would move every
	// Request that Evaluate sees to the heap, CEL or not.
	req Request
}

// newCELVars returns the activation of one evaluation of c over a copy
// of r.
func newCELVars(r *Request, c *celCondition) *celVars {
	v := &celVars{c: c, req: *r}
	v.r = &v.req
	return v
}

// ResolveName resolves Envoy's variables that jwtgate provides; the
// others (checked out by model.CompileCEL) are missing.
func (v *celVars) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		return celMap{v, mapRequest}, true
	case "source":
		return celMap{v, mapSource}, true
	case "destination":
		return celMap{v, mapDestination}, true
	case "connection":
		return celMap{v, mapConnection}, true
	case "metadata":
		return celMap{v, mapMetadata}, true
	}
	return nil, false
}

// Parent is nil: there is no enclosing activation.
func (v *celVars) Parent() interpreter.Activation { return nil }

// mapKind says which attribute map a celMap is.
type mapKind uint8

const (
	mapRequest mapKind = iota
	mapHeaders
	mapSource
	mapDestination
	mapConnection
	mapMetadata
	mapFilterMetadata
	mapJWT
)

// celMap is one of the attribute maps of an evaluation: a CEL map with
// string keys whose values are computed on lookup. A key whose
// attribute is absent (a header not sent, no TLS, no verified token) is
// not in the map: reading it is an error, as in Envoy.
type celMap struct {
	v    *celVars
	kind mapKind
}

var _ traits.Mapper = celMap{}

// attributeKeys are the keys of the fixed maps, in the order Iterator
// walks them.
func (m celMap) attributeKeys() []string {
	switch m.kind {
	case mapRequest:
		return []string{"path", "url_path", "host", "scheme", "method", "headers", "referer", "useragent", "id", "protocol", "query", "time"}
	case mapSource, mapDestination:
		return []string{"address", "port"}
	case mapConnection:
		return []string{"mtls", "requested_server_name", "tls_version", "subject_peer_certificate",
			"uri_san_peer_certificate", "dns_san_peer_certificate", "sha256_peer_certificate_digest"}
	case mapMetadata:
		return []string{"filter_metadata"}
	case mapFilterMetadata:
		return []string{model.CELJWTFilter}
	case mapJWT:
		return []string{m.v.c.key}
	}
	return nil
}

// keys are the keys present.
func (m celMap) keys() []string {
	if m.kind == mapHeaders {
		return m.headerKeys()
	}
	var out []string
	for _, k := range m.attributeKeys() {
		if _, ok := m.find(k); ok {
			out = append(out, k)
		}
	}
	return out
}

// find computes the value of key.
func (m celMap) find(key string) (ref.Val, bool) {
	r := m.v.r
	switch m.kind {
	case mapRequest:
		return requestAttr(m.v, key)
	case mapHeaders:
		return headerAttr(r, key)
	case mapSource:
		return sourceAttr(r, key)
	case mapDestination:
		return destinationAttr(r, key)
	case mapConnection:
		return connectionAttr(r, key)
	case mapMetadata:
		if key == "filter_metadata" {
			return celMap{m.v, mapFilterMetadata}, true
		}
	case mapFilterMetadata:
		if key == model.CELJWTFilter && r.Authenticated {
			return celMap{m.v, mapJWT}, true
		}
	case mapJWT:
		if key == m.v.c.key && r.Authenticated {
			return payloadMap{Mapper: types.NewStringInterfaceMap(claimAdapter{}, r.Claims), c: m.v.c, iss: r.Issuer}, true
		}
	}
	return nil, false
}

func requestAttr(v *celVars, key string) (ref.Val, bool) {
	r, h := v.r, v.r.HTTP
	switch key {
	case "path":
		return types.String(pathWithQuery(r)), true
	case "url_path":
		return types.String(r.Path), true
	case "host":
		return types.String(authority(r)), true
	case "scheme":
		if h != nil {
			return types.String(scheme(h)), true
		}
	case "method":
		return types.String(r.Method), true
	case "headers":
		return celMap{v, mapHeaders}, true
	case "referer":
		return headerAttr(r, "referer")
	case "useragent":
		return headerAttr(r, "user-agent")
	case "id":
		return headerAttr(r, "x-request-id")
	case "protocol":
		if h != nil {
			return types.String(protocol(h.Proto)), true
		}
	case "query":
		if h != nil {
			return types.String(h.URL.RawQuery), true
		}
	case "time":
		return types.Timestamp{Time: time.Now()}, true
	}
	return nil, false
}

// authority is Envoy's request.host: the Host header as sent (with its
// port, if any), or the host rules see without the request.
func authority(r *Request) string {
	if r.HTTP != nil {
		return r.HTTP.Host
	}
	return r.Host
}

// pathWithQuery is Envoy's request.path: the (normalized) path and the
// query, when there is one.
func pathWithQuery(r *Request) string {
	if r.HTTP == nil || r.HTTP.URL.RawQuery == "" {
		return r.Path
	}
	return r.Path + "?" + r.HTTP.URL.RawQuery
}

func scheme(h *http.Request) string {
	if h.TLS != nil {
		return "https"
	}
	return "http"
}

// protocol is the request's protocol as Envoy names it.
func protocol(p string) string {
	switch p {
	case "HTTP/2.0":
		return "HTTP/2"
	case "HTTP/3.0":
		return "HTTP/3"
	}
	return p
}

// headerAttr is request.headers[key]: the header's values joined with
// commas, as Envoy has them. Envoy's keys are lower case: another
// spelling is not found. The pseudo-headers :authority, :method, :path
// and :scheme are there too; Host is :authority.
func headerAttr(r *Request, key string) (ref.Val, bool) {
	if strings.HasPrefix(key, ":") {
		switch key {
		case ":authority":
			return types.String(authority(r)), true
		case ":method":
			return types.String(r.Method), true
		case ":path":
			return types.String(pathWithQuery(r)), true
		case ":scheme":
			if r.HTTP != nil {
				return types.String(scheme(r.HTTP)), true
			}
		}
		return nil, false
	}
	if key == "" || key == "host" || !isLower(key) {
		return nil, false
	}
	vs := r.Header[textproto.CanonicalMIMEHeaderKey(key)]
	switch len(vs) {
	case 0:
		return nil, false
	case 1:
		return types.String(vs[0]), true
	}
	return types.String(strings.Join(vs, ",")), true
}

// isLower reports whether s has no upper-case ASCII letter.
func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return false
		}
	}
	return true
}

// headerKeys are the lower-case names of the request's headers and the
// pseudo-headers.
func (m celMap) headerKeys() []string {
	r := m.v.r
	out := []string{":authority", ":method", ":path"}
	if r.HTTP != nil {
		out = append(out, ":scheme")
	}
	for k := range r.Header {
		if len(r.Header[k]) > 0 {
			out = append(out, strings.ToLower(k))
		}
	}
	return out
}

// sourceAttr is source.address ("IP:PORT", as Envoy writes the
// downstream remote address) and source.port: the original client, as
// remote IP rules see it (the port is 0 when the address comes from
// X-Forwarded-For, as in Envoy).
func sourceAttr(r *Request, key string) (ref.Val, bool) {
	ip := r.client().Unmap().WithZone("")
	if !ip.IsValid() {
		return nil, false
	}
	port := uint16(0)
	if r.HTTP != nil && (!r.Client.IsValid() || r.Client == r.Remote) {
		if ap, err := netip.ParseAddrPort(r.HTTP.RemoteAddr); err == nil {
			port = ap.Port()
		}
	}
	switch key {
	case "address":
		return types.String(netip.AddrPortFrom(ip, port).String()), true
	case "port":
		return types.Int(port), true
	}
	return nil, false
}

// destinationAttr is destination.address, the local address the
// connection arrived at, and destination.port, the port rules see.
func destinationAttr(r *Request, key string) (ref.Val, bool) {
	switch key {
	case "address":
		if r.HTTP != nil {
			if a, ok := r.HTTP.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
				return types.String(a.String()), true
			}
		}
	case "port":
		if r.Port > 0 {
			return types.Int(r.Port), true
		}
	}
	return nil, false
}

// connectionAttr is connection.*: the downstream TLS connection, when
// there is one.
func connectionAttr(r *Request, key string) (ref.Val, bool) {
	var st *tls.ConnectionState
	if r.HTTP != nil {
		st = r.HTTP.TLS
	}
	if key == "mtls" {
		return types.Bool(st != nil && len(st.PeerCertificates) > 0), true
	}
	if st == nil {
		return nil, false
	}
	switch key {
	case "requested_server_name":
		if st.ServerName != "" {
			return types.String(st.ServerName), true
		}
		return nil, false
	case "tls_version":
		switch st.Version {
		case tls.VersionTLS12:
			return types.String("TLSv1.2"), true
		case tls.VersionTLS13:
			return types.String("TLSv1.3"), true
		}
		return nil, false
	}
	if len(st.PeerCertificates) == 0 {
		return nil, false
	}
	cert := st.PeerCertificates[0]
	switch key {
	case "subject_peer_certificate":
		return types.String(cert.Subject.String()), true
	case "uri_san_peer_certificate":
		if len(cert.URIs) > 0 {
			return types.String(cert.URIs[0].String()), true
		}
	case "dns_san_peer_certificate":
		if len(cert.DNSNames) > 0 {
			return types.String(cert.DNSNames[0]), true
		}
	case "sha256_peer_certificate_digest":
		sum := sha256.Sum256(cert.Raw)
		return types.String(hex.EncodeToString(sum[:])), true
	}
	return nil, false
}

// ConvertToNative is not supported: an attribute map stays in CEL.
func (m celMap) ConvertToNative(t reflect.Type) (any, error) {
	return nil, errNoNative
}

// ConvertToType converts to map or type.
func (m celMap) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return m
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to '%s'", t)
}

// Equal is true for the same map of the same evaluation.
func (m celMap) Equal(other ref.Val) ref.Val {
	o, ok := other.(celMap)
	return types.Bool(ok && o == m)
}

// Type is map.
func (m celMap) Type() ref.Type { return types.MapType }

// Value is the map itself.
func (m celMap) Value() any { return m }

// Contains reports whether key is present.
func (m celMap) Contains(key ref.Val) ref.Val {
	_, ok := m.Find(key)
	return types.Bool(ok)
}

// Get is the value of key, or a "no such key" error.
func (m celMap) Get(key ref.Val) ref.Val {
	if v, ok := m.Find(key); ok {
		return v
	}
	return types.NewErr("no such key: %v", key)
}

// Iterator walks the keys present.
func (m celMap) Iterator() traits.Iterator {
	return types.NewStringList(types.DefaultTypeAdapter, m.keys()).Iterator()
}

// Size is the number of keys present.
func (m celMap) Size() ref.Val { return types.Int(len(m.keys())) }

// Find is the value of a string key.
func (m celMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	return m.find(string(k))
}

// errNoNative is ConvertToNative's answer for attribute maps.
var errNoNative = errors.New("an attribute map has no Go value")

// payloadMap is the verified token's claims as Envoy's metadata has
// them: numbers are doubles (a protobuf Struct's), and the top-level
// claims the policy names as space-delimited are lists of their words.
type payloadMap struct {
	traits.Mapper
	c   *celCondition
	iss string
}

// Find is the claim, split when the policy says so.
func (p payloadMap) Find(key ref.Val) (ref.Val, bool) {
	v, ok := p.Mapper.Find(key)
	if !ok {
		return v, ok
	}
	if s, isString := v.(types.String); isString {
		if k, _ := key.(types.String); p.c.split(p.iss, string(k)) {
			return types.NewStringList(types.DefaultTypeAdapter, words(string(s))), true
		}
	}
	return v, true
}

// Get is Find, or a "no such key" error.
func (p payloadMap) Get(key ref.Val) ref.Val {
	if v, ok := p.Find(key); ok {
		return v
	}
	return types.NewErr("no such key: %v", key)
}

// words splits a space-delimited claim, as Envoy does, leaving out empty
// words.
func words(s string) []string {
	out := []string{}
	for _, w := range strings.Split(s, " ") {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// claimAdapter turns claim values, as encoding/json decodes them, into
// CEL values as Envoy's metadata holds them: every number a double.
type claimAdapter struct{}

// NativeToValue adapts one claim value; lists and objects are wrapped,
// their elements adapted when read.
func (claimAdapter) NativeToValue(value any) ref.Val {
	switch v := value.(type) {
	case ref.Val:
		return v
	case string:
		return types.String(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return types.NewErr("claim number %q: %v", string(v), err)
		}
		return types.Double(f)
	case float64:
		return types.Double(v)
	case int:
		return types.Double(float64(v))
	case int64:
		return types.Double(float64(v))
	case bool:
		return types.Bool(v)
	case nil:
		return types.NullValue
	case []any:
		return types.NewDynamicList(claimAdapter{}, v)
	case []string:
		return types.NewStringList(claimAdapter{}, v)
	case map[string]any:
		return types.NewStringInterfaceMap(claimAdapter{}, v)
	}
	return types.DefaultTypeAdapter.NativeToValue(value)
}
