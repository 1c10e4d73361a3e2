package watch

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ErrClosed is returned by [Watcher.Set] after [Watcher.Close].
var ErrClosed = errors.New("watch: watcher closed")

// Watcher watches paths and calls a function, debounced, when any of them
// changes. Its methods may be called from any goroutine, Set also from the
// function itself.
type Watcher struct {
	fsw      *fsnotify.Watcher
	debounce time.Duration
	onChange func()
	// observe, when set (by tests), sees every event and whether it was
	// relevant, before the change is flagged.
	observe func(ev fsnotify.Event, relevant bool)

	// mu serialises working out and applying the watch set (Set, the
	// re-check before each call, Close), so that the last one wins whole.
	mu      sync.Mutex
	paths   []string            // the paths asked for, absolute; by mu
	watched map[string]struct{} // directories added to fsw; by mu
	closed  bool                // by mu

	// rules is the published plan, read by the event loop without mu.
	rules atomic.Pointer[plan]

	// changed is the coalesced "something changed" flag: a send that finds
	// it full is dropped, as the change it reports is already pending.
	changed chan struct{}
	done    chan struct{} // closed by Close
	wg      sync.WaitGroup
}

// New watches paths: configuration files, configuration folders and files
// the configuration references. A relative path is taken from the current
// directory. A path that does not exist yet is watched for in its parent
// directory, when that exists.
//
// onChange is called once a burst of changes has been quiet for debounce
// (callers use about 200ms), on a goroutine of the Watcher's, never twice at
// once; a change while it runs leads to one more call after it returns. It
// may call Set; it must not call Close, which waits for it.
//
// New fails when no path can be watched: none has a parent directory that
// exists, or the system refuses every watch. A path that can not be watched
// while others can is not an error, as some of the others may be about to
// create it; it is looked at again after each change.
func New(paths []string, debounce time.Duration, onChange func()) (*Watcher, error) {
	return newWatcher(paths, debounce, onChange, nil)
}

// newWatcher is New with an observe hook for tests.
func newWatcher(paths []string, debounce time.Duration, onChange func(), observe func(fsnotify.Event, bool)) (*Watcher, error) {
	if onChange == nil {
		return nil, errors.New("watch: onChange is nil")
	}
	if len(paths) == 0 {
		return nil, errors.New("watch: no paths to watch")
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w := &Watcher{
		fsw:      fsw,
		debounce: max(debounce, 0),
		onChange: onChange,
		observe:  observe,
		watched:  map[string]struct{}{},
		changed:  make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	w.rules.Store(&plan{})
	if err := w.Set(paths); err != nil {
		_ = fsw.Close()
		return nil, err
	}
	w.wg.Add(2)
	go w.readEvents()
	go w.callOnChange()
	return w, nil
}

// Set replaces the watched paths, as after a reload the files the
// configuration references may differ. It does not call onChange: a change
// between the reload reading a newly referenced file and Set is not seen.
// Set fails, keeping the new paths, when paths is not empty and none of them
// can be watched; see New.
func (w *Watcher) Set(paths []string) error {
	abs := make([]string, 0, len(paths))
	for _, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("watch: %s: %w", p, err)
		}
		abs = append(abs, a)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	w.paths = abs
	return w.apply()
}

// Close stops watching and waits until the Watcher's goroutines are done,
// including a call of onChange in progress; onChange is not called after
// Close returns. It must not be called from onChange. Closing twice is
// harmless.
func (w *Watcher) Close() error {
	w.mu.Lock()
	closed := w.closed
	w.closed = true
	w.mu.Unlock()
	if closed {
		w.wg.Wait()
		return nil
	}
	close(w.done)
	err := w.fsw.Close()
	w.wg.Wait()
	return err
}

// apply works out what to watch for w.paths as the file system is now,
// publishes it and brings the fsnotify watches in line. It is called with
// w.mu held.
func (w *Watcher) apply() error {
	p := makePlan(w.paths)
	// Publish first: events from a directory added below must find its rule.
	w.rules.Store(p)
	errs := p.errs
	watched := make(map[string]struct{}, len(p.dirs))
	for dir := range p.dirs {
		// Adding a directory already watched costs one system call and
		// renews a watch that the directory's deletion or move dropped.
		if err := w.fsw.Add(dir); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", dir, err))
			continue
		}
		watched[dir] = struct{}{}
	}
	for dir := range w.watched {
		if _, ok := watched[dir]; !ok {
			// Fails harmlessly for a watch the system dropped already.
			_ = w.fsw.Remove(dir)
		}
	}
	w.watched = watched
	if len(watched) == 0 && len(w.paths) > 0 {
		if len(errs) == 0 {
			return errors.New("watch: nothing to watch")
		}
		return fmt.Errorf("watch: nothing to watch: %w", errors.Join(errs...))
	}
	return nil
}

// recheck re-applies the watched paths, unless closed, so that directories
// deleted and recreated or links re-pointed during a burst are watched again
// before onChange reads them.
func (w *Watcher) recheck() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		_ = w.apply() // failures are looked at again after the next change
	}
}

// flag records that a change is pending, without blocking.
func (w *Watcher) flag() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// readEvents drains fsnotify, flagging relevant events. It never blocks on
// anything else, so that the kernel's queue keeps draining while onChange
// runs.
func (w *Watcher) readEvents() {
	defer w.wg.Done()
	for {
		select {
		case <-w.done:
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			relevant := w.rules.Load().relevant(ev)
			if w.observe != nil {
				w.observe(ev, relevant)
			}
			if relevant {
				w.flag()
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			// Events were lost, any of them may have been relevant. Other
			// errors (a failed read of the inotify descriptor) can repeat
			// without end and say nothing about the files: not a change.
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.flag()
			}
		}
	}
}

// callOnChange waits for a flagged change, then for debounce without one,
// then calls onChange; a change flagged while it runs starts the next round.
func (w *Watcher) callOnChange() {
	defer w.wg.Done()
	quiet := time.NewTimer(w.debounce)
	quiet.Stop()
	defer quiet.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-w.changed:
		}
		quiet.Reset(w.debounce)
	burst:
		for {
			select {
			case <-w.done:
				return
			case <-w.changed:
				quiet.Reset(w.debounce)
			case <-quiet.C:
				break burst
			}
		}
		w.recheck()
		select {
		case <-w.done:
			return
		default:
			w.onChange()
		}
	}
}
