package model

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/egress"
)

// egressListener checks a listener's egress settings.
func (v *validator) egressListener(a at, e *ListenerEgress) {
	for i, p := range e.ConnectPorts {
		if p < 1 || p > 65535 {
			a.errorf(index("egress.connectPorts", i), "invalid port %d", p)
		} else if slices.Index(e.ConnectPorts, p) < i {
			a.errorf(index("egress.connectPorts", i), "port %d listed twice", p)
		}
	}
	if e.ProxyJWT != nil {
		v.requirement(a, "egress.proxyJwt", *e.ProxyJWT)
		egressPhase(a, "egress.proxyJwt", *e.ProxyJWT)
	}
	for i, r := range e.Resolve {
		if _, _, err := egress.ParseOverride(r); err != nil {
			a.errorf(index("egress.resolve", i), "%v", err)
		}
	}
	for i, c := range e.AllowCIDRs {
		if _, err := ParseCIDR(c); err != nil {
			a.errorf(index("egress.allowCIDRs", i), "invalid CIDR %q (want an address or address/bits)", c)
		}
	}
}

// ParseCIDR reads an address block "10.0.0.0/8", or one address.
func ParseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	return p.Masked(), err
}

// reservedInjections are headers a credential may not be injected into:
// they carry the request's framing, routing or hop-by-hop data.
var reservedInjections = []string{
	"Connection", "Content-Length", "Content-Type", "Host", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func (v *validator) egress() {
	listeners := map[string]Listener{}
	for _, l := range v.c.Listeners {
		listeners[l.Name] = l
	}
	var seen names
	seen.kind = "egress server"
	hosts := map[string]EgressServer{} // listener + "\x00" + host
	for _, s := range v.c.Egress.Servers {
		a := v.at("egress server", s.Name, s.Origin)
		seen.check(a, s.Name, s.Origin)
		ln := v.c.EgressListener(s)
		switch l, ok := listeners[s.Listener]; {
		case s.Listener == "" && ln == "":
			a.errorf("listener", "required: there is not exactly one egress listener (a listener with egress settings)")
		case s.Listener != "" && !ok:
			a.errorf("listener", "unknown listener %q", s.Listener)
		case s.Listener != "" && !l.IsEgress():
			a.errorf("listener", "listener %q is not an egress listener (give it egress settings)", s.Listener)
		}
		if msg := badEgressHost(s.Host); msg != "" {
			a.errorf("host", "%s", msg)
		} else if ln != "" {
			k := ln + "\x00" + strings.ToLower(s.Host)
			if f, dup := hosts[k]; dup {
				a.errorf("host", "host %q is served by egress server %q (%s) already", s.Host, f.Name, where(f.Origin))
			} else {
				hosts[k] = s
			}
		}
		if s.Destination != "" {
			if msg := badEgressHost(s.Destination); msg != "" || s.Destination == AnyHost {
				a.errorf("destination", "invalid destination %q: give an exact host name", s.Destination)
			}
		}
		if s.Port < 0 || s.Port > 65535 {
			a.errorf("port", "invalid port %d", s.Port)
		}
		if t := s.TLS; t != nil {
			switch t.Mode {
			case OriginateSimple:
				if t.CertFile != "" || t.KeyFile != "" {
					a.errorf("tls.certFile", "a client certificate needs mode MUTUAL")
				}
			case OriginateMutual:
				if t.CertFile == "" {
					a.errorf("tls.certFile", "required with mode MUTUAL")
				}
				if t.KeyFile == "" {
					a.errorf("tls.keyFile", "required with mode MUTUAL")
				}
			case "":
				a.errorf("tls.mode", "required (SIMPLE or MUTUAL)")
			default:
				a.errorf("tls.mode", "invalid mode %q (want SIMPLE or MUTUAL)", t.Mode)
			}
		}
		if s.JWT != nil {
			v.requirement(a, "jwt", *s.JWT)
			egressPhase(a, "jwt", *s.JWT)
		}
		if s.Authorization != nil {
			for _, is := range CheckPolicy(Policy{Name: s.Name, Action: ActionAllow, Rules: s.Authorization.Rules, Origin: s.Origin}, v.cel) {
				is.Field, is.Resource = field("authorization", is.Field), a.resource
				v.issues = append(v.issues, is)
			}
		}
		for i, in := range s.Inject {
			f := index("inject", i)
			switch {
			case in.Header == "":
				a.errorf(field(f, "header"), "required")
			case !validToken(in.Header):
				a.errorf(field(f, "header"), "invalid header name %q", in.Header)
			case slices.Contains(reservedInjections, http.CanonicalHeaderKey(in.Header)):
				a.errorf(field(f, "header"), "header %q cannot be injected", in.Header)
			case slices.IndexFunc(s.Inject[:i], func(o CredentialInjection) bool { return strings.EqualFold(o.Header, in.Header) }) >= 0:
				a.errorf(field(f, "header"), "header %q injected twice", in.Header)
			}
			if in.File == "" {
				a.errorf(field(f, "file"), "required")
			}
			if strings.ContainsAny(in.Prefix, "\r\n\x00") {
				a.errorf(field(f, "prefix"), "must not hold line breaks or NUL")
			}
		}
		nonNegative(a, "timeout", s.Timeout)
	}
	v.egressAuthorizations(listeners)
	v.egressPrecedence()
}

// egressPhase refuses a requirement that asks to authenticate after
// authorization: on egress, authentication always comes first.
func egressPhase(a at, f string, r JWTRequirement) {
	if r.Phase == PhasePostAuthz {
		a.errorf(field(f, "phase"), "postAuthz does not apply to egress: tokens are checked before the rules")
	}
}

// badEgressHost says what is wrong with an egress host, or returns "".
func badEgressHost(h string) string {
	switch {
	case h == "":
		return "required"
	case h == AnyHost:
		return ""
	case strings.Contains(h, "*"):
		return "invalid host " + quote(h) + ": give an exact host name, or * for any external host"
	case strings.ContainsAny(h, " /\\\t[]@?#:%"):
		return "invalid host " + quote(h) + ": give a host name without scheme, port or path"
	}
	return ""
}

func (v *validator) egressAuthorizations(listeners map[string]Listener) {
	var seen names
	seen.kind = "egress authorization"
	hasEgress := slices.ContainsFunc(v.c.Listeners, Listener.IsEgress)
	for _, ea := range v.c.Egress.Authorizations {
		a := v.at("egress authorization", ea.Name, ea.Origin)
		seen.check(a, ea.Name, ea.Origin)
		for i, ln := range ea.Listeners {
			if l, ok := listeners[ln]; !ok {
				a.errorf(index("listeners", i), "unknown listener %q", ln)
			} else if !l.IsEgress() {
				a.errorf(index("listeners", i), "listener %q is not an egress listener", ln)
			}
		}
		if !hasEgress {
			a.warnf("", "there is no egress listener: these rules apply to nothing")
		}
		for _, is := range CheckPolicy(Policy{Name: ea.Name, Action: ActionAllow, Rules: ea.Rules, Origin: ea.Origin}, v.cel) {
			is.Resource = a.resource
			v.issues = append(v.issues, is)
		}
		for i, r := range ea.Rules {
			f := index("rules", i)
			if len(r.To) == 0 {
				a.errorf(field(f, "to"), "required: a rule names the hosts it allows (* for any)")
			}
			for j, t := range r.To {
				tf := index(field(f, "to"), j)
				// A host once per entry: entries may name one host with
				// different methods or paths.
				seen := map[string]bool{}
				if len(t.Hosts) == 0 {
					a.errorf(field(tf, "hosts"), "required: at least one host (* for any external host)")
				}
				for k, h := range t.Hosts {
					hf := index(field(tf, "hosts"), k)
					if msg := badEgressHost(h); msg != "" {
						a.errorf(hf, "%s", msg)
					} else if lh := strings.ToLower(h); seen[lh] {
						a.errorf(hf, "host %q listed twice", h)
					} else {
						seen[lh] = true
					}
				}
			}
		}
	}
}

// egressPrecedence reports, as warnings, what the precedence of egress
// rules does that a reader of one resource would not see.
func (v *validator) egressPrecedence() {
	servers := map[string]EgressServer{}
	for _, s := range v.c.Egress.Servers {
		servers[s.Name] = s
	}
	for _, p := range v.c.EgressPlans() {
		s := servers[p.Server]
		switch p.DecidedBy {
		case DecidedByServer:
			for _, name := range p.Overridden {
				for _, ea := range v.c.Egress.Authorizations {
					if ea.Name == name {
						v.at("egress authorization", ea.Name, ea.Origin).warnf(hostField(ea.Rules, p.Host),
							"does not apply to host %q: the server-level rules of egress server %q decide for it", p.Host, p.Server)
					}
				}
			}
		case DecidedDenyAll:
			v.at("egress server", s.Name, s.Origin).warnf("host",
				"no rule allows anything through this wildcard server: add gateway-wide egress rules or server-level rules")
		case DecidedByGateway:
			if s.Host != AnyHost && !gatewayNames(p.Policies, s.Host) {
				v.at("egress server", s.Name, s.Origin).warnf("host",
					"no gateway-wide egress rule names host %q or *: every request to it is denied", s.Host)
			}
		}
	}
}

// hostField is the field path of the first place rules name host
// exactly ("rules[1].to[0].hosts[2]"), or "".
func hostField(rules []Rule, host string) string {
	for i, r := range rules {
		for j, t := range r.To {
			for k, h := range t.Hosts {
				if strings.EqualFold(h, host) {
					return index(field(index(field(index("rules", i), "to"), j), "hosts"), k)
				}
			}
		}
	}
	return ""
}

// gatewayNames reports whether a rule of pols names host or "*".
func gatewayNames(pols []Policy, host string) bool {
	for _, p := range pols {
		if namesHost(p.Rules, host) || namesHost(p.Rules, AnyHost) {
			return true
		}
	}
	return false
}

func quote(s string) string { return `"` + s + `"` }
