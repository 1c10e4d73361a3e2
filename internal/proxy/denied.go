package proxy

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"jwtgate.dev/jwtgate/internal/authn"
)

// DefaultDeniedCapacity is how many denied requests a DeniedLog keeps
// unless told otherwise: the admin console's "last 200".
const DefaultDeniedCapacity = 200

// DeniedRequest is one request the gateway refused itself (a 4xx it
// wrote, not its upstream's), as the admin console shows it. It never
// holds a token, a header value or the query string, and holds the
// verified token's iss and sub only when the DeniedLog was made to keep
// them.
type DeniedRequest struct {
	Time     time.Time
	Listener string
	// Route is empty when no route matched.
	Route  string
	Method string
	Host   string
	// Path is the request's path without the query (normalized once the
	// pipeline got that far), with anything shaped like a JWT replaced by
	// RedactedToken.
	Path   string
	Status int
	// Authn is the authentication outcome: none, missing, invalid or
	// verified.
	Authn string
	// Reason is what the gateway answered and why (the access log's
	// reason); Detail is authentication's longer, log-only reason.
	Reason string
	Detail string
	// Policy and Rule are the authorization policy and rule that
	// decided, when one did.
	Policy string
	Rule   string
	// Issuer and Subject are the verified token's iss and sub; empty
	// unless the log keeps claims.
	Issuer  string
	Subject string
}

// RedactedToken replaces a JWT-shaped part of a denied request's path.
const RedactedToken = "[token]"

// DeniedLog keeps the last denied requests in a fixed ring: memory is
// bounded by its capacity whatever the traffic. It is safe for concurrent
// use; one log is shared by every Runtime a gateway builds, so that it
// carries over reloads.
type DeniedLog struct {
	claims bool

	mu    sync.Mutex
	ring  []DeniedRequest
	next  int    // where the next entry goes
	total uint64 // entries ever added
}

// NewDeniedLog returns a log of the last capacity denied requests (at
// least 1; DefaultDeniedCapacity when capacity is 0 or less). withClaims
// keeps the iss and sub of a verified token; off, no claim value is kept.
func NewDeniedLog(capacity int, withClaims bool) *DeniedLog {
	if capacity <= 0 {
		capacity = DefaultDeniedCapacity
	}
	return &DeniedLog{claims: withClaims, ring: make([]DeniedRequest, 0, capacity)}
}

// Claims reports whether the log keeps the iss and sub of verified tokens.
func (d *DeniedLog) Claims() bool { return d.claims }

// Capacity is how many requests the log keeps.
func (d *DeniedLog) Capacity() int { return cap(d.ring) }

// Recent returns the requests kept, newest first, and how many were ever
// added (more than len when older ones were dropped).
func (d *DeniedLog) Recent() ([]DeniedRequest, uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]DeniedRequest, 0, len(d.ring))
	for i := 1; i <= len(d.ring); i++ {
		out = append(out, d.ring[(d.next-i+len(d.ring))%len(d.ring)])
	}
	return out, d.total
}

// Add records one denied request, dropping the oldest when full. Its
// Issuer and Subject are dropped unless the log keeps claims.
func (d *DeniedLog) Add(e DeniedRequest) {
	if !d.claims {
		e.Issuer, e.Subject = "", ""
	}
	d.mu.Lock()
	if len(d.ring) < cap(d.ring) {
		d.ring = append(d.ring, e)
	} else {
		d.ring[d.next] = e
	}
	d.next = (d.next + 1) % cap(d.ring)
	d.total++
	d.mu.Unlock()
}

// isDenial reports whether a request answered with status by the
// gateway itself (upstreamAnswered false) is a denial: every 4xx but 499,
// the client going away.
func isDenial(status int, upstreamAnswered bool) bool {
	return !upstreamAnswered && status >= 400 && status < 500 && status != statusClientClosed
}

// noteDenied adds the finished request to the Runtime's DeniedLog when
// the gateway refused it. It runs in finish, for every request: it
// returns at once for the others.
func (l *listener) noteDenied(x *exchange, r *http.Request, status int) {
	d := l.rt.denied
	if d == nil || !isDenial(status, x.upstreamDur >= 0) {
		return
	}
	e := DeniedRequest{
		Time:     time.Now(),
		Listener: l.name,
		Route:    x.routeName(),
		Method:   r.Method,
		Host:     r.Host,
		Path:     redactTokens(x.path),
		Status:   status,
		Authn:    x.authn,
		Reason:   x.reason,
		Detail:   x.detail,
		Policy:   x.policy,
		Rule:     x.rule,
	}
	if e.Reason == "" && status == http.StatusForbidden && x.policy != "" {
		e.Reason = bodyDenied
	}
	if d.claims && x.res.Outcome == authn.Verified && len(x.res.Identities) > 0 {
		e.Issuer, e.Subject = x.res.Identities[0].Issuer, x.res.Identities[0].Subject
	}
	d.Add(e)
}

// redactTokens replaces every JWT-shaped run of p with RedactedToken: a
// run of base64url bytes and dots with at least two dots and "eyJ" in it
// (how a JSON header starts once encoded). A path without one is returned
// as it is, without allocating.
func redactTokens(p string) string {
	if !strings.Contains(p, "eyJ") {
		return p
	}
	var b strings.Builder
	last := 0
	for start := 0; start < len(p); {
		if !isTokenByte(p[start]) {
			start++
			continue
		}
		end, dots := start, 0
		for end < len(p) && isTokenByte(p[end]) {
			if p[end] == '.' {
				dots++
			}
			end++
		}
		if dots >= 2 && strings.Contains(p[start:end], "eyJ") {
			b.WriteString(p[last:start])
			b.WriteString(RedactedToken)
			last = end
		}
		start = end
	}
	if last == 0 {
		return p
	}
	b.WriteString(p[last:])
	return b.String()
}

// isTokenByte reports whether c may appear in a compact JWS or JWE:
// base64url and the dots between segments.
func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}
