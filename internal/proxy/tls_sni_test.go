package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/certtest"
	"jwtgate.dev/jwtgate/internal/model"
)

// sniCerts mints one certificate per name, each for that DNS name only
// (and loopback addresses), and returns their files by name.
func sniCerts(t *testing.T, ca *certtest.CA, names ...string) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for _, n := range names {
		cn := strings.ReplaceAll(n, "*", "star")
		c, k, _ := ca.Leaf(t, cn, []string{n})
		out[n] = [2]string{c, k}
	}
	return out
}

// sniClient connects with ServerName sni ("" sends none: the request goes
// to 127.0.0.1), verifies the chain against ca without checking the name
// (the test checks which certificate came), and speaks HTTP/2 when h2.
func sniClient(ca *certtest.CA, sni string, h2 bool) *http.Client {
	verify := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: ca.Pool, Intermediates: inter})
		return err
	}
	tr := &http.Transport{ForceAttemptHTTP2: h2, TLSClientConfig: &tls.Config{
		ServerName: sni, InsecureSkipVerify: true, VerifyConnection: verify,
	}}
	if !h2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	return &http.Client{Transport: tr}
}

// served asks the listener at addr for / with SNI sni and returns the
// first DNS name of the certificate it presented and the HTTP version.
func served(t *testing.T, ca *certtest.CA, addr, sni string, h2 bool) (dnsName string, proto int) {
	t.Helper()
	c := sniClient(ca, sni, h2)
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/", nil)
	if sni != "" {
		req.Host = sni
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("SNI %q: %v", sni, err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("SNI %q: status %d", sni, res.StatusCode)
	}
	if res.TLS == nil || len(res.TLS.PeerCertificates) == 0 || len(res.TLS.PeerCertificates[0].DNSNames) == 0 {
		t.Fatalf("SNI %q: no server certificate with a DNS name", sni)
	}
	return res.TLS.PeerCertificates[0].DNSNames[0], res.ProtoMajor
}

// TestSNICertificates: a listener chooses its certificate by the
// ClientHello's server name: an exact name, else the longest matching
// wildcard, else its default (no SNI, an unknown name), over HTTP/1.1 and
// HTTP/2 alike.
func TestSNICertificates(t *testing.T) {
	ca := certtest.NewCA(t)
	f := sniCerts(t, ca, "default.test", "a.example.com", "b.example.com", "c.example.com", "*.example.com", "*.deep.example.com")
	entry := func(cert string, names ...string) model.ListenerCertificate {
		return model.ListenerCertificate{ServerNames: names, CertFile: f[cert][0], KeyFile: f[cert][1]}
	}
	echo := newEcho(t)
	type want struct{ sni, cert string }
	for _, tt := range []struct {
		name  string
		tls   model.ListenerTLS
		wants []want
	}{
		{name: "two hostnames",
			tls: model.ListenerTLS{CertFile: f["default.test"][0], KeyFile: f["default.test"][1],
				Certificates: []model.ListenerCertificate{entry("a.example.com", "a.example.com"), entry("b.example.com", "b.example.com")}},
			wants: []want{{"a.example.com", "a.example.com"}, {"b.example.com", "b.example.com"}, {"c.example.com", "default.test"},
				{"", "default.test"}, {"unknown.test", "default.test"}, {"B.Example.COM", "b.example.com"}}},
		{name: "three hostnames and wildcards",
			tls: model.ListenerTLS{CertFile: f["default.test"][0], KeyFile: f["default.test"][1],
				Certificates: []model.ListenerCertificate{
					entry("a.example.com", "a.example.com"), entry("b.example.com", "b.example.com"), entry("c.example.com", "c.example.com", "c.example.org"),
					entry("*.example.com", "*.example.com"), entry("*.deep.example.com", "*.deep.example.com"),
				}},
			wants: []want{{"a.example.com", "a.example.com"}, {"b.example.com", "b.example.com"}, {"c.example.com", "c.example.com"},
				{"c.example.org", "c.example.com"}, {"x.example.com", "*.example.com"}, {"x.y.example.com", "*.example.com"},
				{"deep.example.com", "*.example.com"}, {"x.deep.example.com", "*.deep.example.com"}, {"example.com", "default.test"},
				{"", "default.test"}, {"unknown.test", "default.test"}}},
		{name: "certificates[0] is the default",
			tls:   model.ListenerTLS{Certificates: []model.ListenerCertificate{entry("a.example.com", "a.example.com"), entry("*.example.com", "*.example.com")}},
			wants: []want{{"", "a.example.com"}, {"unknown.test", "a.example.com"}, {"x.example.com", "*.example.com"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := oneRoute(echo.URL, model.Route{})
			cfg.Listeners[0].TLS = &tt.tls
			s := startServer(t, build(t, cfg, Options{}), nil)
			addr := s.Addr("web").String()
			for _, w := range tt.wants {
				for _, h2 := range []bool{false, true} {
					got, proto := served(t, ca, addr, w.sni, h2)
					if got != w.cert {
						t.Errorf("SNI %q (h2 %v): certificate for %q, want %q", w.sni, h2, got, w.cert)
					}
					if wantProto := map[bool]int{false: 1, true: 2}[h2]; proto != wantProto {
						t.Errorf("SNI %q: HTTP/%d, want HTTP/%d", w.sni, proto, wantProto)
					}
				}
			}
		})
	}
}

// TestSNIWithMTLS: client certificate settings are the listener's,
// whichever certificate the SNI chooses.
func TestSNIWithMTLS(t *testing.T) {
	ca := certtest.NewCA(t)
	f := sniCerts(t, ca, "default.test", "a.example.com")
	_, _, client := ca.Leaf(t, "client", nil, "spiffe://cluster.local/ns/default/sa/sleep")
	cfg := oneRoute(newEcho(t).URL, model.Route{})
	cfg.Listeners[0].TLS = &model.ListenerTLS{CertFile: f["default.test"][0], KeyFile: f["default.test"][1], ClientCAFile: ca.File,
		Certificates: []model.ListenerCertificate{{ServerNames: []string{"a.example.com"}, CertFile: f["a.example.com"][0], KeyFile: f["a.example.com"][1]}}}
	s := startServer(t, build(t, cfg, Options{}), nil)
	addr := s.Addr("web").String()
	for _, sni := range []string{"a.example.com", "other.test"} {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, ServerName: sni, InsecureSkipVerify: true})
		if err == nil {
			// TLS 1.3: the refusal comes with the first read.
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		if err == nil {
			t.Errorf("SNI %q: a client without a certificate was served", sni)
		}
		c, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, ServerName: "a.example.com", Certificates: []tls.Certificate{client}})
		if err != nil {
			t.Fatalf("with a client certificate: %v", err)
		}
		if got := c.ConnectionState().PeerCertificates[0].DNSNames[0]; got != "a.example.com" {
			t.Errorf("certificate for %q", got)
		}
		c.Close()
	}
}

