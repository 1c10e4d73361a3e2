package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"jwtgate.dev/jwtgate/internal/model"
)

// maxSecretBytes bounds a credential file.
const maxSecretBytes = 16 << 10

// secretCheckInterval is how often a credential file is looked at for a
// change: a rotated secret is in use at most this long after it is
// written.
const secretCheckInterval = time.Second

// injector sets one header from a secret file on allowed egress requests.
// The value is never logged, reported or exposed: errors name the file,
// never its contents.
type injector struct {
	header string // canonical
	prefix string
	file   string
	logger *slog.Logger

	value atomic.Pointer[[]string] // the header value, shared read-only
	next  atomic.Int64             // unix nanos of the next check
	mu    sync.Mutex               // one reader of the file at a time
}

func newInjector(in model.CredentialInjection, logger *slog.Logger) (*injector, error) {
	j := &injector{header: http.CanonicalHeaderKey(in.Header), prefix: in.Prefix, file: in.File, logger: logger}
	v, err := readSecret(in.File)
	if err != nil {
		return nil, err
	}
	j.store(v)
	j.next.Store(time.Now().Add(secretCheckInterval).UnixNano())
	return j, nil
}

func (j *injector) store(secret string) {
	v := []string{j.prefix + secret}
	j.value.Store(&v)
}

// readSecret reads a credential file: at most maxSecretBytes, trailing
// white space removed, no line breaks or NUL inside.
func readSecret(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("reading credential file: %w", unwrapPath(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading credential file: %w", unwrapPath(err))
	}
	switch b = bytes.TrimRight(b, " \t\r\n"); {
	case len(b) > maxSecretBytes:
		return "", fmt.Errorf("credential file %s is larger than %d bytes", file, maxSecretBytes)
	case len(b) == 0:
		return "", fmt.Errorf("credential file %s is empty", file)
	case bytes.ContainsAny(b, "\r\n\x00"):
		return "", fmt.Errorf("credential file %s holds a line break or NUL inside its value", file)
	}
	return string(b), nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// apply sets the header on r, replacing what the caller sent.
func (j *injector) apply(r *http.Request, now time.Time) {
	if n := now.UnixNano(); n >= j.next.Load() {
		j.refresh(n)
	}
	r.Header[j.header] = *j.value.Load()
}

// refresh reads the file again (it is small; reading it is simpler and
// surer than watching it: a Kubernetes secret volume swaps a symbolic
// link, an editor replaces the file). A file that cannot be read keeps
// the last good value.
func (j *injector) refresh(now int64) {
	if !j.mu.TryLock() {
		return // another request is reading it
	}
	defer j.mu.Unlock()
	if now < j.next.Load() {
		return
	}
	j.next.Store(now + int64(secretCheckInterval))
	v, err := readSecret(j.file)
	if err != nil {
		j.logger.Warn("credential file unreadable, keeping the last value", "file", j.file, "error", err)
		return
	}
	if cur := *j.value.Load(); cur[0] != j.prefix+v {
		j.store(v)
	}
}
