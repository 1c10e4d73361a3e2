// Package egress holds what the gateway needs to originate connections to
// hosts it does not know in advance: a dialer that refuses destinations in
// private, loopback, link-local and other internal ranges (server-side
// request forgery through the gateway), checked on the address actually
// dialled so that DNS rebinding cannot get around it, and resolution
// overrides in the form of curl's --resolve.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ErrForbidden is wrapped by the error of a dial refused because of the
// destination's address.
var ErrForbidden = errors.New("destination address not allowed")

// Resolver looks up a host's addresses. *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc opens a connection; (*net.Dialer).DialContext is one.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Dialer dials external destinations safely. The zero value is not
// usable; fill Resolver and Dial (nil means net.DefaultResolver and a
// plain net.Dialer).
type Dialer struct {
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
	// Dial connects to the address chosen; nil means a net.Dialer.
	Dial DialFunc
	// Allow lists ranges that are internal but allowed (a private
	// network the gateway must reach, written explicitly in the
	// configuration).
	Allow []netip.Prefix
	// Overrides send a host and port to fixed addresses, like curl's
	// --resolve; an overridden address is allowed by being overridden.
	Overrides Overrides
}

// Overrides maps "host:port" (host lower case) to the addresses to use.
type Overrides map[string][]netip.Addr

// ParseOverride reads curl's --resolve syntax, HOST:PORT:ADDR[,ADDR...],
// with IPv6 addresses in brackets.
func ParseOverride(s string) (key string, addrs []netip.Addr, err error) {
	host, rest, ok := strings.Cut(s, ":")
	port, list, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || host == "" || list == "" {
		return "", nil, fmt.Errorf("resolve %q: want HOST:PORT:ADDR[,ADDR...]", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", nil, fmt.Errorf("resolve %q: invalid port %q", s, port)
	}
	for _, a := range strings.Split(list, ",") {
		ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(a, "["), "]"))
		if err != nil {
			return "", nil, fmt.Errorf("resolve %q: invalid address %q", s, a)
		}
		addrs = append(addrs, ip.Unmap())
	}
	return strings.ToLower(host) + ":" + port, addrs, nil
}

// Internal reports why ip is internal ("loopback", "private",
// "link-local", "unspecified", ...), or "" for a public unicast address.
func Internal(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsPrivate():
		return "private"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, p := range otherInternal {
		if p.Contains(ip) {
			return "reserved"
		}
	}
	return ""
}

// otherInternal are ranges that are neither private nor public: carrier
// grade NAT, benchmarking, documentation, IPv4 "this network", and
// addresses that embed an IPv4 address in IPv6 (NAT64, 6to4) whose target
// would escape the check.
var otherInternal = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001:db8::/32"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// DialContext resolves address's host (or takes its override), refuses
// every address that is internal and not allowed, and dials the first
// remaining address that answers, by IP, so that a second resolution
// (DNS rebinding) cannot change what was checked.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, overridden := d.Overrides[strings.ToLower(host)+":"+port]
	if !overridden {
		if ip, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{ip}
		} else {
			r := d.Resolver
			if r == nil {
				r = net.DefaultResolver
			}
			if addrs, err = r.LookupNetIP(ctx, "ip", host); err != nil {
				return nil, fmt.Errorf("resolving %s: %w", host, err)
			}
		}
	}
	dial := d.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	// The error wraps ErrForbidden only when every address was refused:
	// when one was dialled and failed, the destination is unreachable
	// rather than forbidden.
	var refused, failed []error
	for _, ip := range addrs {
		ip = ip.Unmap()
		if !overridden {
			if why := Internal(ip); why != "" && !d.allowed(ip) {
				refused = append(refused, fmt.Errorf("%s resolves to %s (%s): %w", host, ip, why, ErrForbidden))
				continue
			}
		}
		c, err := dial(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		failed = append(failed, err)
	}
	switch {
	case len(failed) > 0:
		for _, r := range refused {
			failed = append(failed, errors.New(r.Error())) // not ErrForbidden
		}
		return nil, errors.Join(failed...)
	case len(refused) > 0:
		return nil, errors.Join(refused...)
	}
	return nil, fmt.Errorf("%s: no address", host)
}

func (d *Dialer) allowed(ip netip.Addr) bool {
	for _, p := range d.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
