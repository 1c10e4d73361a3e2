package model

import (
	"slices"
	"strings"
	"testing"
)

// TestListenerTLSChecks: SNI certificates need a certificate, a key and
// server names; each name is well formed and chooses one certificate; the
// default may be left to certificates[0].
func TestListenerTLSChecks(t *testing.T) {
	cert := func(names ...string) ListenerCertificate {
		return ListenerCertificate{ServerNames: names, CertFile: "c.pem", KeyFile: "k.pem"}
	}
	for _, tt := range []struct {
		name string
		tls  ListenerTLS
		want []string // issue texts after "listeners[0]."; none means valid
	}{
		{name: "default only", tls: ListenerTLS{CertFile: "d.pem", KeyFile: "dk.pem"}},
		{name: "default and two names", tls: ListenerTLS{CertFile: "d.pem", KeyFile: "dk.pem",
			Certificates: []ListenerCertificate{cert("a.example.com", "*.example.com"), cert("b.example.com", "*.b.example.com", "API.Example.org")}}},
		{name: "certificates[0] is the default", tls: ListenerTLS{Certificates: []ListenerCertificate{cert("a.example.com")}}},
		{name: "inline", tls: ListenerTLS{CertPEM: []byte("c"), KeyPEM: []byte("k"),
			Certificates: []ListenerCertificate{{ServerNames: []string{"a.example.com"}, CertPEM: []byte("c"), KeyPEM: []byte("k")}}}},
		{name: "nothing", tls: ListenerTLS{}, want: []string{"tls.certFile: required", "tls.keyFile: required"}},
		{name: "default without key", tls: ListenerTLS{CertFile: "d.pem", Certificates: []ListenerCertificate{cert("a.example.com")}},
			want: []string{"tls.keyFile: required"}},
		{name: "entry without files or names", tls: ListenerTLS{Certificates: []ListenerCertificate{{CertFile: "c.pem"}}},
			want: []string{"tls.certificates[0].keyFile: required", "tls.certificates[0].serverNames: required"}},
		{name: "overlap", tls: ListenerTLS{Certificates: []ListenerCertificate{cert("a.example.com", "*.example.com"), cert("b.example.com", "A.example.com")}},
			want: []string{`tls.certificates[1].serverNames[1]: server name "A.example.com" is served by tls.certificates[0] already`}},
		{name: "twice", tls: ListenerTLS{Certificates: []ListenerCertificate{cert("*.example.com", "*.example.com")}},
			want: []string{`tls.certificates[0].serverNames[1]: server name "*.example.com" is listed twice`}},
		{name: "bad names", tls: ListenerTLS{Certificates: []ListenerCertificate{cert("*", "a.*.com", "*a.example.com", "*.*.com", "a..b", "10.0.0.1", "a.example.com.", "", "a b", "*.")}},
			want: []string{
				`serverNames[0]: invalid server name "*": a wildcard must be the whole leftmost label`,
				`serverNames[1]: invalid server name "a.*.com": a wildcard`,
				`serverNames[2]: invalid server name "*a.example.com": a wildcard`,
				`serverNames[3]: invalid server name "*.*.com": a wildcard`,
				`serverNames[4]: invalid server name "a..b": empty label`,
				`serverNames[5]: invalid server name "10.0.0.1": an IP address`,
				`serverNames[6]: invalid server name "a.example.com.": clients send server names without a trailing dot`,
				`serverNames[7]: invalid server name "": empty`,
				`serverNames[8]: invalid server name "a b": want letters`,
				`serverNames[9]: invalid server name "*.": clients send server names without a trailing dot`,
			}},
		{name: "long label", tls: ListenerTLS{Certificates: []ListenerCertificate{cert(strings.Repeat("a", 64) + ".com")}},
			want: []string{"a label is longer than 63 characters"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tls := tt.tls
			c.Listeners[0].TLS = &tls
			is := c.Validate()
			if len(is) != len(tt.want) {
				t.Fatalf("got %d issues, want %d:\n%s", len(is), len(tt.want), texts(is))
			}
			for i, w := range tt.want {
				if got := is[i].Error(); !strings.Contains(got, w) || !strings.HasPrefix(got, "a.yaml:4: listeners[0].tls") {
					t.Errorf("issue %d = %s, want it to contain %q", i, got, w)
				}
			}
		})
	}
}

// TestReferencedFilesSNI: the files of SNI certificates are watched like
// the default's.
func TestReferencedFilesSNI(t *testing.T) {
	c := validConfig()
	c.Listeners[0].TLS = &ListenerTLS{CertFile: "d.pem", KeyFile: "dk.pem",
		Certificates: []ListenerCertificate{{ServerNames: []string{"a.example.com"}, CertFile: "a.pem", KeyFile: "ak.pem"}}}
	got := c.ReferencedFiles()
	for _, f := range []string{"d.pem", "dk.pem", "a.pem", "ak.pem"} {
		if !slices.Contains(got, f) {
			t.Errorf("%s not in %v", f, got)
		}
	}
}
