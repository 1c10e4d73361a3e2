package model

import "time"

// Defaults applied by dialects when a provider leaves a field unset.
const (
	DefaultClockSkew           = 60 * time.Second
	DefaultJWKSCacheDuration   = 10 * time.Minute
	DefaultJWKSTimeout         = 5 * time.Second
	DefaultJWKSRefetchInterval = time.Second
	DefaultJWKSUnknownKidWait  = time.Second
	DefaultMaxTokenBytes       = 8192
)

// Bounds of the remote key set settings.
const (
	// MinJWKSRefetchInterval is the least refetchInterval: fetches for
	// unknown kids happen at most once a second per provider whatever
	// the kids, and a kid is not remembered as unknown for less.
	MinJWKSRefetchInterval = time.Second
	// MaxJWKSUnknownKidWait is the longest unknownKidWait: the wait holds
	// a request, and the kid may be an attacker's.
	MaxJWKSUnknownKidWait = 5 * time.Second
)

// Provider is a trusted token issuer: where its keys are, which tokens it
// accepts, where tokens are looked for, and what is forwarded upstream once
// a token verifies.
type Provider struct {
	Name string `yaml:"name"`
	// Issuer, when set, must equal the token's iss claim. When no key set
	// is configured it is also the base URL for OIDC discovery.
	Issuer string `yaml:"issuer,omitempty"`
	// Audiences, when set, must contain at least one of the token's aud
	// values. Empty means aud is not checked.
	Audiences []string  `yaml:"audiences,omitempty"`
	JWKS      KeySource `yaml:"jwks"`
	// From lists the places tokens are taken from. Empty means the default:
	// header Authorization with prefix "Bearer ", then query access_token.
	From            []TokenSource   `yaml:"from,omitempty"`
	ClaimsToHeaders []ClaimToHeader `yaml:"claimsToHeaders,omitempty"`
	// PayloadHeader, when set, receives the token's payload segment
	// (base64url, as it appeared in the token).
	PayloadHeader string `yaml:"payloadHeader,omitempty"`
	// ForwardToken keeps the token in the request sent upstream. False, the
	// default, removes the header, query parameter or cookie that held it.
	ForwardToken bool `yaml:"forwardToken,omitempty"`
	// ClockSkew is the leeway allowed on exp and nbf.
	ClockSkew time.Duration `yaml:"clockSkew"`
	// Algorithms, when set, is the only JWS algorithms accepted. Empty means
	// every algorithm that the key set's keys allow.
	Algorithms []string `yaml:"algorithms,omitempty"`
	// RequireExpiration rejects tokens without exp.
	RequireExpiration bool `yaml:"requireExpiration,omitempty"`
	// MaxLifetime, when non-zero, rejects tokens whose exp - iat is longer
	// (and tokens lacking either claim).
	MaxLifetime time.Duration `yaml:"maxLifetime,omitempty"`
	// MaxTokenBytes bounds the size of a token; larger ones are rejected
	// before any parsing.
	MaxTokenBytes int `yaml:"maxTokenBytes"`
	// CacheSize is the number of verified tokens the provider remembers
	// (least recently used evicted first). 0 means the default, 4096;
	// negative is not allowed.
	CacheSize int    `yaml:"cacheSize,omitempty"`
	Origin    Origin `yaml:"origin,omitempty"`
}

// KeySource says where a provider's verification keys come from. Exactly
// one of Inline, File, PEM and URI is set; none of them means OIDC
// discovery from the provider's issuer.
type KeySource struct {
	// Inline is a JWKS document.
	Inline string `yaml:"inline,omitempty"`
	// File is a path to a JWKS document or a PEM public key.
	File string `yaml:"file,omitempty"`
	// PEM is an inline PEM public key (PKIX "PUBLIC KEY", PKCS#1 "RSA
	// PUBLIC KEY", or a certificate).
	PEM string `yaml:"pem,omitempty"`
	// URI is a remote JWKS fetched over http or https.
	URI string `yaml:"uri,omitempty"`
	// CacheDuration is how often a remote key set is refreshed.
	CacheDuration time.Duration `yaml:"cacheDuration,omitempty"`
	// Timeout bounds one fetch of a remote key set or discovery document.
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// RefetchInterval is how long a kid that a fetch did not find is
	// remembered as unknown: tokens carrying it are answered at once, with
	// no fetch and no wait, until then (or until the key set changes).
	// Whatever the kids, fetches for unknown kids happen at most once per
	// MinJWKSRefetchInterval. At least MinJWKSRefetchInterval.
	RefetchInterval time.Duration `yaml:"refetchInterval,omitempty"`
	// UnknownKidWait is the longest a token whose kid is not in the key
	// set waits for the fetch that may bring it. 0 means the default,
	// DefaultJWKSUnknownKidWait; at most MaxJWKSUnknownKidWait.
	UnknownKidWait time.Duration `yaml:"unknownKidWait,omitempty"`
	// CAFile, when set, is the CA bundle that remote https endpoints must
	// chain to. Empty means the system roots.
	CAFile string `yaml:"caFile,omitempty"`
}

// Remote reports whether the keys are fetched over the network (a URI or
// OIDC discovery).
func (k KeySource) Remote() bool {
	return k.URI != "" || (k.Inline == "" && k.File == "" && k.PEM == "")
}

// TokenSource is one place a token is looked for. Exactly one of Header,
// Query and Cookie is set.
type TokenSource struct {
	Header string `yaml:"header,omitempty"`
	// Prefix is stripped from a header value before the token; it is
	// compared case-insensitively ("Bearer " matches "bearer ").
	Prefix string `yaml:"prefix,omitempty"`
	Query  string `yaml:"query,omitempty"`
	Cookie string `yaml:"cookie,omitempty"`
}

// DefaultTokenSources are used by a provider that lists none.
func DefaultTokenSources() []TokenSource {
	return []TokenSource{{Header: "Authorization", Prefix: "Bearer "}, {Query: "access_token"}}
}

// ClaimToHeader copies a claim of a verified token into a request header.
type ClaimToHeader struct {
	// Claim is a claim name, or a dotted path into nested objects
	// ("llms.openai"). A top-level claim whose name contains dots is found
	// before the path is split.
	Claim  string `yaml:"claim"`
	Header string `yaml:"header"`
	// Append adds the value to an existing header, joined by a comma,
	// instead of replacing it.
	Append bool `yaml:"append,omitempty"`
}
