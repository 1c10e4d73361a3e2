package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// Provider is a compiled model.Provider: its key set, checks and outputs.
// It is safe for concurrent use.
type Provider struct {
	name        string
	issuer      string
	audiences   []string // sanitized, see sanitizeAudience
	allowed     map[string]bool
	skew        int64 // seconds
	requireExp  bool
	maxLifetime int64 // seconds, 0 = unchecked
	maxBytes    int
	now         func() time.Time
	log         *slog.Logger

	sources []location
	forward bool
	claims  []claimOutput
	payload string // canonical payload header, "" = none
	outputs []string

	// keys points at local for a local key set, at the remote key set's
	// keys otherwise.
	keys  *atomic.Pointer[keySet]
	local atomic.Pointer[keySet]
	// remote is the remote key set, nil for local ones; use is the
	// provider's hold on it (remote may be shared, see KeySets).
	remote *remote
	use    *keySetUse

	// cacheSize bounds the verified-token cache (<= 0: none); cache is
	// the cache and the key set it belongs to (see tokenCache).
	cacheSize int
	cache     atomic.Pointer[boundCache]
	// headers remembers the protected headers of verified tokens.
	headers headerMemo

	// stats holds the cache lookups, and for a local key set when it was
	// read; a remote key set counts its fetches itself.
	stats counters
	// fetched is closed once the key set is usable or the first fetch
	// after Start has ended; see Fetched.
	fetched chan struct{}
}

// NewProvider compiles p. Local key material is parsed now (an error is
// returned for unusable keys); remote key sets are fetched in the
// background once Start is called.
func NewProvider(p model.Provider, opts Options) (*Provider, error) {
	pr := &Provider{
		name:       p.Name,
		issuer:     p.Issuer,
		skew:       int64(p.ClockSkew / time.Second),
		requireExp: p.RequireExpiration,
		maxBytes:   p.MaxTokenBytes,
		now:        opts.Now,
		log:        opts.Logger,
		forward:    p.ForwardToken,
	}
	if pr.skew < 0 {
		return nil, fmt.Errorf("provider %s: negative clockSkew", p.Name)
	}
	if pr.now == nil {
		pr.now = time.Now
	}
	if pr.maxBytes <= 0 {
		pr.maxBytes = model.DefaultMaxTokenBytes
	}
	if p.MaxLifetime < 0 {
		return nil, fmt.Errorf("provider %s: negative maxLifetime", p.Name)
	}
	pr.maxLifetime = int64(p.MaxLifetime / time.Second)
	if p.MaxLifetime > 0 && pr.maxLifetime == 0 {
		pr.maxLifetime = 1
	}
	for _, a := range p.Audiences {
		pr.audiences = append(pr.audiences, sanitizeAudience(a))
	}
	if len(p.Algorithms) > 0 {
		pr.allowed = make(map[string]bool, len(p.Algorithms))
		for _, a := range p.Algorithms {
			if !supportedAlgs[a] {
				return nil, fmt.Errorf("provider %s: algorithm %q is not supported", p.Name, a)
			}
			pr.allowed[a] = true
		}
	}
	var err error
	if pr.sources, err = compileSources(p.From); err != nil {
		return nil, fmt.Errorf("provider %s: %w", p.Name, err)
	}
	if err := pr.compileOutputs(p); err != nil {
		return nil, fmt.Errorf("provider %s: %w", p.Name, err)
	}

	if p.CacheSize < 0 {
		return nil, fmt.Errorf("provider %s: negative cacheSize", p.Name)
	}
	pr.cacheSize = cacheSizeOf(p.CacheSize, opts.CacheSize)
	js := p.JWKS
	if !js.Remote() {
		keys, err := loadLocal(js)
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", p.Name, &KeyError{Err: err})
		}
		pr.local.Store(newKeySet(keys, nil))
		pr.keys = &pr.local
		pr.stats.loaded(time.Now())
		pr.fetched = make(chan struct{})
		close(pr.fetched)
		return pr, nil
	}

	if js.URI == "" && p.Issuer == "" {
		return nil, fmt.Errorf("provider %s: no key set and no issuer to discover one from", p.Name)
	}
	if js.URI != "" && !strings.HasPrefix(js.URI, "https://") && !strings.HasPrefix(js.URI, "http://") {
		return nil, fmt.Errorf("provider %s: jwks uri %q is not an http(s) URL", p.Name, js.URI)
	}
	t := keySourceTimeouts{
		timeout:         orDefault(js.Timeout, model.DefaultJWKSTimeout),
		cacheDuration:   orDefault(js.CacheDuration, model.DefaultJWKSCacheDuration),
		refetchInterval: orDefault(js.RefetchInterval, model.DefaultJWKSRefetchInterval),
		unknownKidWait:  orDefault(js.UnknownKidWait, model.DefaultJWKSUnknownKidWait),
		caFile:          js.CAFile,
	}
	src, err := newRemoteSource(js.URI, p.Issuer, t, opts.HTTPClient, pr.log)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", p.Name, err)
	}
	if pr.use, err = opts.KeySets.use(src, t.caFile, p.Name, t.unknownKidWait); err != nil {
		return nil, fmt.Errorf("provider %s: %w", p.Name, err)
	}
	pr.remote = pr.use.r
	pr.keys = &pr.remote.keys
	pr.fetched = pr.use.fetched
	return pr, nil
}

