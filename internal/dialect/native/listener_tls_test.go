package native

import (
	"reflect"
	"strings"
	"testing"

	"jwtgate.dev/jwtgate/internal/model"
)

const sniDoc = `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:8443
    tls:
      certFile: certs/default.pem
      keyFile: certs/default-key.pem
      certificates:
        - serverNames: [api.example.com, "*.api.example.com"]
          certFile: certs/api.pem
          keyFile: /abs/api-key.pem
        - serverNames: ["*.example.com"]
          certFile: certs/wild.pem
          keyFile: certs/wild-key.pem
`

// TestListenerCertificates: tls.certificates is read into the model with
// its files resolved against the document's folder, and the model's
// checks land on the lines of the keys they are about.
func TestListenerCertificates(t *testing.T) {
	r := decode(t, "conf/gw.yaml", sniDoc)
	if err := r.Issues.Err(); err != nil {
		t.Fatal(err)
	}
	want := []model.ListenerCertificate{
		{ServerNames: []string{"api.example.com", "*.api.example.com"}, CertFile: "conf/certs/api.pem", KeyFile: "/abs/api-key.pem"},
		{ServerNames: []string{"*.example.com"}, CertFile: "conf/certs/wild.pem", KeyFile: "conf/certs/wild-key.pem"},
	}
	tls := r.Config.Listeners[0].TLS
	if tls.CertFile != "conf/certs/default.pem" || !reflect.DeepEqual(tls.Certificates, want) {
		t.Errorf("tls = %+v", *tls)
	}
	if is := r.Config.Validate(); len(is) != 0 {
		t.Fatal(is)
	}

	for _, tt := range []struct {
		name, from, to string
		want           []string
	}{
		{"overlap", `serverNames: ["*.example.com"]`, `serverNames: [x.example.com, API.example.com]`,
			[]string{`conf/gw.yaml:13: listeners[0].tls.certificates[1].serverNames[1]: server name "API.example.com" is served by tls.certificates[0] already`}},
		{"bad wildcard", `serverNames: ["*.example.com"]`, `serverNames: ["*example.com"]`,
			[]string{`conf/gw.yaml:13: listeners[0].tls.certificates[1].serverNames[0]: invalid server name "*example.com": a wildcard`}},
		{"missing key", "          keyFile: certs/wild-key.pem\n", "",
			[]string{`conf/gw.yaml:13: listeners[0].tls.certificates[1].keyFile: required`}},
		{"no names", `serverNames: ["*.example.com"]`, `serverNames: []`,
			[]string{`conf/gw.yaml:13: listeners[0].tls.certificates[1].serverNames: required`}},
		{"certificates[0] as the default", "      certFile: certs/default.pem\n      keyFile: certs/default-key.pem\n", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := decode(t, "conf/gw.yaml", strings.Replace(sniDoc, tt.from, tt.to, 1))
			is := append(r.Issues, r.Config.Validate()...)
			if len(is) != len(tt.want) {
				t.Fatalf("issues:\n%v\nwant %v", is, tt.want)
			}
			for i, w := range tt.want {
				placed, _ := is[i].Located()
				if !strings.HasPrefix(placed.Error(), w) {
					t.Errorf("issue %s\nwant %s", placed.Error(), w)
				}
			}
		})
	}

	r = decode(t, "gw.yaml", strings.Replace(sniDoc, "          certFile: certs/wild.pem\n", "          certFile: certs/wild.pem\n          caFile: x\n", 1))
	if err := r.Issues.Err(); err == nil || !strings.Contains(err.Error(), "caFile") {
		t.Errorf("an unknown key: %v", err)
	}
}

// TestEncodeListenerCertificates: convert writes SNI certificates back
// as tls.certificates, which read back to the same model; one held inline
// (from a Secret) is refused at its entry.
func TestEncodeListenerCertificates(t *testing.T) {
	o := vendor("Gateway", "gw")
	in := &model.ListenerTLS{CertFile: "/c/default.pem", KeyFile: "/c/default-key.pem", Certificates: []model.ListenerCertificate{
		{ServerNames: []string{"api.example.com", "*.api.example.com"}, CertFile: "/c/api.pem", KeyFile: "/c/api-key.pem"},
		{ServerNames: []string{"*.example.com"}, CertFile: "/c/wild.pem", KeyFile: "/c/wild-key.pem"},
	}}
	cfg := &model.Config{Listeners: []model.Listener{{Name: "l", Address: ":8443", Origin: o, TLS: in}}}
	out, issues := Encode(cfg)
	if len(issues) > 0 {
		t.Fatal(issues)
	}
	if !strings.Contains(string(out), "certificates:\n") || !strings.Contains(string(out), `'*.example.com'`) {
		t.Errorf("written as:\n%s", out)
	}
	back := decodeStream(t, "/out/gw.yaml", out)
	if got := back.Listeners[0].TLS; !reflect.DeepEqual(got, in) {
		t.Errorf("read back as %+v\nwrote:\n%s", *got, out)
	}

	in.Certificates[1] = model.ListenerCertificate{ServerNames: []string{"*.example.com"}, CertPEM: []byte("c"), KeyPEM: []byte("k"), CertSource: "Secret ns/wild"}
	out, issues = Encode(cfg)
	if out != nil || len(issues) != 1 || !strings.HasPrefix(issues[0].Error(),
		"vendor.yaml:7: spec.tls.certificates[1]: the listener's certificate and key are held inline (from Secret ns/wild, for *.example.com)") {
		t.Errorf("inline certificate: %v\n%s", issues, out)
	}
}
