package proxy

import (
	"net/http"
	"strconv"
	"strings"
)

// gRPC requests pass through like any other: the upstream's trailers
// (grpc-status, grpc-message) reach the client, and a streamed response
// is flushed as it arrives (ReverseProxy flushes at once a response
// without a Content-Length). What changes is the gateway's own answers:
// a gRPC client reads its status from grpc-status, not from the HTTP
// status, so every answer to a gRPC request takes the form Envoy gives
// its local replies (Http::Utility::prepareLocalReply): HTTP 200, no
// body ("trailers-only"), Content-Type application/grpc, grpc-status
// mapped from the HTTP status (grpcStatus) and grpc-message the body,
// percent-encoded. Other headers of the answer (WWW-Authenticate, a
// redirect's Location, a route's responseHeaders) are kept, as Envoy
// keeps them.

// isGRPC reports whether r is a gRPC request, as Envoy decides it
// (Grpc::Common::hasGrpcContentType): its Content-Type is exactly
// "application/grpc" or starts with "application/grpc+"
// ("application/grpc-web" is not gRPC).
func isGRPC(r *http.Request) bool {
	ct := r.Header["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	rest, ok := strings.CutPrefix(ct[0], "application/grpc")
	return ok && (rest == "" || rest[0] == '+')
}

// grpcAnswers reports whether the gateway's answers written to w take
// gRPC's form: w is the recorder of a gRPC request.
func grpcAnswers(w http.ResponseWriter) bool {
	rec, ok := w.(*recorder)
	return ok && rec.grpc
}

// gRPC status codes the gateway sends.
const (
	grpcUnknown          = 2
	grpcPermissionDenied = 7
	grpcUnimplemented    = 12
	grpcInternal         = 13
	grpcUnavailable      = 14
	grpcUnauthenticated  = 16
)

// grpcStatus maps the HTTP status of an answer to the gRPC status a
// gRPC client gets, as Envoy does (Grpc::Utility::httpToGrpcStatus,
// after gRPC's http-grpc-status-mapping).
func grpcStatus(httpStatus int) int {
	switch httpStatus {
	case http.StatusBadRequest:
		return grpcInternal
	case http.StatusUnauthorized:
		return grpcUnauthenticated
	case http.StatusForbidden:
		return grpcPermissionDenied
	case http.StatusNotFound:
		return grpcUnimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return grpcUnavailable
	}
	return grpcUnknown
}

// grpcStatusValues are the grpc-status header values, shared and never
// modified, so that answering allocates no string for them.
var grpcStatusValues = func() [17][]string {
	var out [17][]string
	for i := range out {
		out[i] = []string{strconv.Itoa(i)}
	}
	return out
}()

var hdrGRPC = []string{"application/grpc"}

// writeGRPC writes the answer o to a gRPC request, its other headers set:
// 200 with no body, Content-Type application/grpc, grpc-status and, for a
// body, grpc-message. The access log and the metrics keep the HTTP status
// the gateway decided (o.status), which the client sees as grpc-status.
func writeGRPC(w http.ResponseWriter, o outcome) {
	h := w.Header()
	delete(h, "Content-Length")
	delete(h, "X-Content-Type-Options")
	h["Content-Type"] = hdrGRPC
	if _, set := h["Grpc-Status"]; !set { // a route's responseHeaders may set it, as in Envoy
		h["Grpc-Status"] = grpcStatusValues[grpcStatus(o.status)]
	}
	if o.body != "" {
		h["Grpc-Message"] = []string{grpcPercentEncode(o.body)}
	}
	if rec, ok := w.(*recorder); ok && rec.status == 0 {
		rec.status = o.status
	}
	w.WriteHeader(http.StatusOK)
}

// grpcPercentEncode encodes a grpc-message value as Envoy does
// (Http::Utility::PercentEncoding::encode): every byte below a space or
// from '~' up, and '%', becomes %XX with upper-case hex digits. gRPC
// clients decode it back. A value with nothing to encode is returned as
// is.
func grpcPercentEncode(s string) string {
	i := 0
	for i < len(s) && !grpcEscaped(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if !grpcEscaped(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte("0123456789ABCDEF"[c>>4])
		b.WriteByte("0123456789ABCDEF"[c&15])
	}
	return b.String()
}

func grpcEscaped(c byte) bool { return c < ' ' || c >= '~' || c == '%' }
