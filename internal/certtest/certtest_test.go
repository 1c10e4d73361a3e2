package certtest

import (
	"crypto/x509"
	"testing"
)

func TestLeafChainsToCAWithSANs(t *testing.T) {
	ca := NewCA(t)
	_, _, pair := ca.Leaf(t, "svc", []string{"svc.test"}, "spiffe://td/ns/n/sa/s")
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool, DNSName: "svc.test", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("leaf does not chain to the CA: %v", err)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://td/ns/n/sa/s" {
		t.Fatalf("URIs = %v", leaf.URIs)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: NewCA(t).Pool}); err == nil {
		t.Fatal("leaf verifies against another CA")
	}
}
