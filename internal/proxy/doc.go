// Package proxy is jwtgate's data plane: it compiles a model.Config into
// an immutable Runtime (route tables, JWT requirements, policy engines,
// pooled upstream transports, listener TLS) and serves it with a Server.
//
// Every request runs the same pipeline: normalize the path (400 when that
// cannot be done safely), route (404), strip the headers the gateway sets,
// authenticate and authorize in the route's phase order (401/403), add the
// outputs of a verified token, and forward with httputil.ReverseProxy
// (503/504 on upstream failure). docs/proxy.md is the contract.
//
// A Server swaps Runtimes atomically on Reload: each request finishes on
// the Runtime it started on, and the replaced Runtime is closed once idle.
package proxy
