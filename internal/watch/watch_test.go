package watch

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// testDebounce is short so that tests are quick; no test asserts timing
// against it beyond an upper bound on calls.
const testDebounce = 30 * time.Millisecond

// wait is the deadline for anything expected to happen.
const wait = 5 * time.Second

// recorder counts onChange calls and keeps the events the Watcher saw.
type recorder struct {
	calls    atomic.Int32
	inflight atomic.Int32
	overlap  atomic.Bool
	called   chan struct{} // one send per call, never blocking
	block    func()        // run inside onChange, when set before start

	mu     sync.Mutex
	seen   []fsnotify.Event // every event, in order
	rel    []string         // names of relevant events, in order
	notify chan struct{}    // capacity 1: seen grew
}

func newRecorder() *recorder {
	return &recorder{called: make(chan struct{}, 1000), notify: make(chan struct{}, 1)}
}

func (r *recorder) onChange() {
	if r.inflight.Add(1) > 1 {
		r.overlap.Store(true)
	}
	if r.block != nil {
		r.block()
	}
	r.calls.Add(1)
	r.inflight.Add(-1)
	select {
	case r.called <- struct{}{}:
	default:
	}
}

func (r *recorder) observe(ev fsnotify.Event, relevant bool) {
	r.mu.Lock()
	r.seen = append(r.seen, ev)
	if relevant {
		r.rel = append(r.rel, ev.Name)
	}
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) relevant() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.rel)
}

// start watches paths with r, closing the Watcher at the end of the test.
func start(t *testing.T, r *recorder, debounce time.Duration, paths ...string) *Watcher {
	t.Helper()
	w, err := newWatcher(paths, debounce, r.onChange, r.observe)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if r.overlap.Load() {
			t.Error("onChange ran concurrently with itself")
		}
	})
	return w
}

// waitCalls waits until onChange has been called at least n times.
func waitCalls(t *testing.T, r *recorder, n int32) {
	t.Helper()
	deadline := time.After(wait)
	for r.calls.Load() < n {
		select {
		case <-r.called:
		case <-deadline:
			t.Fatalf("onChange called %d times, want %d; relevant events %q", r.calls.Load(), n, r.relevant())
		}
	}
}

// waitSeen waits until the Watcher has seen an event on path (relevant or
// not). Events of one watcher arrive in order, so every event caused before
// the one on path has been handled by then.
func waitSeen(t *testing.T, r *recorder, path string) {
	t.Helper()
	deadline := time.After(wait)
	for {
		r.mu.Lock()
		found := slices.ContainsFunc(r.seen, func(ev fsnotify.Event) bool { return ev.Name == path })
		r.mu.Unlock()
		if found {
			return
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("no event seen on %s", path)
		}
	}
}

// assertQuiet proves that what was done before it triggers nothing: it
// creates an irrelevant sentinel file in dir (a watched directory), waits
// until the Watcher has handled its event, and so everything before it, and
// checks that no event was relevant, so no change is pending.
func assertQuiet(t *testing.T, r *recorder, dir string) {
	t.Helper()
	sentinel := filepath.Join(dir, "zz-sentinel.txt")
	write(t, sentinel, "x")
	waitSeen(t, r, sentinel)
	if rel := r.relevant(); len(rel) > 0 {
		t.Fatalf("relevant events %q, want none", rel)
	}
	if n := r.calls.Load(); n != 0 {
		t.Fatalf("onChange called %d times, want 0", n)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symbolic links: %v", err)
	}
}

