package gatewayapi

import (
	"cmp"
	"net/netip"
	"regexp"
	"strings"
)

var (
	// hostnameRE is the API's Hostname: an RFC 1123 name in lower case,
	// optionally with a wildcard first label "*.".
	hostnameRE = regexp.MustCompile(`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// labelRE is an RFC 1123 label in lower case (a namespace).
	labelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// checkHostname says what is wrong with the hostname h, or returns "".
func checkHostname(h string) string {
	switch {
	case len(h) > 253:
		return "longer than 253 characters"
	case !hostnameRE.MatchString(h):
		return "want a lower-case host name (RFC 1123), optionally with a wildcard first label \"*.\""
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return "IP addresses are not allowed"
	}
	return ""
}

// isWildcard reports whether h is a wildcard hostname, "*.suffix".
func isWildcard(h string) bool { return strings.HasPrefix(h, "*.") }

// wildcardCovers reports whether the wildcard w ("*.s") matches every
// host the hostname h matches: h is an exact name with at least one
// label before ".s", or a wildcard "*.t" where t is s or ends in ".s".
// ("*.example.com" matches "a.example.com" and "a.b.example.com", not
// "example.com".)
func wildcardCovers(w, h string) bool {
	s := w[1:] // ".s"
	if isWildcard(h) {
		t := h[1:]
		return t == s || strings.HasSuffix(t, s)
	}
	return len(h) > len(s) && strings.HasSuffix(h, s)
}

// intersect returns the hostname of the requests that both a listener's
// hostname l and a route's hostname r accept ("" for each means any
// host), and false when there are none: the narrower of the two, when
// one covers the other.
func intersect(l, r string) (string, bool) {
	switch {
	case l == "":
		return r, true
	case r == "" || l == r:
		return l, true
	case isWildcard(l) && wildcardCovers(l, r):
		return r, true
	case isWildcard(r) && wildcardCovers(r, l):
		return l, true
	}
	return "", false
}

// hostRank orders hostnames by the API's precedence among routes: a
// matching exact name before any wildcard, a longer wildcard before a
// shorter one, and no hostname last. Exact names of different lengths
// rank alike: they never match the same request.
type hostRank struct{ class, length int }

func rankHost(h string) hostRank {
	switch {
	case h == "":
		return hostRank{}
	case isWildcard(h):
		return hostRank{class: 1, length: len(h)}
	}
	return hostRank{class: 2}
}

// compare orders ranks from the most specific: negative when a comes
// first.
func (a hostRank) compare(b hostRank) int {
	if c := cmp.Compare(b.class, a.class); c != 0 {
		return c
	}
	return cmp.Compare(b.length, a.length)
}

// compareListenerHosts orders listener hostnames from the most specific,
// as the API matches requests to listeners: exact names (alike: they
// never accept the same request), then wildcards with more labels after
// the "*" (then longer), then no hostname.
func compareListenerHosts(a, b string) int {
	ra, rb := rankHost(a), rankHost(b)
	if c := cmp.Compare(rb.class, ra.class); c != 0 || ra.class != 1 {
		return c
	}
	if c := cmp.Compare(strings.Count(b, "."), strings.Count(a, ".")); c != 0 {
		return c
	}
	return cmp.Compare(len(b), len(a))
}
