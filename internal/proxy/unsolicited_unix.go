//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// unsolicited reports whether an idle upstream connection has bytes
// waiting, or was closed by the upstream, looking without waiting and
// without consuming anything (a peek that does not block). A connection
// it cannot look into counts as unsolicited: it is not reused.
func unsolicited(c net.Conn) bool {
	if ic, ok := c.(*idleConn); ok {
		c = ic.Conn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	waiting := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// No error: bytes wait, or none and the upstream closed (EOF);
		// EAGAIN: nothing waits; any other error: the connection broke.
		waiting = rerr != syscall.EAGAIN && rerr != syscall.EWOULDBLOCK
		return true // never wait for readiness
	})
	return waiting || err != nil
}
