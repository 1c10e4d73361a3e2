package model

import (
	"testing"
	"time"
)

func TestListenerLimitsWithDefaults(t *testing.T) {
	def := ListenerLimits{MaxHeaderBytes: 64 << 10, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	tests := []struct {
		name   string
		in     ListenerLimits
		expect ListenerLimits
	}{
		{"zero is the default", ListenerLimits{}, def},
		{"negative is the default", ListenerLimits{MaxHeaderBytes: -1, ReadHeaderTimeout: -time.Second, IdleTimeout: -1}, def},
		{"set values are kept", ListenerLimits{MaxHeaderBytes: 1024, ReadHeaderTimeout: time.Second, IdleTimeout: time.Minute},
			ListenerLimits{MaxHeaderBytes: 1024, ReadHeaderTimeout: time.Second, IdleTimeout: time.Minute}},
		{"one field", ListenerLimits{IdleTimeout: time.Minute},
			ListenerLimits{MaxHeaderBytes: 64 << 10, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}},
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
	def := BackendPool{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, DialTimeout: 5 * time.Second, TLSHandshakeTimeout: 5 * time.Second}
	tests := []struct {
		name   string
		in     Backend
		expect BackendPool
	}{
		{"zero is the default", Backend{URL: "http://x", Timeout: time.Second}, def},
		{"negative is the default", Backend{MaxIdleConnsPerHost: -1, IdleConnTimeout: -1, DialTimeout: -1, TLSHandshakeTimeout: -1}, def},
		{"set values are kept", Backend{MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Second, DialTimeout: 2 * time.Second, TLSHandshakeTimeout: 3 * time.Second},
			BackendPool{MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Second, DialTimeout: 2 * time.Second, TLSHandshakeTimeout: 3 * time.Second}},
		{"one field", Backend{DialTimeout: time.Second},
			BackendPool{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, DialTimeout: time.Second, TLSHandshakeTimeout: 5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Pool(); got != tt.expect {
				t.Errorf("Pool(%+v) = %+v, want %+v", tt.in, got, tt.expect)
			}
		})
	}
}