// TestSNICertificateErrors: every certificate is loaded when the Runtime
// is built; one that does not load is an error on its own field, and an
// inline one is named by its source, never quoted.
func TestSNICertificateErrors(t *testing.T) {
	ca := certtest.NewCA(t)
	f := sniCerts(t, ca, "default.test", "a.example.com")
	certPEM, _ := os.ReadFile(f["a.example.com"][0])
	for _, tt := range []struct {
		name  string
		certs []model.ListenerCertificate
		want  string
		never string
	}{
		{name: "missing file", certs: []model.ListenerCertificate{
			{ServerNames: []string{"a.example.com"}, CertFile: f["a.example.com"][0], KeyFile: f["a.example.com"][1]},
			{ServerNames: []string{"b.example.com"}, CertFile: "/nonexistent/b.pem", KeyFile: "/nonexistent/b-key.pem"},
		}, want: "listeners[0].tls.certificates[1].certFile: loading certificate: open /nonexistent/b.pem"},
		{name: "key of another certificate", certs: []model.ListenerCertificate{
			{ServerNames: []string{"a.example.com"}, CertFile: f["a.example.com"][0], KeyFile: f["default.test"][1]},
		}, want: "listeners[0].tls.certificates[0].certFile: loading certificate: tls: private key does not match public key"},
		{name: "inline", certs: []model.ListenerCertificate{
			{ServerNames: []string{"a.example.com"}, CertPEM: certPEM, KeyPEM: []byte("secret key material"), CertSource: "Secret web/a-tls"},
		}, want: "listeners[0].tls.certificates[0]: loading the certificate of Secret web/a-tls", never: "secret key material"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := oneRoute("http://127.0.0.1:1", model.Route{})
			cfg.Listeners[0].TLS = &model.ListenerTLS{CertFile: f["default.test"][0], KeyFile: f["default.test"][1], Certificates: tt.certs}
			_, issues := Build(cfg, Options{})
			err := issues.Err()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("issues: %v, want %q", err, tt.want)
			}
			if tt.never != "" && strings.Contains(err.Error(), tt.never) {
				t.Errorf("the key appears in %v", err)
			}
		})
	}
}

