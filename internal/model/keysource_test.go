package model

import (
	"testing"
	"time"
)

// TestKeySourceTimings: the bounds on a remote key set's refetch interval
// and unknown-kid wait.
func TestKeySourceTimings(t *testing.T) {
	tests := []struct {
		name string
		ks   KeySource
		want string
	}{
		{"zero is the default", KeySource{}, ""},
		{"the bounds themselves", KeySource{RefetchInterval: MinJWKSRefetchInterval, UnknownKidWait: MaxJWKSUnknownKidWait}, ""},
		{"usual values", KeySource{RefetchInterval: 30 * time.Second, UnknownKidWait: 250 * time.Millisecond}, ""},
		{"refetch interval under a second", KeySource{RefetchInterval: 500 * time.Millisecond},
			`jwks.refetchInterval: must be at least 1s (unknown kids are refetched at most once a second), got 500ms (provider "p")`},
		{"negative refetch interval", KeySource{RefetchInterval: -time.Second},
			`jwks.refetchInterval: must not be negative, got -1s (provider "p")`},
		{"negative wait", KeySource{UnknownKidWait: -time.Millisecond},
			`jwks.unknownKidWait: must not be negative, got -1ms (provider "p")`},
		{"wait too long", KeySource{UnknownKidWait: 5*time.Second + time.Millisecond},
			`jwks.unknownKidWait: must be at most 5s (the wait holds a request, for a kid that may be an attacker's), got 5.001s (provider "p")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.ks.URI = "https://idp.example/jwks"
			c.Providers[0].JWKS = tt.ks
			if got := texts(c.Validate()); got != tt.want {
				t.Errorf("issues:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