// cacheSizeOf is the verified-token cache size: the Options override when
// set (tests and benchmarks), else the provider's cacheSize, else
// defaultCacheSize. Negative disables the cache (Options only; a provider
// may not ask for that).
func cacheSizeOf(provider, override int) int {
	switch {
	case override != 0:
		return override
	case provider > 0:
		return provider
	}
	return defaultCacheSize
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// KeyError is returned by NewProvider when the provider's local key
// material (inline JWKS, PEM or key file) cannot be read or used, so that
// callers can point at the key source rather than the provider as a whole.
type KeyError struct{ Err error }

func (e *KeyError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *KeyError) Unwrap() error { return e.Err }

// loadLocal reads an inline JWKS, a PEM key, or a file holding either.
func loadLocal(js model.KeySource) ([]key, error) {
	switch {
	case js.Inline != "":
		return parseJWKS([]byte(js.Inline), true)
	case js.PEM != "":
		return parsePEM([]byte(js.PEM))
	case js.File != "":
		b, err := os.ReadFile(js.File)
		if err != nil {
			return nil, fmt.Errorf("reading key file: %w", err)
		}
		keys, err := parseLocal(b)
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", js.File, err)
		}
		return keys, nil
	}
	return nil, errors.New("no local key source")
}

// Name is the provider's name.
func (p *Provider) Name() string { return p.name }

// Start begins background refreshes of remote key sets; they stop when ctx
// is done or Close is called. It does nothing for local key sets, and
// nothing after the first call. A key set shared with other providers
// (see KeySets) is started by the first Start of any of them, under that
// Start's ctx, and stops when that ctx is done or the last of them is
// closed.
func (p *Provider) Start(ctx context.Context) {
	if p.remote != nil {
		p.remote.start(ctx)
	}
}

// Close stops background work: the provider lets go of its key set, and
// the last provider holding a shared one stops its fetches. Tokens that
// need keys fetched after Close fail with ErrJwksFetch. Close also closes
// the Fetched channel if it is still open: no fetch will come any more
// for this provider. It is idempotent.
func (p *Provider) Close() {
	if p.use != nil {
		p.use.close()
	}
}

// Ready reports whether the provider has keys: always for local key sets,
// after the first successful fetch for remote ones. Until then tokens that
// reach the signature check fail with ErrJwksFetch.
func (p *Provider) Ready() bool { return p.keys.Load() != nil }

// Fetched returns a channel that is closed once waiting for the provider's
// key set is over: at once for local key sets (inline, file, PEM); for
// remote ones when a fetch has succeeded, or when the first fetch after
// Start has ended, successfully or not, or when the provider is closed. A
// failed first fetch closes it too, so that a readiness check does not
// wait for ever: Ready then still reports false, and the caller applies
// its own deadline to the wait. The channel is the same on every call.
func (p *Provider) Fetched() <-chan struct{} { return p.fetched }

