package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// requests hands out the raw bytes of the next request to send; ok is
// false when there are no more (a pool of fresh tokens ran out).
type requests func() (raw []byte, ok bool)

// fixed always sends the same request.
func fixed(raw []byte) requests {
	return func() ([]byte, bool) { return raw, true }
}

// cycle sends the requests of pool in turn, starting over at the end.
func cycle(pool [][]byte) requests {
	var next atomic.Uint64
	return func() ([]byte, bool) {
		i := next.Add(1) - 1
		return pool[i%uint64(len(pool))], true
	}
}

// rawGET builds an HTTP/1.1 keep-alive GET request; token, when set, is
// sent as a bearer token.
func rawGET(addr, path, token string) []byte {
	return rawRequest(path, addr, "Authorization", token)
}

// rawProxyGET builds the HTTP/1.1 keep-alive GET that a client sends to
// a forward proxy for the absolute http URL target (as http.Transport
// with a Proxy does): the absolute-form target, Host from the URL, and
// token, when set, as a bearer token in Proxy-Authorization. The load
// generator sends it to the proxy's address like any other request.
func rawProxyGET(target, token string) []byte {
	host := strings.TrimPrefix(target, "http://")
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	return rawRequest(target, host, "Proxy-Authorization", token)
}

// rawRequest builds a GET for target with the given Host, and the header
// auth set to "Bearer token" when token is set.
func rawRequest(target, host, auth, token string) []byte {
	s := "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: jwtgate-bench\r\n"
	if token != "" {
		s += auth + ": Bearer " + token + "\r\n"
	}
	return []byte(s + "\r\n")
}

// load runs a closed loop: conns workers, each on its own keep-alive
// connection, send a request, read the whole response, and send the next,
// until d has passed or next runs out. Only 200 answers count as
// requests; anything else counts as an error.
func load(ctx context.Context, name, addr string, conns int, d time.Duration, next requests) (result, error) {
	return loadWith(ctx, name, conns, d, func(ctx context.Context) ([]time.Duration, int, int, error) {
		return worker(ctx, addr, next)
	})
}

// loadWith runs conns copies of work, each a closed-loop client that
// stops when its context does (d from now), and pools what they measured
// with the process's CPU time meanwhile. work returns the latencies of
// the requests answered 200, their number, the number of errors and the
// first error.
func loadWith(ctx context.Context, name string, conns int, d time.Duration, work func(context.Context) ([]time.Duration, int, int, error)) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		parts    [][]time.Duration
		total    int
		errs     int
		firstErr error
	)
	s0 := sampleCPU()
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat, n, e, err := work(ctx)
			mu.Lock()
			defer mu.Unlock()
			parts = append(parts, lat)
			total += n
			errs += e
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	s1 := sampleCPU()
	if total == 0 && firstErr != nil {
		return result{}, fmt.Errorf("%s: %w", name, firstErr)
	}
	return result{name: name, requests: total, errors: errs, firstErr: firstErr, elapsed: elapsed, latencies: merge(parts),
		cpu: s1.self - s0.self, others: othersShare(s0, s1)}, nil
}

// worker is one closed-loop client on one connection (redialed when the
// server closes it).
func worker(ctx context.Context, addr string, next requests) (lat []time.Duration, ok, errs int, err error) {
	var (
		conn net.Conn
		br   *bufio.Reader
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	// A read in progress ends when the run does.
	deadline, _ := ctx.Deadline()
	lat = make([]time.Duration, 0, 1<<14)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		raw, more := next()
		if !more {
			return lat, ok, errs, nil
		}
		if conn == nil {
			var d net.Dialer
			c, derr := d.DialContext(ctx, "tcp", addr)
			if derr != nil {
				if ctx.Err() != nil || !time.Now().Before(deadline) {
					break
				}
				return lat, ok, errs + 1, derr
			}
			_ = c.SetDeadline(deadline)
			conn, br = c, bufio.NewReaderSize(c, 16<<10)
		}
		t0 := time.Now()
		if _, werr := conn.Write(raw); werr != nil {
			conn.Close()
			conn = nil
			if ctx.Err() == nil && time.Now().Before(deadline) {
				errs++
				if err == nil {
					err = werr
				}
			}
			continue
		}
		resp, rerr := http.ReadResponse(br, nil)
		if rerr == nil {
			_, rerr = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if rerr != nil {
			conn.Close()
			conn = nil
			// The connection deadline ends reads in progress when the
			// run ends: those are not errors.
			if ctx.Err() == nil && time.Now().Before(deadline) {
				errs++
				if err == nil {
					err = rerr
				}
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			errs++
			if err == nil {
				err = fmt.Errorf("status %s", resp.Status)
			}
		} else {
			lat = append(lat, time.Since(t0))
			ok++
		}
		if resp.Close {
			conn.Close()
			conn = nil
		}
	}
	return lat, ok, errs, err
}