// realTempDir is t.TempDir with symbolic links resolved (macOS's /var is
// one), so that event names compare equal to paths built from it.
func realTempDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestWriteInPlace(t *testing.T) {
	dir := realTempDir(t)
	gw := filepath.Join(dir, "gw.yaml")
	write(t, gw, "a: 1\n")
	r := newRecorder()
	start(t, r, testDebounce, gw)

	f, err := os.OpenFile(gw, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("b: 2\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, r, 1)
}

func TestRenameReplace(t *testing.T) {
	dir := realTempDir(t)
	gw := filepath.Join(dir, "gw.yaml")
	write(t, gw, "a: 1\n")
	r := newRecorder()
	start(t, r, testDebounce, gw)

	for i := range int32(2) { // twice: the watch survives the first
		tmp := filepath.Join(dir, ".gw.yaml.swp")
		write(t, tmp, "a: 2\n")
		if err := os.Rename(tmp, gw); err != nil {
			t.Fatal(err)
		}
		waitCalls(t, r, i+1)
	}
}

func TestDeleteThenRecreate(t *testing.T) {
	dir := realTempDir(t)
	key := filepath.Join(dir, "key.pem")
	write(t, key, "old")
	r := newRecorder()
	start(t, r, testDebounce, key)

	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, r, 1)
	write(t, key, "new")
	waitCalls(t, r, 2)
}

func TestMissingFileCreated(t *testing.T) {
	dir := realTempDir(t)
	jwks := filepath.Join(dir, "jwks.json")
	r := newRecorder()
	start(t, r, testDebounce, jwks)
	write(t, jwks, "{}")
	waitCalls(t, r, 1)
}

func TestNothingToWatch(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dir", "gw.yaml")
	w, err := New([]string{missing}, testDebounce, func() {})
	if err == nil {
		w.Close()
		t.Fatal("New succeeded with nothing to watch")
	}
	if _, err := New(nil, testDebounce, func() {}); err == nil {
		t.Fatal("New succeeded with no paths")
	}
}

func TestFolderNewYAML(t *testing.T) {
	for _, name := range []string{"b.yaml", "b.yml"} {
		t.Run(name, func(t *testing.T) {
			dir := realTempDir(t)
			write(t, filepath.Join(dir, "a.yaml"), "a: 1\n")
			r := newRecorder()
			start(t, r, testDebounce, dir)
			write(t, filepath.Join(dir, name), "b: 1\n")
			waitCalls(t, r, 1)
		})
	}
}

func TestFolderIgnoresOtherFiles(t *testing.T) {
	dir := realTempDir(t)
	write(t, filepath.Join(dir, "a.yaml"), "a: 1\n")
	r := newRecorder()
	start(t, r, testDebounce, dir)

	write(t, filepath.Join(dir, "notes.txt"), "x")
	write(t, filepath.Join(dir, ".hidden.yaml"), "x")
	write(t, filepath.Join(dir, "a.yaml~"), "x")
	write(t, filepath.Join(dir, "a.yaml.bak"), "x")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "sub", "c.yaml"), "x") // subfolders are not read
	assertQuiet(t, r, dir)
}

func TestUnrelatedFileInSameDir(t *testing.T) {
	dir := realTempDir(t)
	gw := filepath.Join(dir, "gw.yaml")
	write(t, gw, "a: 1\n")
	r := newRecorder()
	start(t, r, testDebounce, gw)

	write(t, filepath.Join(dir, "other.yaml"), "x")
	write(t, filepath.Join(dir, "gw.yaml.bak"), "x")
	if err := os.Remove(filepath.Join(dir, "other.yaml")); err != nil {
		t.Fatal(err)
	}
	assertQuiet(t, r, dir)
}

// configMap builds a Kubernetes ConfigMap volume in dir holding gw.yaml, as
// the kubelet does, and returns a function swapping in new data.
func configMap(t *testing.T, dir string) (swap func(data string)) {
	t.Helper()
	n := 0
	publish := func(data string) string {
		n++
		ts := filepath.Join(dir, "..2026_01_0"+string(rune('0'+n)))
		if err := os.Mkdir(ts, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(ts, "gw.yaml"), data)
		return filepath.Base(ts)
	}
	symlink(t, publish("v: 1\n"), filepath.Join(dir, dataLink))
	symlink(t, filepath.Join(dataLink, "gw.yaml"), filepath.Join(dir, "gw.yaml"))
	return func(data string) {
		tmp := filepath.Join(dir, "..data_tmp")
		symlink(t, publish(data), tmp)
		if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConfigMapSwap(t *testing.T) {
	for _, mode := range []string{"file", "folder"} {
		t.Run(mode, func(t *testing.T) {
			dir := realTempDir(t)
			swap := configMap(t, dir)
			path := dir
			if mode == "file" {
				path = filepath.Join(dir, "gw.yaml")
			}
			r := newRecorder()
			start(t, r, testDebounce, path)
			for i := range int32(3) { // each swap, not just the first
				swap("v: " + string(rune('2'+i)) + "\n")
				waitCalls(t, r, i+1)
			}
		})
	}
}

// A `current -> releases/N` link in the middle of a path is swapped.
func TestSymlinkedDirSwap(t *testing.T) {
	dir := realTempDir(t)
	for _, v := range []string{"v1", "v2"} {
		if err := os.MkdirAll(filepath.Join(dir, "releases", v), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "releases", v, "gw.yaml"), v)
	}
	current := filepath.Join(dir, "current")
	symlink(t, filepath.Join("releases", "v1"), current)
	r := newRecorder()
	start(t, r, testDebounce, filepath.Join(current, "gw.yaml"))

	tmp := filepath.Join(dir, "current.tmp")
	symlink(t, filepath.Join("releases", "v2"), tmp)
	if err := os.Rename(tmp, current); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, r, 1)
	// Now the file read is in releases/v2, which must be watched.
	write(t, filepath.Join(dir, "releases", "v2", "gw.yaml"), "v2 edited")
	waitCalls(t, r, 2)
}

func TestFolderRecreated(t *testing.T) {
	root := realTempDir(t)
	dir := filepath.Join(root, "conf.d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "a.yaml"), "a: 1\n")
	r := newRecorder()
	start(t, r, testDebounce, dir)

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, r, 1)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, r, 2)
	// The new folder is watched: a file written into it is seen.
	write(t, filepath.Join(dir, "b.yaml"), "b: 1\n")
	waitCalls(t, r, 3)
}

