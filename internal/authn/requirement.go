package authn

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"jwtgate.dev/jwtgate/internal/model"
)

// Requirement is a compiled model.JWTRequirement over its providers. It is
// safe for concurrent use.
type Requirement struct {
	mode      model.AuthMode
	all       bool
	providers []*Provider
	byName    map[string]int
	locs      []location
	// readers[i] are the indices of the providers reading locs[i], in
	// provider order.
	readers  [][]int
	hasQuery bool
	outputs  []string
}

// NewRequirement compiles req; providers must hold every provider it names.
// An empty mode is treated as model.AuthRequired.
func NewRequirement(req model.JWTRequirement, providers map[string]*Provider) (*Requirement, error) {
	return newRequirement(req, providers, nil)
}

// NewProxyRequirement is NewRequirement for a forward proxy's clients:
// every provider reads its token from "Proxy-Authorization: Bearer ..."
// only, whatever its own token sources are.
func NewProxyRequirement(req model.JWTRequirement, providers map[string]*Provider) (*Requirement, error) {
	locs, err := compileSources([]model.TokenSource{{Header: "Proxy-Authorization", Prefix: "Bearer "}})
	if err != nil {
		return nil, err
	}
	return newRequirement(req, providers, locs)
}

func newRequirement(req model.JWTRequirement, providers map[string]*Provider, sources []location) (*Requirement, error) {
	q := &Requirement{mode: req.Mode, all: req.RequireAll, byName: map[string]int{}}
	switch q.mode {
	case "":
		q.mode = model.AuthRequired
	case model.AuthRequired, model.AuthAllowMissing, model.AuthAllowMissingOrFailed:
	default:
		return nil, fmt.Errorf("jwt requirement: unknown mode %q", req.Mode)
	}
	if len(req.Providers) == 0 {
		return nil, fmt.Errorf("jwt requirement: no providers")
	}
	locIdx := map[string]int{}
	outSeen := map[string]bool{}
	for _, name := range req.Providers {
		p := providers[name]
		if p == nil {
			return nil, fmt.Errorf("jwt requirement: provider %q is not defined", name)
		}
		if _, dup := q.byName[name]; dup {
			continue
		}
		pi := len(q.providers)
		q.byName[name] = pi
		q.providers = append(q.providers, p)
		srcs := p.sources
		if sources != nil {
			srcs = sources
		}
		for _, l := range srcs {
			k := l.key()
			li, ok := locIdx[k]
			if !ok {
				li = len(q.locs)
				locIdx[k] = li
				q.locs = append(q.locs, l)
				q.readers = append(q.readers, nil)
				if l.kind == inQuery {
					q.hasQuery = true
				}
			}
			q.readers[li] = append(q.readers[li], pi)
		}
		for _, h := range p.outputs {
			if !outSeen[h] {
				outSeen[h] = true
				q.outputs = append(q.outputs, h)
			}
		}
	}
	return q, nil
}

// MaxTokens is the most tokens one request may carry across all the places
// a requirement reads; more is answered with ErrTooManyTokens before any is
// verified, so a request cannot buy many signature checks.
const MaxTokens = 8

// Authenticate finds the tokens in r and verifies them. Every token found
// must verify against at least one provider that reads the place it was
// found in; with RequireAll every provider must also have a token of its
// own that verifies. A place holding more than one token (see
// ErrNotOneToken) fails for every provider reading it.
func (q *Requirement) Authenticate(ctx context.Context, r *http.Request) Result {
	var res Result
	q.AuthenticateTo(ctx, r, &res)
	return res
}

// AuthenticateTo is Authenticate writing into res, whose own storage
// holds the identities and tokens of a typical request: with res in
// memory the caller reuses (a pooled per-request state), authenticating a
// request whose token is in the verified-token cache allocates nothing.
// res must not be copied while its slices are in use.
func (q *Requirement) AuthenticateTo(ctx context.Context, r *http.Request, res *Result) {
	// Only the exported part and the slices are taken: the slices point
	// into res's own arrays, which a whole-struct copy would overwrite.
	got := q.authenticate(ctx, r, res, nil)
	res.Outcome, res.Err, res.Identities, res.tokens = got.Outcome, got.Err, got.Identities, got.tokens
}

