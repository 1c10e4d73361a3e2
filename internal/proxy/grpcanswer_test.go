package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// TestGRPCStatus is Envoy's Grpc::Utility::httpToGrpcStatus.
func TestGRPCStatus(t *testing.T) {
	for http, want := range map[int]int{
		400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14,
		500: 2, 407: 2, 301: 2, 302: 2, 200: 2, 431: 2,
	} {
		if got := grpcStatus(http); got != want {
			t.Errorf("HTTP %d: grpc-status %d, want %d", http, got, want)
		}
	}
}

// TestGRPCPercentEncode: bytes below a space, from '~' up, and '%' are
// escaped, as Envoy does; the rest is kept.
func TestGRPCPercentEncode(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"Jwt is missing", "Jwt is missing"},
		{"RBAC: access denied", "RBAC: access denied"},
		{"100%", "100%25"},
		{"a\nb\tc", "a%0Ab%09c"},
		{"café ~", "caf%C3%A9 %7E"},
		{"\x7f\x00", "%7F%00"},
	} {
		if got := grpcPercentEncode(tt.in); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestIsGRPC: Envoy's Grpc::Common::hasGrpcContentType.
func TestIsGRPC(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/grpc":           true,
		"application/grpc+proto":     true,
		"application/grpc+json":      true,
		"application/grpc-web":       false,
		"application/grpc-web+proto": false,
		"application/grpcx":          false,
		"application/json":           false,
		"":                           false,
	} {
		r, _ := http.NewRequest("POST", "http://x/", nil)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		if got := isGRPC(r); got != want {
			t.Errorf("%q: %v, want %v", ct, got, want)
		}
	}
}

// TestGRPCAnswers: the gateway's own answers to a gRPC request are
// trailers-only gRPC responses, over HTTP/2 (h2c) and HTTP/1.1 alike; a
// gRPC-Web or other request gets the usual answer. The access log keeps
// the HTTP status decided.
func TestGRPCAnswers(t *testing.T) {
	echo := newEcho(t)
	var logs logBuffer
	cfg := &model.Config{
		Listeners: []model.Listener{{Name: "web", Address: "127.0.0.1:0", H2C: true}},
		Providers: []model.Provider{{Name: "p", JWKS: model.KeySource{Inline: `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"docs","x":"GGsZR3N0a7oyZparsLTnWqDooeDkRdtE2ZVz5mP6Fwc"}]}`}}},
		Routes: []model.Route{
			{Name: "down", Listener: "web", Match: model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathExact, Value: "/down.Svc/Get"}}},
				RouteActions: model.RouteActions{
					DirectResponse:  &model.DirectResponse{Status: 503, Body: "down 100% — back soon"},
					ResponseHeaders: model.HeaderOps{Set: map[string]string{"X-Why": "maintenance"}},
				}},
			{Name: "secure", Listener: "web", Match: model.RouteMatch{Paths: []model.PathMatch{{Kind: model.PathPrefix, Value: "/secure.Svc/"}}},
				Backend: model.Backend{URL: echo.URL}, JWT: &model.JWTRequirement{Providers: []string{"p"}, Mode: model.AuthRequired}},
		},
	}
	s := startServer(t, build(t, cfg, Options{Logger: logs.logger()}), nil)
	base := "http://" + s.Addr("web").String()
	h2c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: protocols(false, false, true)}}
	h1 := &http.Client{Timeout: 10 * time.Second}

	type want struct {
		status      int
		grpcStatus  string
		grpcMessage string // "-" for none
		header      map[string]string
	}
	for _, tt := range []struct {
		name, path, contentType string
		want                    want
	}{
		{"missing token", "/secure.Svc/Get", "application/grpc", want{200, "16", "Jwt is missing", map[string]string{"Www-Authenticate": `Bearer realm="http://` + s.Addr("web").String() + `/secure.Svc/Get"`}}},
		{"no route", "/other.Svc/Get", "application/grpc+proto", want{200, "12", "-", nil}},
		{"direct response", "/down.Svc/Get", "application/grpc", want{200, "14", "down 100%25 %E2%80%94 back soon", map[string]string{"X-Why": "maintenance"}}},
		{"gRPC-Web is not gRPC", "/secure.Svc/Get", "application/grpc-web", want{401, "", "-", map[string]string{"Content-Type": "text/plain"}}},
	} {
		for _, c := range []struct {
			name   string
			client *http.Client
			proto  string
		}{{"h2c", h2c, "HTTP/2.0"}, {"HTTP/1.1", h1, "HTTP/1.1"}} {
			t.Run(tt.name+"/"+c.name, func(t *testing.T) {
				req, _ := http.NewRequest("POST", base+tt.path, strings.NewReader("\x00\x00\x00\x00\x00"))
				req.Header.Set("Content-Type", tt.contentType)
				req.Header.Set("Te", "trailers")
				res, err := c.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				if res.Proto != c.proto {
					t.Fatalf("protocol %s", res.Proto)
				}
				w := tt.want
				if res.StatusCode != w.status || res.Header.Get("Grpc-Status") != w.grpcStatus {
					t.Fatalf("status %d grpc-status %q, want %d %q; headers %v", res.StatusCode, res.Header.Get("Grpc-Status"), w.status, w.grpcStatus, res.Header)
				}
				if msg, ok := res.Header["Grpc-Message"]; (w.grpcMessage == "-") == ok || (ok && msg[0] != w.grpcMessage) {
					t.Errorf("grpc-message %q, want %q", msg, w.grpcMessage)
				}
				for k, v := range w.header {
					if got := res.Header.Get(k); got != v {
						t.Errorf("%s: %q, want %q", k, got, v)
					}
				}
				if w.grpcStatus != "" {
					if len(body) != 0 || res.Header.Get("Content-Type") != "application/grpc" || res.Header.Get("X-Content-Type-Options") != "" {
						t.Errorf("not a trailers-only gRPC answer: body %q, headers %v", body, res.Header)
					}
				}
			})
		}
	}
	var statuses []float64
	for _, l := range logs.access(t) {
		if l["route"] == "secure" {
			statuses = append(statuses, l["status"].(float64))
		}
	}
	if len(statuses) != 4 || statuses[0] != 401 || statuses[3] != 401 {
		t.Errorf("access log statuses of the secure route: %v, want the decided 401s", statuses)
	}
}

// FuzzGRPCPercentEncode: the output holds only bytes a grpc-message may
// carry unescaped (space to '}', '%' only as an escape) and decodes back
// to the input.
func FuzzGRPCPercentEncode(f *testing.F) {
	for _, s := range []string{"", "Jwt is missing", "100%", "café ~\n", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := grpcPercentEncode(s)
		var dec []byte
		for i := 0; i < len(out); i++ {
			c := out[i]
			switch {
			case c == '%':
				if i+2 >= len(out) {
					t.Fatalf("%q: truncated escape in %q", s, out)
				}
				var v byte
				for _, h := range out[i+1 : i+3] {
					v <<= 4
					switch {
					case '0' <= h && h <= '9':
						v |= byte(h - '0')
					case 'A' <= h && h <= 'F':
						v |= byte(h-'A') + 10
					default:
						t.Fatalf("%q: bad escape in %q", s, out)
					}
				}
				dec = append(dec, v)
				i += 2
			case c < ' ' || c >= '~':
				t.Fatalf("%q: byte %#x left unescaped in %q", s, c, out)
			default:
				dec = append(dec, c)
			}
		}
		if string(dec) != s {
			t.Fatalf("%q encodes to %q, which decodes to %q", s, out, dec)
		}
	})
}
