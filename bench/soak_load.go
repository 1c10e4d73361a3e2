package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// soakKind is a kind of request the soak sends.
type soakKind int

const (
	kindValid      soakKind = iota // a fresh valid token: 200
	kindReused                     // a valid token sent before (cache hit): 200
	kindExpired                    // expired ten minutes ago: 401
	kindForged                     // payload changed, signature kept: 401
	kindUnknownKid                 // signed by a key never published: 401
	kindMissing                    // no token: 401
	numKinds
)

// soakMix is the order of kinds the soak cycles through: half fresh
// valid tokens, one in ten a reused one, one in ten of each failure.
var soakMix = [...]soakKind{
	kindValid, kindValid, kindValid, kindValid, kindValid,
	kindReused, kindExpired, kindForged, kindUnknownKid, kindMissing,
}

func (k soakKind) String() string {
	return [...]string{"valid", "valid (reused)", "expired", "forged", "unknown kid", "missing"}[k]
}

// expectation is the answer a kind must get: the status and the body
// (trimmed).
type expectation struct {
	status int
	body   string
}

// soakExpected are the answers of the upstream (200) and the bodies
// jwtgate words as Envoy's jwt_authn filter does.
var soakExpected = [numKinds]expectation{
	kindValid:      {http.StatusOK, string(upstreamBody)},
	kindReused:     {http.StatusOK, string(upstreamBody)},
	kindExpired:    {http.StatusUnauthorized, "Jwt is expired"},
	kindForged:     {http.StatusUnauthorized, "Jwt verification fails"},
	kindUnknownKid: {http.StatusUnauthorized, "Jwks doesn't have key to match kid or alg from Jwt"},
	kindMissing:    {http.StatusUnauthorized, "Jwt is missing"},
}

// upstreamBody is what the upstream answers every request with.
var upstreamBody = []byte(`{"ok":true}`)

// tally counts the answers of the soak.
type tally struct {
	mu         sync.Mutex
	sent       [numKinds]int
	expected   [numKinds]int
	unexpected [numKinds]map[string]int // by answer
	firstAt    map[string]time.Duration // when an unexpected answer was first seen
	acceptedBy map[int]int              // valid tokens answered 200, by signing key
	latencies  []time.Duration
	answered   atomic.Int64
	maxLag     time.Duration // the latest a request was sent after its time
}

func newTally() *tally {
	t := &tally{firstAt: map[string]time.Duration{}, acceptedBy: map[int]int{}}
	for i := range t.unexpected {
		t.unexpected[i] = map[string]int{}
	}
	return t
}

// unexpectedTotal is the number of unexpected answers.
func (t *tally) unexpectedTotal() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, m := range t.unexpected {
		for _, c := range m {
			n += c
		}
	}
	return n
}

// soakJob is one request to send.
type soakJob struct {
	seq uint64
	due time.Time
}

// soakLoad sends requests to the gateway at addr at a fixed rate until ctx
// is done, minting each request's token when it is sent, and tallies the
// answers. Times are relative to start.
type soakLoad struct {
	addr   string
	keys   *keyring
	client *http.Client
	tally  *tally
	start  time.Time
}

// run sends rate requests per second until ctx is done, then waits for
// the answers in flight.
func (l *soakLoad) run(ctx context.Context, rate float64) {
	// Enough workers that answers held for a second or two (a token
	// waiting for a key set fetch) do not delay the sends.
	workers := min(2*int(rate)+16, 4096)
	jobs := make(chan soakJob, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				l.send(j)
			}
		}()
	}
	period := time.Duration(float64(time.Second) / rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
loop:
	for seq := uint64(0); ; seq++ {
		due := l.start.Add(time.Duration(seq) * period)
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			break loop
		case <-timer.C:
		}
		select {
		case <-ctx.Done():
			break loop
		case jobs <- soakJob{seq: seq, due: due}:
		}
	}
	close(jobs)
	wg.Wait()
}

// send mints the job's token, sends the request and tallies the answer.
func (l *soakLoad) send(j soakJob) {
	lag := time.Since(j.due)
	kind := soakMix[j.seq%uint64(len(soakMix))]
	token, key, err := l.token(kind, j.seq)
	answer := ""
	var took time.Duration
	if err != nil {
		answer = "minting: " + err.Error()
	} else {
		var ok bool
		answer, took, ok = l.do(token, soakExpected[kind])
		if ok {
			answer = ""
		}
	}
	l.tally.answered.Add(1)
	t := l.tally
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maxLag = max(t.maxLag, lag)
	t.sent[kind]++
	if answer != "" {
		if t.unexpected[kind][answer] == 0 {
			t.firstAt[kind.String()+": "+answer] = time.Since(l.start)
		}
		t.unexpected[kind][answer]++
		return
	}
	t.expected[kind]++
	t.latencies = append(t.latencies, took)
	if kind == kindValid || kind == kindReused {
		t.acceptedBy[key]++
	}
}

// token is the token a request of kind sends ("" for none) and, for
// valid ones, the number of the key that signed it.
func (l *soakLoad) token(kind soakKind, seq uint64) (string, int, error) {
	switch kind {
	case kindValid:
		return l.keys.valid(seq)
	case kindReused:
		return l.keys.reused(seq)
	case kindExpired:
		tok, err := l.keys.expired(seq)
		return tok, 0, err
	case kindForged:
		tok, err := l.keys.forged(seq)
		return tok, 0, err
	case kindUnknownKid:
		tok, err := l.keys.unknownKid(seq)
		return tok, 0, err
	default:
		return "", 0, nil
	}
}

// do sends one GET with token and reports the answer as "STATUS BODY"
// (or the error), how long it took, and whether it is want.
func (l *soakLoad) do(token string, want expectation) (string, time.Duration, bool) {
	req, err := http.NewRequest(http.MethodGet, "http://"+l.addr+"/soak", nil)
	if err != nil {
		return "request: " + err.Error(), 0, false
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	t0 := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		return "error: " + errorKind(err), 0, false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	took := time.Since(t0)
	if err != nil {
		return fmt.Sprintf("%d, body cut: %s", resp.StatusCode, errorKind(err)), took, false
	}
	got := strings.TrimSpace(string(body))
	if resp.StatusCode == want.status && got == want.body {
		return "", took, true
	}
	if len(got) > 100 {
		got = got[:100] + "..."
	}
	return fmt.Sprintf("%d %q", resp.StatusCode, got), took, false
}

// errorKind names a transport error without the addresses and ports that
// would make every occurrence distinct.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection closed"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}
