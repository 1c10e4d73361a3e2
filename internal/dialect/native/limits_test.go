package native

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// limitsDoc is a document with one listener and one route; the test
// cases fill in the listener's and the backend's extra keys.
const limitsDoc = `apiVersion: jwtgate.dev/v1alpha1
kind: Config
listeners:
  - name: web
    address: 127.0.0.1:8080
%LISTENER%routes:
  - name: r
    backend:
      url: http://127.0.0.1:8000
%BACKEND%`

func TestListenerPathsAndLimits(t *testing.T) {
	tests := []struct {
		name     string
		listener string
		paths    model.PathOptions
		limits   model.ListenerLimits
		issues   []string // "path: message"
	}{
		{name: "absent keys are zero, the defaults"},
		{name: "every key", listener: `    paths:
      allowSemicolons: true
      allowEncodedHash: true
      allowDoubleEncoding: true
      allowTrailingEncodedWhitespace: true
    limits: {maxHeaderBytes: 0x2000, readHeaderTimeout: 3s, idleTimeout: 1m, bodyIdleTimeout: 20s, maxRequestDuration: 5m, maxConcurrentRequests: 100, maxConnections: 200}
`,
			paths: model.PathOptions{AllowSemicolons: true, AllowEncodedHash: true, AllowDoubleEncoding: true, AllowTrailingEncodedWhitespace: true},
			limits: model.ListenerLimits{MaxHeaderBytes: 8192, ReadHeaderTimeout: 3 * time.Second, IdleTimeout: time.Minute,
				BodyIdleTimeout: 20 * time.Second, MaxRequestDuration: 5 * time.Minute, MaxConcurrentRequests: 100, MaxConnections: 200}},
		{name: "no duration bound, written out", listener: "    limits: {maxRequestDuration: 0s}\n"},
		{name: "the smallest exact header limit", listener: "    limits: {maxHeaderBytes: 4097}\n", limits: model.ListenerLimits{MaxHeaderBytes: 4097}},
		{name: "a header limit too small to enforce", listener: "    limits: {maxHeaderBytes: 4096}\n", issues: []string{
			"listeners[0].limits.maxHeaderBytes: must be at least 4097",
		}},
		{name: "one option", listener: "    paths: {allowSemicolons: true}\n", paths: model.PathOptions{AllowSemicolons: true}},
		{name: "one limit", listener: "    limits: {idleTimeout: 30s}\n", limits: model.ListenerLimits{IdleTimeout: 30 * time.Second}},
		{name: "explicit zeros", listener: "    limits: {maxHeaderBytes: 0, readHeaderTimeout: 0s, idleTimeout: 0s, bodyIdleTimeout: 0s, maxConcurrentRequests: 0, maxConnections: 0}\n", issues: []string{
			"listeners[0].limits.maxHeaderBytes: must be positive",
			"listeners[0].limits.readHeaderTimeout: must be positive",
			"listeners[0].limits.idleTimeout: must be positive",
			"listeners[0].limits.bodyIdleTimeout: must be positive",
			"listeners[0].limits.maxConcurrentRequests: must be positive",
			"listeners[0].limits.maxConnections: must be positive",
		}},
		{name: "negative", listener: "    limits: {maxHeaderBytes: -1, idleTimeout: -1s, maxRequestDuration: -1s}\n", issues: []string{
			"listeners[0].limits.maxHeaderBytes: must be positive",
			"listeners[0].limits.idleTimeout: must be positive",
			"listeners[0].limits.maxRequestDuration: must not be negative",
		}},
		{name: "unknown option", listener: "    paths: {allowEverything: true}\n", issues: []string{
			`listeners[0].paths: unknown field "allowEverything"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.NewReplacer("%LISTENER%", tt.listener, "%BACKEND%", "").Replace(limitsDoc)
			r := decode(t, "gw.yaml", src)
			checkIssuePaths(t, r.Issues, tt.issues)
			if len(tt.issues) > 0 {
				return
			}
			l := r.Config.Listeners[0]
			if l.Paths != tt.paths || l.Limits != tt.limits {
				t.Errorf("paths = %+v, limits = %+v; want %+v, %+v", l.Paths, l.Limits, tt.paths, tt.limits)
			}
		})
	}
}

func TestBackendPoolKeys(t *testing.T) {
	tests := []struct {
		name    string
		backend string
		want    model.Backend
		issues  []string
	}{
		{name: "absent keys are zero, the defaults", want: model.Backend{URL: "http://127.0.0.1:8000", Timeout: model.DefaultBackendTimeout}},
		{name: "every key", backend: "      maxIdleConnsPerHost: 16\n      idleConnTimeout: 30s\n      dialTimeout: 2s\n      tlsHandshakeTimeout: 3s\n      bodyIdleTimeout: 1m\n",
			want: model.Backend{URL: "http://127.0.0.1:8000", Timeout: model.DefaultBackendTimeout, MaxIdleConnsPerHost: 16,
				IdleConnTimeout: 30 * time.Second, DialTimeout: 2 * time.Second, TLSHandshakeTimeout: 3 * time.Second, BodyIdleTimeout: time.Minute}},
		{name: "explicit zeros", backend: "      maxIdleConnsPerHost: 0\n      idleConnTimeout: 0s\n      dialTimeout: 0s\n      tlsHandshakeTimeout: 0s\n      bodyIdleTimeout: 0s\n", issues: []string{
			"routes[0].backend.maxIdleConnsPerHost: must be positive",
			"routes[0].backend.idleConnTimeout: must be positive",
			"routes[0].backend.dialTimeout: must be positive",
			"routes[0].backend.tlsHandshakeTimeout: must be positive",
			"routes[0].backend.bodyIdleTimeout: must be positive",
		}},
		{name: "negative", backend: "      maxIdleConnsPerHost: -2\n      dialTimeout: -1s\n", issues: []string{
			"routes[0].backend.maxIdleConnsPerHost: must be positive",
			"routes[0].backend.dialTimeout: must be positive",
		}},
		{name: "bare number", backend: "      dialTimeout: 5\n", issues: []string{
			"routes[0].backend.dialTimeout: invalid duration",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.NewReplacer("%LISTENER%", "", "%BACKEND%", tt.backend).Replace(limitsDoc)
			r := decode(t, "gw.yaml", src)
			checkIssuePaths(t, r.Issues, tt.issues)
			if len(tt.issues) > 0 {
				return
			}
			if got := r.Config.Routes[0].Backend; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("backend = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// checkIssuePaths compares issues, as "path: message", with want, each a
// prefix of the issue it stands for, in order.
func checkIssuePaths(t *testing.T, is model.Issues, want []string) {
	t.Helper()
	var got []string
	for _, i := range is {
		got = append(got, i.Path()+": "+i.Msg)
	}
	ok := len(got) == len(want)
	for j := 0; ok && j < len(want); j++ {
		ok = strings.HasPrefix(got[j], want[j])
	}
	if !ok {
		t.Errorf("issues:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
