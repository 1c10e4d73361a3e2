package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// seam resolves from a script and records what the dialer asks for. It
// connects only to loopback addresses: a test never sends a packet
// anywhere else.
type seam struct {
	mu       sync.Mutex
	answers  [][]netip.Addr // one per lookup, in turn
	lookups  int
	dialed   []string
	loopback bool // really connect to loopback addresses
}

func (s *seam) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups++
	if s.lookups > len(s.answers) {
		return nil, errors.New("no such host " + host)
	}
	return s.answers[s.lookups-1], nil
}

var errNotLoopback = errors.New("seam: refusing to connect outside loopback")

func (s *seam) dial(ctx context.Context, network, address string) (net.Conn, error) {
	s.mu.Lock()
	s.dialed = append(s.dialed, address)
	s.mu.Unlock()
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().IsLoopback() || !s.loopback {
		return nil, errNotLoopback
	}
	return (&net.Dialer{}).DialContext(ctx, network, address)
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestDialRefusesInternalAddresses(t *testing.T) {
	tests := []struct {
		name    string
		target  string
		answer  []netip.Addr
		allow   []netip.Prefix
		refused bool   // ErrForbidden, and nothing dialled
		dialed  string // the one address handed to the dial seam
	}{
		{"name resolving to loopback", "api.example.com:443", addrs("127.0.0.1"), nil, true, ""},
		{"cloud metadata", "metadata.example.com:80", addrs("169.254.169.254"), nil, true, ""},
		{"private", "intranet.example.com:443", addrs("10.0.0.1"), nil, true, ""},
		{"unspecified", "zero.example.com:443", addrs("0.0.0.0"), nil, true, ""},
		{"IPv4-mapped loopback", "mapped.example.com:443", addrs("::ffff:127.0.0.1"), nil, true, ""},
		{"NAT64 to loopback", "nat64.example.com:443", addrs("64:ff9b::7f00:1"), nil, true, ""},
		{"IPv6 unique local", "ula.example.com:443", addrs("fd00::1"), nil, true, ""},
		{"literal private address", "10.1.2.3:443", nil, nil, true, ""},
		{"public address is dialled by IP", "api.example.com:443", addrs("93.184.216.34"), nil, false, "93.184.216.34:443"},
		{"internal ones skipped, public dialled", "mixed.example.com:443", addrs("127.0.0.1", "93.184.216.34"), nil, false, "93.184.216.34:443"},
		{"allowed private range", "intranet.example.com:443", addrs("10.0.0.1"), []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, false, "10.0.0.1:443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &seam{answers: [][]netip.Addr{tt.answer}}
			d := &Dialer{Resolver: s, Dial: s.dial, Allow: tt.allow}
			_, err := d.DialContext(context.Background(), "tcp", tt.target)
			if tt.refused {
				if !errors.Is(err, ErrForbidden) {
					t.Fatalf("error %v, want ErrForbidden", err)
				}
				if len(s.dialed) != 0 {
					t.Fatalf("dialled %v before refusing", s.dialed)
				}
				return
			}
			if len(s.dialed) != 1 || s.dialed[0] != tt.dialed {
				t.Fatalf("dialled %v, want [%s]", s.dialed, tt.dialed)
			}
		})
	}
}

// TestDialRefusedAndUnreachable: an answer with an internal address and a
// public one that does not answer is unreachable (not ErrForbidden: the
// destination was tried); the refused address is still named.
func TestDialRefusedAndUnreachable(t *testing.T) {
	s := &seam{answers: [][]netip.Addr{addrs("127.0.0.1", "93.184.216.34")}}
	d := &Dialer{Resolver: s, Dial: s.dial}
	_, err := d.DialContext(context.Background(), "tcp", "mixed.example.com:443")
	if err == nil || errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "127.0.0.1 (loopback)") {
		t.Fatalf("error %v", err)
	}
	if len(s.dialed) != 1 || s.dialed[0] != "93.184.216.34:443" {
		t.Fatalf("dialled %v", s.dialed)
	}
}

