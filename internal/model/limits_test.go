package model

import (
	"testing"
	"time"
)

func TestListenerLimitsWithDefaults(t *testing.T) {
	def := ListenerLimits{MaxHeaderBytes: 64 << 10, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		BodyIdleTimeout: 60 * time.Second, MaxConcurrentRequests: 5000, MaxConnections: 10000}
	set := ListenerLimits{MaxHeaderBytes: 8192, ReadHeaderTimeout: time.Second, IdleTimeout: time.Minute,
		BodyIdleTimeout: time.Second, MaxRequestDuration: time.Hour, MaxConcurrentRequests: 10, MaxConnections: 20}
	withIdle := def
	withIdle.IdleTimeout = time.Minute
	tests := []struct {
		name   string
		in     ListenerLimits
		expect ListenerLimits
	}{
		{"zero is the default", ListenerLimits{}, def},
		{"negative is the default", ListenerLimits{MaxHeaderBytes: -1, ReadHeaderTimeout: -time.Second, IdleTimeout: -1,
			BodyIdleTimeout: -1, MaxRequestDuration: -1, MaxConcurrentRequests: -1, MaxConnections: -1}, def},
		{"set values are kept", set, set},
		{"one field", ListenerLimits{IdleTimeout: time.Minute}, withIdle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.WithDefaults(); got != tt.expect {
				t.Errorf("WithDefaults(%+v) = %+v, want %+v", tt.in, got, tt.expect)
			}
		})
	}
}

func TestBackendPool(t *testing.T) {
	def := BackendPool{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, DialTimeout: 5 * time.Second, TLSHandshakeTimeout: 5 * time.Second, BodyIdleTimeout: 5 * time.Minute}
	tests := []struct {
		name   string
		in     Backend
		expect BackendPool
	}{
		{"zero is the default", Backend{URL: "http://x", Timeout: time.Second}, def},
		{"negative is the default", Backend{MaxIdleConnsPerHost: -1, IdleConnTimeout: -1, DialTimeout: -1, TLSHandshakeTimeout: -1, BodyIdleTimeout: -1}, def},
		{"set values are kept", Backend{MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Second, DialTimeout: 2 * time.Second, TLSHandshakeTimeout: 3 * time.Second, BodyIdleTimeout: 4 * time.Second},
			BackendPool{MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Second, DialTimeout: 2 * time.Second, TLSHandshakeTimeout: 3 * time.Second, BodyIdleTimeout: 4 * time.Second}},
		{"one field", Backend{DialTimeout: time.Second},
			BackendPool{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, DialTimeout: time.Second, TLSHandshakeTimeout: 5 * time.Second, BodyIdleTimeout: 5 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Pool(); got != tt.expect {
				t.Errorf("Pool(%+v) = %+v, want %+v", tt.in, got, tt.expect)
			}
		})
	}
}

func TestListenerLimitsCheck(t *testing.T) {
	tests := []struct {
		name  string
		in    ListenerLimits
		field string // "" when accepted
	}{
		{"zero is the default", ListenerLimits{}, ""},
		{"the smallest exact limit", ListenerLimits{MaxHeaderBytes: MinMaxHeaderBytes}, ""},
		{"one byte less", ListenerLimits{MaxHeaderBytes: MinMaxHeaderBytes - 1}, "maxHeaderBytes"},
		{"one byte", ListenerLimits{MaxHeaderBytes: 1}, "maxHeaderBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			field, err := tt.in.Check()
			if field != tt.field || (err != nil) != (tt.field != "") {
				t.Errorf("Check() = %q, %v; want field %q", field, err, tt.field)
			}
		})
	}
}