func TestDebounceCoalesces(t *testing.T) {
	const debounce = 200 * time.Millisecond // as callers use
	dir := realTempDir(t)
	gw := filepath.Join(dir, "gw.yaml")
	write(t, gw, "a: 0\n")
	r := newRecorder()
	start(t, r, debounce, gw)

	for i := range 10 {
		write(t, gw, "a: "+string(rune('0'+i))+"\n")
	}
	waitCalls(t, r, 1)
	// A second call is allowed if the machine stalled past the window
	// between two writes; wait long enough for one to show.
	time.Sleep(3 * debounce)
	if n := r.calls.Load(); n > 2 {
		t.Fatalf("10 quick writes made %d calls, want 1 (2 at most)", n)
	}
}

func TestChangeDuringOnChange(t *testing.T) {
	dir := realTempDir(t)
	gw := filepath.Join(dir, "gw.yaml")
	write(t, gw, "a: 1\n")
	r := newRecorder()
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	var first atomic.Bool
	r.block = func() {
		entered <- struct{}{}
		if first.CompareAndSwap(false, true) {
			<-release
		}
	}
	start(t, r, testDebounce, gw)

	write(t, gw, "a: 2\n")
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatal("onChange not called")
	}
	before := len(r.relevant())
	write(t, gw, "a: 3\n")
	deadline := time.After(wait)
	for len(r.relevant()) == before {
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatal("write during onChange not seen")
		}
	}
	close(release)
	waitCalls(t, r, 2)
}

func TestSet(t *testing.T) {
	dir := realTempDir(t)
	other := realTempDir(t)
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	c := filepath.Join(other, "c.pem")
	write(t, a, "a")
	write(t, b, "b")
	write(t, c, "c")
	r := newRecorder()
	w := start(t, r, testDebounce, a)

	if err := w.Set([]string{b, c}); err != nil {
		t.Fatal(err)
	}
	write(t, a, "a2") // no longer watched
	assertQuiet(t, r, dir)
	write(t, c, "c2")
	waitCalls(t, r, 1)
	write(t, b, "b2")
	waitCalls(t, r, 2)

	// Dropping other's only file stops watching it.
	if err := w.Set([]string{b}); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(w.fsw.WatchList(), other) {
		t.Errorf("%s still watched after Set dropped it", other)
	}
}

func TestSetFromOnChange(t *testing.T) {
	dir := realTempDir(t)
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write(t, a, "a")
	write(t, b, "b")
	r := newRecorder()
	var w *Watcher
	var setErr error
	ready := make(chan struct{})
	r.block = func() {
		<-ready
		if r.calls.Load() == 0 {
			setErr = w.Set([]string{a, b})
		}
	}
	w = start(t, r, testDebounce, a)
	close(ready)

	write(t, a, "a2")
	waitCalls(t, r, 1)
	if setErr != nil {
		t.Fatal(setErr)
	}
	write(t, b, "b2")
	waitCalls(t, r, 2)
}

func TestCloseStopsCalls(t *testing.T) {
	dir := realTempDir(t)
	gw := filepath.Join(dir, "gw.yaml")
	write(t, gw, "a: 1\n")
	r := newRecorder()
	w, err := New([]string{gw}, testDebounce, r.onChange)
	if err != nil {
		t.Fatal(err)
	}
	write(t, gw, "a: 2\n")
	waitCalls(t, r, 1)
	write(t, gw, "a: 3\n") // may or may not be called before Close
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	n := r.calls.Load()
	write(t, gw, "a: 4\n")
	time.Sleep(5 * testDebounce)
	if got := r.calls.Load(); got != n {
		t.Fatalf("onChange called %d times after Close", got-n)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Set([]string{gw}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Set after Close: %v, want ErrClosed", err)
	}
}

func TestCloseWaitsForOnChange(t *testing.T) {
	dir := realTempDir(t)
	gw := filepath.Join(dir, "gw.yaml")
	write(t, gw, "a: 1\n")
	r := newRecorder()
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	r.block = func() {
		once.Do(func() { close(entered) })
		<-release
	}
	w, err := New([]string{gw}, testDebounce, r.onChange)
	if err != nil {
		t.Fatal(err)
	}
	write(t, gw, "a: 2\n")
	<-entered
	closed := make(chan error)
	go func() { closed <- w.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while onChange was running")
	default:
	}
	close(release)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not return after onChange did")
	}
	if n := r.calls.Load(); n != 1 {
		t.Fatalf("onChange called %d times, want 1", n)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	dir := realTempDir(t)
	gw := filepath.Join(dir, "gw.yaml")
	write(t, gw, "a: 1\n")
	before := runtime.NumGoroutine()
	for range 5 {
		r := newRecorder()
		w, err := New([]string{gw, dir}, testDebounce, r.onChange)
		if err != nil {
			t.Fatal(err)
		}
		write(t, gw, "a: 2\n")
		waitCalls(t, r, 1)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
