package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/authz"
)

// ExplainRequest is a request to explain (Runtime.ExplainRequest): what
// a client would send, never sent anywhere.
type ExplainRequest struct {
	// Listener names the listener that receives it; empty picks the only
	// listener, or the one whose port is the URL's (see
	// Runtime.ExplainRequest).
	Listener string
	// Method is the request method; empty means GET.
	Method string
	// URL is absolute ("https://www.example.com/productpage?x=1": the
	// host is the Host header, https means the client spoke TLS), or a
	// path ("/productpage") with the host from Header's Host or else the
	// listener's address. On an egress listener an absolute URL is a
	// forward-proxy (absolute-form) request.
	URL string
	// Header are the request's headers, Authorization included.
	Header http.Header
	// PeerSPIFFE is the SPIFFE ID (spiffe://TD/ns/NS/sa/SA) of the
	// client's verified certificate; empty for none.
	PeerSPIFFE string
	// RemoteAddr is the client's address, IP or IP:port; empty means
	// 127.0.0.1.
	RemoteAddr string
}

// ExplainReport is what the request pipeline did with an explained
// request, stage by stage. It never holds a token or an injected
// credential: tokens are named by their fingerprint (authn.Fingerprint),
// credentials are redacted. Text renders it for people.
type ExplainReport struct {
	// Request is the request as the pipeline saw it.
	Request ExplainedRequest `json:"request"`
	// Listener is the listener's name, Address its address.
	Listener string `json:"listener"`
	Address  string `json:"address"`
	// Egress is set for an egress listener (Route is then an egress
	// server).
	Egress bool `json:"egress,omitempty"`
	// Routed says the pipeline got as far as choosing a route: a request
	// refused before (a path that cannot be normalized, CONNECT, a
	// rejected proxy token) was not routed.
	Routed bool `json:"routed"`
	// Route is the route chosen, empty when none matched; Match is its
	// match and Target where it sends requests (as validate shows them).
	Route  string `json:"route,omitempty"`
	Match  string `json:"match,omitempty"`
	Target string `json:"target,omitempty"`
	// Misses are the routes tried before, in order, and why each did not
	// match.
	Misses []RouteMiss `json:"misses,omitempty"`
	// Open says the route has no JWT requirement; NoPolicies that no
	// authorization policy applies to it.
	Open       bool `json:"open,omitempty"`
	NoPolicies bool `json:"noPolicies,omitempty"`
	// ProxyAuthn is the egress listener's forward-proxy token
	// requirement (Proxy-Authorization), when it ran.
	ProxyAuthn *authn.Trace `json:"proxyAuthn,omitempty"`
	// Authn is the route's JWT requirement, when it ran.
	Authn *authn.Trace `json:"authn,omitempty"`
	// AuthnFrom says where the requirement came from ("route" or
	// `jwtPolicy "NAME"`), when Authn is set.
	AuthnFrom string `json:"authnFrom,omitempty"`
	// Authz are the values the policies looked at, when they ran.
	Authz *AuthzInput `json:"authz,omitempty"`
	// Policies are each policy and rule evaluated, in evaluation order
	// (DENY first), when authorization ran.
	Policies []authz.PolicyTrace `json:"policies,omitempty"`
	// Decision is the authorization decision, when authorization ran,
	// such as `denied: no ALLOW policy matched`.
	Decision string `json:"decision,omitempty"`
	// Answer is what the client gets.
	Answer ExplainAnswer `json:"answer"`
	// Upstream is the request the upstream would receive; nil when the
	// request is not forwarded.
	Upstream *UpstreamRequest `json:"upstream,omitempty"`
	// Notes are remarks on the explanation itself (an assumption made, a
	// random choice).
	Notes []string `json:"notes,omitempty"`
}

// ExplainedRequest is the explained request as the pipeline saw it.
type ExplainedRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// Host is the host routes match (lower case, without port); Path the
	// normalized path routes and policies match; empty when the pipeline
	// refused the request before.
	Host string `json:"host,omitempty"`
	Path string `json:"path,omitempty"`
	// Header are the request's headers, credentials redacted.
	Header     http.Header `json:"header,omitempty"`
	RemoteAddr string      `json:"remoteAddr"`
	PeerSPIFFE string      `json:"peerSpiffe,omitempty"`
}

// RouteMiss is a route that did not match, and why.
type RouteMiss struct {
	Route  string `json:"route"`
	Match  string `json:"match"`
	Reason string `json:"reason"`
}