// OutputHeaders are the request headers this provider sets (claim headers,
// payload header), canonicalized. The proxy strips them from every
// incoming request on routes that use the provider.
func (p *Provider) OutputHeaders() []string { return append([]string(nil), p.outputs...) }

// Verify checks one token and returns the identity it carries, or an *Error.
// The identity may be shared with other callers (it is cached) and must
// not be modified.
func (p *Provider) Verify(ctx context.Context, token string) (*Identity, error) {
	id, e := p.verify(ctx, token)
	if e != nil {
		return nil, e
	}
	return id, nil
}

// verify checks a token in Envoy's order: size (ours), parse, issuer,
// time, audience, key and signature.
func (p *Provider) verify(ctx context.Context, raw string) (*Identity, *Error) {
	if len(raw) > p.maxBytes {
		return nil, ErrTooLarge
	}
	now := p.now().Unix()
	ks := p.keys.Load()
	if ks != nil {
		if tc := p.tokenCache(ks); tc != nil {
			if e := tc.get(raw); e != nil {
				p.stats.hits.Add(1)
				if err := p.checkTime(now, e.hasNbf, e.nbf, e.hasExp, e.exp); err != nil {
					return nil, err
				}
				return e.id, nil
			}
			p.stats.misses.Add(1)
		}
	}
	t, err := parseToken(raw, &p.headers)
	if err != nil {
		return nil, err
	}
	if p.issuer != "" && (!t.hasIss || t.iss != p.issuer) {
		return nil, ErrUnknownIssuer
	}
	if err := p.checkTime(now, t.hasNbf, t.nbf, t.hasExp, t.exp); err != nil {
		return nil, err
	}
	if p.requireExp && !t.hasExp {
		return nil, ErrExpRequired
	}
	if p.maxLifetime > 0 && (!t.hasExp || !t.hasIat || t.exp-t.iat > p.maxLifetime) {
		return nil, ErrLifetime
	}
	if len(p.audiences) > 0 && !p.audienceAllowed(t.aud) {
		return nil, ErrAudience
	}

	if ks == nil {
		if ks = p.use.demand(ctx, nil); ks == nil {
			return nil, ErrJwksFetch
		}
	} else if p.use != nil && t.kid != "" && !ks.hasKid(t.kid) {
		ks = p.use.unknownKid(ctx, ks, t.kid)
	}
	k, err := ks.verify(t, p.allowed)
	if err != nil {
		return nil, err
	}
	p.headers.remember(t)
	id := &Identity{
		Provider:  p.name,
		Issuer:    t.iss,
		Subject:   t.sub,
		Audiences: t.aud,
		Presenter: t.azp,
		Claims:    t.claims,
		Payload:   t.payloadSeg,
	}
	id.principal = id.Issuer + "/" + id.Subject
	if tc := p.tokenCache(ks); tc != nil {
		tc.put(&cacheEntry{key: raw, id: id, fp: k.fp, nbf: t.nbf, exp: t.exp, hasNbf: t.hasNbf, hasExp: t.hasExp})
	}
	return id, nil
}

// checkTime applies nbf and exp with the clock skew, in seconds.
func (p *Provider) checkTime(now int64, hasNbf bool, nbf int64, hasExp bool, exp int64) *Error {
	if hasNbf && now+p.skew < nbf {
		return ErrNotYetValid
	}
	if hasExp && now-p.skew > exp {
		return ErrExpired
	}
	return nil
}

// audienceAllowed reports whether one of the token's audiences is one of
// the provider's, compared as Envoy does after sanitizing both.
func (p *Provider) audienceAllowed(aud []string) bool {
	for _, a := range aud {
		a = sanitizeAudience(a)
		for _, want := range p.audiences {
			if a == want {
				return true
			}
		}
	}
	return false
}

// sanitizeAudience drops an http:// or https:// prefix and one trailing
// slash, so "https://svc/" and "svc" are the same audience, as in Envoy's
// jwt_verify_lib.
func sanitizeAudience(a string) string {
	if s, ok := strings.CutPrefix(a, "http://"); ok {
		a = s
	} else if s, ok := strings.CutPrefix(a, "https://"); ok {
		a = s
	}
	return strings.TrimSuffix(a, "/")
}