// TestDialRebinding: the host is resolved once and the checked address is
// the one dialled, so a resolver whose second answer is loopback never
// gets the gateway to connect there.
func TestDialRebinding(t *testing.T) {
	s := &seam{answers: [][]netip.Addr{addrs("93.184.216.34"), addrs("127.0.0.1")}}
	d := &Dialer{Resolver: s, Dial: s.dial}
	_, _ = d.DialContext(context.Background(), "tcp", "rebind.example.com:443")
	if s.lookups != 1 || len(s.dialed) != 1 || s.dialed[0] != "93.184.216.34:443" {
		t.Fatalf("lookups %d, dialled %v", s.lookups, s.dialed)
	}
	// A rebinding resolver answering loopback first is refused.
	s = &seam{answers: [][]netip.Addr{addrs("127.0.0.1"), addrs("93.184.216.34")}}
	d = &Dialer{Resolver: s, Dial: s.dial}
	if _, err := d.DialContext(context.Background(), "tcp", "rebind.example.com:443"); !errors.Is(err, ErrForbidden) || len(s.dialed) != 0 {
		t.Fatalf("error %v, dialled %v", err, s.dialed)
	}
}

// TestDialOverride: an override sends a host name to a chosen address
// (here a local TLS server) without resolving it; TLS still verifies the
// host name.
func TestDialOverride(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello " + r.Host)) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	key, list, err := ParseOverride("Example.COM:" + strconv.Itoa(port) + ":127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	s := &seam{loopback: true}
	d := &Dialer{Resolver: s, Dial: s.dial, Overrides: Overrides{key: list}}
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	res, err := (&http.Client{Transport: tr}).Get("https://example.com:" + strconv.Itoa(port) + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || s.lookups != 0 || len(s.dialed) != 1 || !strings.HasPrefix(s.dialed[0], "127.0.0.1:") {
		t.Fatalf("status %d, lookups %d, dialled %v", res.StatusCode, s.lookups, s.dialed)
	}
	// The same host on another port is not overridden: it is resolved.
	if _, err := d.DialContext(context.Background(), "tcp", "example.com:1"); err == nil || s.lookups != 1 {
		t.Fatalf("error %v, lookups %d", err, s.lookups)
	}
}

func TestParseOverride(t *testing.T) {
	tests := []struct {
		in, key string
		addrs   []netip.Addr
		err     bool
	}{
		{"httpbin.org:443:127.0.0.1", "httpbin.org:443", addrs("127.0.0.1"), false},
		{"API.example.com:8443:127.0.0.2,[::1]", "api.example.com:8443", addrs("127.0.0.2", "::1"), false},
		{"httpbin.org:443", "", nil, true},
		{"httpbin.org:0:127.0.0.1", "", nil, true},
		{"httpbin.org:443:localhost", "", nil, true},
		{":443:127.0.0.1", "", nil, true},
	}
	for _, tt := range tests {
		key, got, err := ParseOverride(tt.in)
		if (err != nil) != tt.err || key != tt.key || len(got) != len(tt.addrs) {
			t.Errorf("%q -> %q %v %v", tt.in, key, got, err)
			continue
		}
		for i := range got {
			if got[i] != tt.addrs[i] {
				t.Errorf("%q -> %v", tt.in, got)
			}
		}
	}
}

// FuzzParseOverride: any text is refused, or read as a non-empty key with
// at least one address.
func FuzzParseOverride(f *testing.F) {
	f.Add("httpbin.org:443:127.0.0.1")
	f.Add("a:1:[::1],10.0.0.1")
	f.Fuzz(func(t *testing.T, s string) {
		key, list, err := ParseOverride(s)
		if err == nil && (key == "" || len(list) == 0) {
			t.Fatalf("%q accepted as %q %v", s, key, list)
		}
	})
}