// authenticate finds and verifies the tokens; tr, when not nil, records
// what it does (AuthenticateTraced).
func (q *Requirement) authenticate(ctx context.Context, r *http.Request, into *Result, tr *Trace) Result {
	var query url.Values
	if q.hasQuery && r.URL != nil && r.URL.RawQuery != "" {
		query, _ = url.ParseQuery(r.URL.RawQuery)
	}
	var buf [4]found
	fs := buf[:0]
	for i := range q.locs {
		fs = q.locs[i].extract(r, i, query, fs)
	}
	if tr != nil {
		tr.found(q, fs)
	}
	if len(fs) == 0 {
		return Result{Outcome: Missing, Err: ErrMissing}
	}
	if len(fs) > MaxTokens {
		return Result{Outcome: Invalid, Err: ErrTooManyTokens}
	}

	var idBuf [4]*Identity
	ids := idBuf[:0]
	if len(q.providers) <= len(idBuf) {
		ids = idBuf[:len(q.providers)]
	} else {
		ids = make([]*Identity, len(q.providers))
	}
	var provErr []*Error
	if q.all {
		provErr = make([]*Error, len(q.providers))
	}
	toks := into.tokArr[:0]
	if len(fs) <= len(into.tokArr) {
		toks = into.tokArr[:len(fs)]
	} else {
		toks = make([]foundToken, len(fs))
	}
	var worst *Error
	for i, f := range fs {
		toks[i] = foundToken{found: f, by: -1}
		var tokErr *Error
		for _, pi := range q.readers[f.loc] {
			var id *Identity
			var err *Error
			if f.malformed {
				err = ErrNotOneToken
			} else {
				id, err = q.providers[pi].verify(ctx, f.token)
			}
			if tr != nil {
				tr.attempt(i, q.providers[pi], f, err)
			}
			if err != nil {
				tokErr = moreSpecific(tokErr, err)
				if q.all {
					provErr[pi] = moreSpecific(provErr[pi], err)
				}
				continue
			}
			if toks[i].by < 0 {
				toks[i].by = pi
			}
			if !q.providers[pi].forward {
				toks[i].strip = true
			}
			if ids[pi] == nil {
				ids[pi] = id
			}
			if !q.all {
				break
			}
		}
		if toks[i].by < 0 {
			worst = moreSpecific(worst, tokErr)
		}
	}
	res := Result{Outcome: Verified, tokens: toks, Identities: into.idArr[:0]}
	for _, id := range ids {
		if id != nil {
			res.Identities = append(res.Identities, id)
		}
	}
	if worst != nil {
		res.Outcome, res.Err = Invalid, worst
		return res
	}
	if q.all {
		for pi, id := range ids {
			if id == nil {
				res.Outcome, res.Err = Invalid, ErrMissing
				if provErr[pi] != nil {
					res.Err = provErr[pi]
				}
				return res
			}
		}
	}
	return res
}

// moreSpecific picks the error to report when a token fails several
// providers: "issuer not configured" says least (the token was probably
// meant for another provider), "no key matches kid or alg" next; otherwise
// the first error stands.
func moreSpecific(cur, next *Error) *Error {
	if cur == nil {
		return next
	}
	if errRank(next) > errRank(cur) {
		return next
	}
	return cur
}

func errRank(e *Error) int {
	switch e {
	case ErrUnknownIssuer:
		return 0
	case ErrKidAlgMismatch:
		return 1
	}
	return 2
}

// Reject says whether res must be answered with an error under the
// requirement's mode, and with which: required rejects Missing and
// Invalid, allowMissing rejects Invalid only, allowMissingOrFailed never
// rejects.
func (q *Requirement) Reject(res Result) *Error {
	if res.Outcome == Verified || q.mode == model.AuthAllowMissingOrFailed {
		return nil
	}
	if res.Outcome == Missing && q.mode == model.AuthAllowMissing {
		return nil
	}
	if res.Err == nil {
		if res.Outcome == Missing {
			return ErrMissing
		}
		return ErrVerificationFail
	}
	return res.Err
}

// Apply adds the outputs of the verified identities to r (claim headers,
// payload header) and removes the tokens of providers that do not forward
// them. Call it only after the request is allowed.
//
// A verified token is removed when a provider that verified it does not
// forward tokens (with RequireAll one token may verify for several); a
// token that verified with no provider is removed when any provider
// reading its place does not forward tokens.
func (q *Requirement) Apply(r *http.Request, res Result) {
	set := map[string]bool{}
	for _, id := range res.Identities {
		if pi, ok := q.byName[id.Provider]; ok {
			q.providers[pi].applyOutputs(r.Header, id, set)
		}
	}
	for _, t := range res.tokens {
		if !q.removes(t) {
			continue
		}
		l := q.locs[t.loc]
		switch l.kind {
		case inHeader:
			removeHeaderValue(r.Header, l.name, t.raw)
		case inQuery:
			if r.URL != nil {
				r.URL.RawQuery = removeQueryParam(r.URL.RawQuery, l.name, t.raw)
				r.URL.ForceQuery = false
			}
		case inCookie:
			removeCookie(r.Header, l.name, t.raw)
		}
	}
}

// removes reports whether t must be removed before forwarding.
func (q *Requirement) removes(t foundToken) bool {
	if t.loc < 0 || t.loc >= len(q.locs) {
		return false
	}
	if t.by >= 0 {
		return t.strip
	}
	for _, pi := range q.readers[t.loc] {
		if !q.providers[pi].forward {
			return true
		}
	}
	return false
}

// OutputHeaders are all headers the requirement's providers set.
func (q *Requirement) OutputHeaders() []string { return append([]string(nil), q.outputs...) }