// AuthzInput are the request's values that authorization policies look
// at (authz.Request), worded.
type AuthzInput struct {
	Host          string   `json:"host"`
	Method        string   `json:"method"`
	Path          string   `json:"path"`
	Port          int      `json:"port"`
	Authenticated bool     `json:"authenticated"`
	Principal     string   `json:"principal,omitempty"`
	Issuer        string   `json:"issuer,omitempty"`
	Subject       string   `json:"subject,omitempty"`
	Audiences     []string `json:"audiences,omitempty"`
	PeerPrincipal string   `json:"peerPrincipal,omitempty"`
	PeerAddress   string   `json:"peerAddress,omitempty"`
	ClientAddress string   `json:"clientAddress,omitempty"`
}

// ExplainAnswer is the answer the client gets.
type ExplainAnswer struct {
	// Forwarded says the upstream answers: status and body are then
	// the upstream's (Status 0), and Header holds what the route adds to
	// its response.
	Forwarded bool `json:"forwarded"`
	// Status, Header and Body are the gateway's own answer.
	Status int         `json:"status,omitempty"`
	Header http.Header `json:"header,omitempty"`
	Body   string      `json:"body,omitempty"`
	// Reason is what the access log would say; Detail authentication's
	// longer reason.
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// UpstreamRequest is the request the upstream would receive, as the
// route's reverse proxy built it (host rewrite, X-Forwarded-*, claim
// headers, hop-by-hop headers removed): it is taken at the transport, in
// place of sending it.
type UpstreamRequest struct {
	// Backend is the backend chosen (its URL, query values redacted).
	Backend string      `json:"backend"`
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Host    string      `json:"host"`
	Header  http.Header `json:"header"`
}

// defaultExplainRemote is the client address when none is given.
const defaultExplainRemote = "127.0.0.1"

// ExplainRequest runs req through the named listener's request pipeline,
// the one that serves traffic, and reports what each stage did, without
// sending anything upstream: at the forward stage the request the
// upstream would receive is recorded instead. Tokens are verified as
// serving verifies them: a remote key set not fetched yet is fetched
// (the Runtime's providers are started if they were not), and ctx
// bounds the wait. An explained request is not traffic: it is not
// logged, counted in metrics or kept among the denied requests.
//
// With req.Listener empty the listener is the only one, or else the
// only ingress listener whose port is the URL's (its scheme's default
// when it names none), or else the only ingress listener. CONNECT is not
// explained (a tunnel is dialed before it is answered); the error says
// so, as it does for a URL, header or address that does not parse.
func (rt *Runtime) ExplainRequest(ctx context.Context, req ExplainRequest) (*ExplainReport, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return nil, fmt.Errorf("method %q is not an HTTP method token", method)
	}
	if strings.EqualFold(method, http.MethodConnect) {
		return nil, errors.New("CONNECT is not explained: a tunnel is dialed before it is answered")
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, fmt.Errorf("URL %q: %w", req.URL, err)
	}
	switch {
	case u.IsAbs() && (u.Scheme != "http" && u.Scheme != "https" || u.Host == ""):
		return nil, fmt.Errorf("URL %q: want http:// or https:// with a host, or a path", req.URL)
	case !u.IsAbs() && !strings.HasPrefix(u.Path, "/"):
		return nil, fmt.Errorf("URL %q: want http:// or https:// with a host, or a path starting with /", req.URL)
	case u.User != nil:
		return nil, fmt.Errorf("URL %q: user information is not sent in a request", req.URL)
	}
	u.Fragment, u.RawFragment = "", ""
	l, err := rt.explainListener(req.Listener, u)
	if err != nil {
		return nil, err
	}
	t := &explainTrace{rt: rt, l: l, report: &ExplainReport{Listener: l.name, Address: l.address, Egress: l.egress != nil}}
	r, err := t.newRequest(ctx, method, u, req)
	if err != nil {
		return nil, err
	}
	rt.start(ctx)
	orig := r.Clone(ctx)
	t.preflight = isPreflight(orig)
	if l.egress != nil {
		t.egressRoutes(orig)
	}
	w := newMemWriter()
	l.serveExplain(w, r, t)
	if l.egress != nil {
		t.proxyAuthn(orig)
	}
	t.complete(w)
	return t.report, nil
}