// TestReloadSNI: a reload adds and changes SNI certificates of a bound
// listener; new handshakes see them.
func TestReloadSNI(t *testing.T) {
	ca := certtest.NewCA(t)
	f := sniCerts(t, ca, "default.test", "a.example.com", "*.example.com")
	cfg := oneRoute(newEcho(t).URL, model.Route{})
	cfg.Listeners[0].TLS = &model.ListenerTLS{CertFile: f["default.test"][0], KeyFile: f["default.test"][1]}
	s := startServer(t, build(t, cfg, Options{}), nil)
	addr := s.Addr("web").String()
	steps := []struct {
		certs []model.ListenerCertificate
		want  string // for a.example.com
	}{
		{nil, "default.test"},
		{[]model.ListenerCertificate{{ServerNames: []string{"*.example.com"}, CertFile: f["*.example.com"][0], KeyFile: f["*.example.com"][1]}}, "*.example.com"},
		{[]model.ListenerCertificate{
			{ServerNames: []string{"a.example.com"}, CertFile: f["a.example.com"][0], KeyFile: f["a.example.com"][1]},
			{ServerNames: []string{"*.example.com"}, CertFile: f["*.example.com"][0], KeyFile: f["*.example.com"][1]},
		}, "a.example.com"},
		{nil, "default.test"},
	}
	for i, st := range steps {
		if i > 0 {
			cfg.Listeners[0].TLS.Certificates = st.certs
			if err := s.Reload(t.Context(), build(t, cfg, Options{})); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := served(t, ca, addr, "a.example.com", true); got != st.want {
			t.Errorf("step %d: certificate for %q, want %q", i, got, st.want)
		}
	}
}

// TestCertChooser checks the choice on names alone, beside a naive
// reference.
func TestCertChooser(t *testing.T) {
	names := [][]string{{"a.example.com", "*.b.example.com"}, {"*.example.com"}, {"*.com", "X.Example.Org"}}
	ch, certs := testChooser(names)
	for sni, want := range map[string]int{
		"a.example.com": 1, "A.EXAMPLE.COM.": 1, "b.example.com": 2, "x.b.example.com": 1, "y.x.b.example.com": 1,
		"example.com": 3, "x.example.com": 2, "x.example.org": 3, "com": 0, "": 0, "localhost": 0, ".": 0, "..": 0, "a..com": 3,
		"\u212a.example.com": 2, "a.example.\u212a": 0, ".com": 0, "..com": 3, "x.example.org.": 3,
	} {
		if got := ch.choose(sni); got != &certs[want] {
			t.Errorf("choose(%q) = certificate %d, want %d", sni, indexOf(certs, got), want)
		}
		if ref := referenceChoice(names, sni); ref != want {
			t.Errorf("reference(%q) = %d, want %d", sni, ref, want)
		}
	}
}

// FuzzCertChooser compares the chooser with a naive reference on any
// server name a client may send.
func FuzzCertChooser(f *testing.F) {
	for _, s := range []string{"a.example.com", "x.b.example.com", "", ".", "a..b.example.com", "EXAMPLE.COM.", "*.example.com"} {
		f.Add(s)
	}
	names := [][]string{{"a.example.com", "*.b.example.com"}, {"*.example.com"}, {"*.com", "x.example.org"}}
	ch, certs := testChooser(names)
	f.Fuzz(func(t *testing.T, sni string) {
		if got, want := indexOf(certs, ch.choose(sni)), referenceChoice(names, sni); got != want {
			t.Errorf("choose(%q) = %d, reference %d", sni, got, want)
		}
	})
}

// testChooser builds a chooser over placeholder certificates: 0 is the
// default, i+1 serves names[i].
func testChooser(names [][]string) (*certChooser, []tls.Certificate) {
	certs := make([]tls.Certificate, len(names)+1)
	ch := &certChooser{def: &certs[0], exact: map[string]*tls.Certificate{}, suffix: map[string]*tls.Certificate{}}
	for i, ns := range names {
		ch.add(ns, &certs[i+1])
	}
	return ch, certs
}

func indexOf(certs []tls.Certificate, c *tls.Certificate) int {
	for i := range certs {
		if &certs[i] == c {
			return i
		}
	}
	return -1
}

// referenceChoice is the documented rule, written plainly: an exact name,
// else the longest "*.SUFFIX" whose ".SUFFIX" ends the name with a label
// before it, else 0.
func referenceChoice(names [][]string, sni string) int {
	name := strings.TrimSuffix(sni, ".")
	for c := 'A'; c <= 'Z'; c++ {
		name = strings.ReplaceAll(name, string(c), string(c+'a'-'A'))
	}
	best, bestLen := 0, -1
	for i, ns := range names {
		for _, n := range ns {
			n = strings.ToLower(n) // the names here are ASCII
			if n == name {
				return i + 1
			}
			// s is ".SUFFIX"; something must come before it.
			if s, ok := strings.CutPrefix(n, "*"); ok && strings.HasSuffix(name, s) && len(name) > len(s) && len(s) > bestLen {
				best, bestLen = i+1, len(s)
			}
		}
	}
	return best
}
