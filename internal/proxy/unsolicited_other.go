//go:build !unix

package proxy

import "net"

// unsolicited reports whether an idle upstream connection may have bytes
// waiting. Without a non-blocking peek on this platform it cannot tell,
// so no connection is reused: each request dials.
func unsolicited(net.Conn) bool { return true }
