package native

import (
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// keySourceDoc is a document with one provider; the test cases fill in
// its jwks mapping.
const keySourceDoc = `apiVersion: jwtgate.dev/v1alpha1
kind: Config
providers:
  - name: p
    jwks:
%JWKS%`

// TestUnknownKidWaitKey: jwks.unknownKidWait is read as written (absent
// stays zero, the default to the key set), an explicit zero is refused,
// and a local key set ignores it with a warning.
func TestUnknownKidWaitKey(t *testing.T) {
	tests := []struct {
		name   string
		jwks   string
		want   time.Duration
		issues []string
	}{
		{name: "absent is the default", jwks: "      uri: https://idp.example/jwks\n"},
		{name: "set", jwks: "      uri: https://idp.example/jwks\n      unknownKidWait: 250ms\n", want: 250 * time.Millisecond},
		{name: "set to the default", jwks: "      uri: https://idp.example/jwks\n      unknownKidWait: 1s\n", want: time.Second},
		{name: "explicit zero", jwks: "      uri: https://idp.example/jwks\n      unknownKidWait: 0s\n", issues: []string{
			"providers[0].jwks.unknownKidWait: must be positive",
		}},
		{name: "not a duration", jwks: "      uri: https://idp.example/jwks\n      unknownKidWait: 2\n", issues: []string{
			"providers[0].jwks.unknownKidWait: invalid duration",
		}},
		{name: "local key set", jwks: "      inline: '{\"keys\":[]}'\n      unknownKidWait: 2s\n", issues: []string{
			"providers[0].jwks.unknownKidWait: ignored: only used with a remote key set",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := decode(t, "gw.yaml", strings.Replace(keySourceDoc, "%JWKS%", tt.jwks, 1))
			checkIssuePaths(t, r.Issues, tt.issues)
			if len(tt.issues) > 0 {
				return
			}
			if got := r.Config.Providers[0].JWKS.UnknownKidWait; got != tt.want {
				t.Errorf("unknownKidWait = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestUnknownKidWaitEncode: the encoder writes unknownKidWait when it is
// set, the default included, and leaves it out when it is zero, so that
// a configuration reads back as it was.
func TestUnknownKidWaitEncode(t *testing.T) {
	for _, wait := range []time.Duration{0, time.Second, 300 * time.Millisecond} {
		cfg := &model.Config{Providers: []model.Provider{{Name: "p", ClockSkew: model.DefaultClockSkew, MaxTokenBytes: model.DefaultMaxTokenBytes,
			JWKS: model.KeySource{URI: "https://idp.example/jwks", UnknownKidWait: wait}}}}
		out, issues := Encode(cfg)
		if len(issues) > 0 {
			t.Fatal(issues)
		}
		if written := strings.Contains(string(out), "unknownKidWait"); written != (wait != 0) {
			t.Errorf("wait %v: unknownKidWait written = %v:\n%s", wait, written, out)
		}
		back := decodeStream(t, "out.yaml", out)
		if got := back.Providers[0].JWKS.UnknownKidWait; got != wait {
			t.Errorf("wait %v read back as %v:\n%s", wait, got, out)
		}
	}
}
