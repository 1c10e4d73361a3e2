package proxy

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"time"
)

// Bodies and headers of the responses the gateway writes itself.
const (
	bodyDenied = "RBAC: access denied"
	textPlain  = "text/plain"
)

// answer is the one writer of the gateway's own responses: it turns an
// outcome into status, headers and body.
func answer(w http.ResponseWriter, o outcome) {
	if rec, ok := w.(*recorder); ok && rec.x != nil && rec.x.reason == "" {
		rec.x.reason = o.reason
	}
	if o.challenge != "" {
		if o.proxy {
			w.Header()["Proxy-Authenticate"] = []string{o.challenge}
		} else {
			w.Header()["Www-Authenticate"] = []string{o.challenge}
		}
	}
	if o.location != "" {
		w.Header()["Location"] = []string{o.location}
	}
	if grpcAnswers(w) {
		if o.edit != nil {
			o.edit.apply(w.Header())
		}
		writeGRPC(w, o) // grpc.go: 200, grpc-status, grpc-message
		return
	}
	if o.edit != nil {
		h := w.Header()
		textHeaders(h, o.body)
		o.edit.apply(h)
		writeBody(w, o.status, o.body)
		return
	}
	writeText(w, o.status, o.body)
}

// finish ends every request: it recovers a panic (500), then writes the
// access log line and the metrics.
func (l *listener) finish(x *exchange, r *http.Request) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			l.noteAbort(x, r) // whose fault the broken exchange was (body.go)
			l.record(x, r)
			x.reset()
			panic(v)
		}
		l.rt.logger.Error("handler panic", "listener", l.name, "route", x.routeName(), "panic", v, "stack", string(debug.Stack()))
		if !x.rec.wrote {
			writeText(&x.rec, http.StatusInternalServerError, "")
		} else if x.rec.status == 0 {
			x.rec.status = http.StatusInternalServerError
		}
	}
	l.record(x, r)
	x.reset()
	exchanges.Put(x)
}

func (x *exchange) reset() {
	*x = exchange{}
}

func (x *exchange) routeName() string {
	if x.route == nil {
		return ""
	}
	return x.route.name
}

// record writes the access log line and the request metrics.
func (l *listener) record(x *exchange, r *http.Request) {
	status := x.rec.status
	if status == 0 {
		status = http.StatusOK
	}
	if x.route != nil {
		x.route.metrics.Observe(status, x.upstreamDur)
	} else {
		l.noRoute.Observe(status, -1)
	}
	l.noteDenied(x, r, status)
	l.log(x, r, status)
}

// Header values shared by every response the gateway writes itself. They
// are never modified, only replaced.
var (
	hdrTextPlain = []string{textPlain}
	hdrNoSniff   = []string{"nosniff"}
)

// contentLengths are shared Content-Length values for the short bodies the
// gateway writes, so that answering allocates nothing.
var contentLengths = func() [][]string {
	out := make([][]string, 128)
	for i := range out {
		out[i] = []string{strconv.Itoa(i)}
	}
	return out
}()

func contentLength(n int) []string {
	if n < len(contentLengths) {
		return contentLengths[n]
	}
	return []string{strconv.Itoa(n)}
}

// writeText writes one of the gateway's own responses: a text/plain body
// (none for an empty one) with its Content-Length.
func writeText(w http.ResponseWriter, status int, body string) {
	textHeaders(w.Header(), body)
	writeBody(w, status, body)
}

// textHeaders sets the headers of a text/plain body.
func textHeaders(h http.Header, body string) {
	if body != "" {
		h["Content-Type"] = hdrTextPlain
		h["X-Content-Type-Options"] = hdrNoSniff
	} else {
		delete(h, "Content-Type")
	}
	h["Content-Length"] = contentLength(len(body))
}

// writeBody sends the status and the body, headers set.
func writeBody(w http.ResponseWriter, status int, body string) {
	w.WriteHeader(status)
	if body != "" {
		_, _ = io.WriteString(w, body)
	}
}

// log writes the access log line. It never includes the query string, a
// token or a header value.
func (l *listener) log(x *exchange, r *http.Request, status int) {
	lg := l.rt.logger
	ctx := r.Context()
	if !lg.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := [...]slog.Attr{
		slog.String("listener", l.name),
		slog.String("route", x.routeName()),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", x.path),
		slog.Int("status", status),
		slog.String("authn", x.authn),
		slog.String("reason", x.reason),
		slog.String("detail", x.detail),
		slog.String("sub", x.sub),
		slog.String("policy", x.policy),
		slog.String("rule", x.rule),
		slog.String("upstream", x.upstream),
		slog.Float64("duration_ms", float64(time.Since(x.start).Microseconds())/1000),
		{},
	}
	n := len(attrs) - 1
	if err := x.rec.upstreamErr; err != nil {
		attrs[n] = slog.String("upstream_error", upstreamErrorText(err))
		n++
	}
	lg.LogAttrs(ctx, slog.LevelInfo, "access", attrs[:n]...)
}

// upstreamErrorText is the transport error for the log, without the
// request URL (and so without its query) that *url.Error would add.
func upstreamErrorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// recorder remembers the status written, for the access log, and passes
// everything else (Flush, Hijack through Unwrap) to the real writer.
type recorder struct {
	http.ResponseWriter
	x           *exchange
	status      int
	wrote       bool
	upstreamErr error
	// grpc: the request is a gRPC request (isGRPC), so the gateway's own
	// answers to it take gRPC's form (writeGRPC).
	grpc bool
}

func (w *recorder) WriteHeader(code int) {
	if x := w.x; x != nil && !x.fwdStart.IsZero() && x.upstreamDur < 0 && w.upstreamErr == nil && !w.wrote {
		x.upstreamDur = time.Since(x.fwdStart)
	}
	if !w.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.wrote = true
		if w.status == 0 {
			w.status = code
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.wrote = true
		if w.status == 0 {
			w.status = http.StatusOK
		}
	}
	return w.ResponseWriter.Write(b)
}

// WriteString avoids copying the gateway's own bodies into a []byte.
func (w *recorder) WriteString(s string) (int, error) {
	if !w.wrote {
		w.wrote = true
		if w.status == 0 {
			w.status = http.StatusOK
		}
	}
	return io.WriteString(w.ResponseWriter, s)
}

// Hijack hands the connection over (an upgrade the upstream accepted);
// the exchange is logged as 101.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.wrote = true
		w.status = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

// Unwrap lets http.ResponseController reach Flush and the rest.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
