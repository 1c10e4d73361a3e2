// Package certtest mints certificates for tests: a CA and leaves signed by
// it, written to PEM files in the test's temporary directory, so that TLS
// and mutual TLS are tested with real certificates rather than mocks.
package certtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority made for one test.
type CA struct {
	// File is the CA certificate as a PEM file.
	File string
	// Pool holds the CA certificate, for clients and servers that trust it.
	Pool *x509.CertPool

	dir    string
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	serial int64
}

// NewCA makes a P-256 CA valid for an hour either side of now.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c := &CA{Pool: x509.NewCertPool(), dir: t.TempDir(), cert: cert, key: key, serial: 1}
	c.Pool.AddCert(cert)
	c.File = c.write(t, "ca.pem", "CERTIFICATE", der)
	return c
}

func (c *CA) write(t testing.TB, name, typ string, der []byte) string {
	t.Helper()
	f := filepath.Join(c.dir, name)
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// Leaf mints a certificate named cn for the DNS names dns, 127.0.0.1 and
// ::1, with the URI SANs uris (SPIFFE IDs), usable by servers and clients.
// It returns the certificate and key files and the loaded pair.
func (c *CA) Leaf(t testing.TB, cn string, dns []string, uris ...string) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	der, key := c.mint(t, cn, dns, uris, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = c.write(t, cn+".pem", "CERTIFICATE", der)
	keyFile = c.write(t, cn+"-key.pem", "PRIVATE KEY", kder)
	cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// ExpiredLeaf mints a server certificate like Leaf's, for the DNS names
// dns, whose validity ended a minute ago (it began two hours ago), for
// tests of what a TLS client does with an expired certificate.
func (c *CA) ExpiredLeaf(t testing.TB, cn string, dns []string) tls.Certificate {
	t.Helper()
	der, key := c.mint(t, cn, dns, nil, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Minute))
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// mint makes a leaf certificate, valid from notBefore to notAfter, for
// servers and clients, with the DNS names dns, 127.0.0.1 and ::1, and the
// URI SANs uris; it returns its DER and its key.
func (c *CA) mint(t testing.TB, cn string, dns, uris []string, notBefore, notAfter time.Time) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(c.serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     dns,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}