// explainListener picks the listener (see ExplainRequest).
func (rt *Runtime) explainListener(name string, u *url.URL) (*listener, error) {
	if name != "" {
		if l := rt.byName[name]; l != nil {
			return l, nil
		}
		return nil, fmt.Errorf("no listener %q (listeners: %s)", name, strings.Join(rt.Listeners(), ", "))
	}
	if len(rt.listeners) == 1 {
		return rt.listeners[0], nil
	}
	var ingress, byPort []*listener
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	for _, l := range rt.listeners {
		if l.egress != nil {
			continue
		}
		ingress = append(ingress, l)
		if u.IsAbs() && l.port == port {
			byPort = append(byPort, l)
		}
	}
	switch {
	case len(byPort) == 1:
		return byPort[0], nil
	case len(ingress) == 1:
		return ingress[0], nil
	}
	return nil, fmt.Errorf("the request could go to several listeners (%s): name one", strings.Join(rt.Listeners(), ", "))
}

// newRequest builds the request a client would send to t.l, as the
// server would hand it to the pipeline.
func (t *explainTrace) newRequest(ctx context.Context, method string, u *url.URL, req ExplainRequest) (*http.Request, error) {
	h := http.Header{}
	for name, vs := range req.Header {
		if !validToken(name) {
			return nil, fmt.Errorf("header name %q is not valid", name)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return nil, fmt.Errorf("header %s: a value may not hold CR, LF or NUL", name)
			}
		}
		k := http.CanonicalHeaderKey(name)
		h[k] = append(h[k], vs...)
	}
	host := u.Host
	if hh := h["Host"]; len(hh) > 0 {
		if host == "" {
			host = hh[0]
		}
		delete(h, "Host")
	}
	if host == "" {
		host = t.l.address
	}
	r := &http.Request{
		Method:     method,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		Host:       host,
	}
	if u.IsAbs() && t.l.egress != nil {
		r.URL = u // absolute-form: a forward-proxy request
		r.RequestURI = u.String()
	} else {
		r.URL = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery, ForceQuery: u.ForceQuery}
		r.RequestURI = r.URL.RequestURI()
	}
	remote := req.RemoteAddr
	if remote == "" {
		remote = defaultExplainRemote
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		a, aerr := netip.ParseAddr(strings.Trim(remote, "[]"))
		if aerr != nil {
			return nil, fmt.Errorf("remote address %q: want IP or IP:port", remote)
		}
		ap = netip.AddrPortFrom(a, 0)
	}
	r.RemoteAddr = ap.String()
	if u.Scheme == "https" || req.PeerSPIFFE != "" {
		r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, ServerName: hostOnly(host)}
		if t.l.tls == nil {
			t.note("listener %q serves plain HTTP; the request is explained as if it came over TLS", t.l.name)
		}
	}
	if s := req.PeerSPIFFE; s != "" {
		pu, err := url.Parse(s)
		if err != nil || pu.Scheme != "spiffe" || pu.Host == "" {
			return nil, fmt.Errorf("peer SPIFFE ID %q: want spiffe://TRUST-DOMAIN/PATH", s)
		}
		cert := &x509.Certificate{URIs: []*url.URL{pu}}
		r.TLS.PeerCertificates = []*x509.Certificate{cert}
		r.TLS.VerifiedChains = [][]*x509.Certificate{{cert}}
	}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: t.l.port}
	if host, _, err := net.SplitHostPort(t.l.address); err == nil {
		if ip := net.ParseIP(host); ip != nil {
			local.IP = ip
		}
	}
	r = r.WithContext(context.WithValue(ctx, http.LocalAddrContextKey, local))

	rep := t.report
	rep.Request = ExplainedRequest{Method: method, URL: u.String(), RemoteAddr: r.RemoteAddr, PeerSPIFFE: req.PeerSPIFFE, Header: h.Clone()}
	if !u.IsAbs() {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		rep.Request.URL = scheme + "://" + host + u.String()
	}
	t.credentials(h)
	return r, nil
}

// validToken reports whether s is an HTTP token (a method or header
// name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// explanation is the validate description of a route.
func (rt *Runtime) explanation(listener, route string) *RouteExplanation {
	i := slices.IndexFunc(rt.explain, func(e RouteExplanation) bool { return e.Listener == listener && e.Route == route })
	if i < 0 {
		return nil
	}
	return &rt.explain[i]
}
