package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// Bodies of the answers to requests that ran out of time (Envoy's
// wording: its stream idle timeout and its max_stream_duration).
const (
	bodyStreamTimeout   = "stream timeout"
	bodyDurationTimeout = "downstream duration timeout"
)

// hdrClose ends the connection after an answer that leaves part of the
// request unread.
var hdrClose = []string{"close"}

// errMaxDuration is the cause of a request context that the listener's
// maxRequestDuration ended.
var errMaxDuration = errors.New("request duration limit reached")

// errResponseCut is the access log's upstream_error for a response whose
// body the upstream did not finish.
var errResponseCut = errors.New("response body cut short: the upstream closed or reset the connection, or was silent past the backend's bodyIdleTimeout")

// clientBodyKey is the context key of a request's *clientBody.
type clientBodyKey struct{}

// durationExceeded reports whether ctx ended at the listener's
// maxRequestDuration.
func durationExceeded(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), errMaxDuration)
}

// clientBody is a request body read under the listener's body idle
// timeout: before each read, the connection's (or, in HTTP/2, the
// stream's) read deadline is set to the idle timeout from now, or to the
// end of the request's maximum duration if that comes first. It
// remembers the first error, so that the gateway can tell a client's
// broken body from an upstream failure.
//
// Reads may come from the upstream transport's goroutine, even after the
// handler returned: deadlines are set under mu, and not once the body
// ended or the handler returned, so that a late read never moves the
// deadline of the connection's next request.
type clientBody struct {
	body io.ReadCloser
	w    http.ResponseWriter
	idle time.Duration
	end  time.Time // zero: no maximum duration

	mu       sync.Mutex
	cond     sync.Cond // a read returned, or fault gave up waiting
	reading  bool
	deadline time.Time // of the read in flight, or of the last one
	stop     bool      // the body ended or failed, or the handler returned
	err      error     // the first read error other than io.EOF
}

func newClientBody(body io.ReadCloser, w http.ResponseWriter, idle time.Duration, end time.Time) *clientBody {
	cb := &clientBody{body: body, w: w, idle: idle, end: end}
	cb.cond.L = &cb.mu
	return cb
}

// Read reads the client's body with a deadline.
func (cb *clientBody) Read(p []byte) (int, error) {
	cb.mu.Lock()
	if !cb.stop {
		dl := time.Now().Add(cb.idle)
		if !cb.end.IsZero() && cb.end.Before(dl) {
			dl = cb.end
		}
		cb.deadline = dl
		_ = http.NewResponseController(cb.w).SetReadDeadline(dl)
	}
	cb.reading = true
	cb.mu.Unlock()

	n, err := cb.body.Read(p)

	cb.mu.Lock()
	cb.reading = false
	if err != nil {
		// At io.EOF net/http clears the deadline itself (and starts
		// watching for the client going away): no deadline after it.
		cb.stop = true
		if err != io.EOF && cb.err == nil {
			cb.err = err
		}
	}
	cb.cond.Broadcast()
	cb.mu.Unlock()
	return n, err
}

// Close closes the underlying body.
func (cb *clientBody) Close() error { return cb.body.Close() }

// handlerDone stops setting deadlines: the connection may serve its next
// request.
func (cb *clientBody) handlerDone() {
	cb.mu.Lock()
	cb.stop = true
	cb.mu.Unlock()
}

// settleWait bounds how long fault waits for a read in flight that is
// about to fail.
const settleWait = time.Second

// fault is the answer a broken request body calls for; ok is false when
// the body did not break. When the request's context has ended, or the
// read deadline has passed, a read in flight is about to return (net/http
// cancels the context of a request whose connection failed, before the
// read returns): fault waits for it, briefly.
func (cb *clientBody) fault(ctx context.Context) (o outcome, ok bool) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.reading && (ctx.Err() != nil || !time.Now().Before(cb.deadline)) {
		gaveUp := false
		t := time.AfterFunc(settleWait, func() {
			cb.mu.Lock()
			gaveUp = true
			cb.cond.Broadcast()
			cb.mu.Unlock()
		})
		for cb.reading && !gaveUp {
			cb.cond.Wait()
		}
		t.Stop()
	}
	err := cb.err
	var op *net.OpError
	switch {
	case err == nil:
		return outcome{}, false
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !cb.end.IsZero() && !cb.deadline.Before(cb.end) {
			return outcome{status: http.StatusRequestTimeout, body: bodyDurationTimeout, reason: "request duration limit"}, true
		}
		return outcome{status: http.StatusRequestTimeout, body: bodyStreamTimeout, reason: "request body idle timeout"}, true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &op), ctx.Err() != nil:
		return outcome{status: http.StatusBadRequest, reason: "request body incomplete"}, true
	default:
		return outcome{status: http.StatusBadRequest, reason: "request body malformed"}, true
	}
}

// clientFault is the answer a broken request body of r calls for, if it
// broke; r is the incoming request or the one sent upstream, whose
// contexts carry the body.
func clientFault(r *http.Request) (outcome, bool) {
	cb, ok := r.Context().Value(clientBodyKey{}).(*clientBody)
	if !ok {
		return outcome{}, false
	}
	return cb.fault(r.Context())
}

// answerClientFault answers a request whose body broke before the
// upstream answered: the client's fault, so no upstream time or error
// is recorded. HTTP/1 connections are closed after it: the rest of the
// body is unread.
func answerClientFault(w http.ResponseWriter, r *http.Request, o outcome) {
	if rec, ok := w.(*recorder); ok && rec.x != nil {
		rec.x.fwdStart = time.Time{}
	}
	if r.ProtoMajor == 1 {
		w.Header()["Connection"] = hdrClose
	}
	answer(w, o)
}

// noteAbort explains, for the access log and the metrics, a forwarded
// exchange that broke after its response started: ReverseProxy aborted
// the handler and net/http closes the client's connection without ending
// the response (HTTP/1.1's one way to say the body is incomplete; HTTP/2
// resets the stream). The status logged says whose fault it was: 400 or
// 408 for the client's body, 408 for the maximum duration, 502 for the
// upstream; a client that went away keeps the status sent. The reason
// says which status was sent.
func (l *listener) noteAbort(x *exchange, r *http.Request) {
	if x.fwdStart.IsZero() || !x.rec.wrote || x.rec.status == http.StatusSwitchingProtocols {
		return
	}
	sent := " after " + strconv.Itoa(x.rec.status) + " was sent"
	if o, ok := clientFault(r); ok {
		x.rec.status, x.reason = o.status, o.reason+sent
		return
	}
	ctx := r.Context()
	switch {
	case durationExceeded(ctx):
		x.rec.status, x.reason = http.StatusRequestTimeout, "request duration limit"+sent
	case ctx.Err() != nil:
		x.reason = "client went away" + sent
	default:
		x.rec.status, x.reason = http.StatusBadGateway, "upstream response cut"+sent
		if x.rec.upstreamErr == nil {
			x.rec.upstreamErr = errResponseCut
		}
	}
}
