package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// dataLink is the entry Kubernetes swaps atomically in a ConfigMap or Secret
// volume: a symbolic link to the current timestamped directory, through
// which every file of the volume is a link.
const dataLink = "..data"

// maxHops bounds how many symbolic links are followed from one path, as the
// kernel's ELOOP does; a loop is also cut by plan.seen.
const maxHops = 16

// maxFolderLinks bounds how many symbolic links in one configuration folder
// are followed, so that a folder of thousands of links costs a bounded scan.
const maxFolderLinks = 256

// rule says which events in one watched directory matter.
type rule struct {
	// folder is set when the directory is a configuration folder: its
	// *.yaml and *.yml entries that are not hidden matter, and so does
	// dataLink.
	folder bool
	// names are entries that matter whatever they are called.
	names map[string]struct{}
}

// plan is what to watch for one set of paths: the directories, each by its
// path with symbolic links resolved (as fsnotify names the events of a
// directory by the path it was added with), and what matters in each. A plan
// is built from the file system as it is now and never changed once
// published, so the event loop reads it without a lock.
type plan struct {
	dirs map[string]*rule
	seen map[string]bool // paths already followed, while building
	errs []error         // why some paths can not be watched, while building
}

// makePlan works out what to watch for paths, which must be absolute and
// clean.
func makePlan(paths []string) *plan {
	p := &plan{dirs: map[string]*rule{}, seen: map[string]bool{}}
	for _, path := range paths {
		p.follow(path, 0)
		p.folder(path)
	}
	p.seen = nil
	return p
}

// rule returns the rule of dir, creating it.
func (p *plan) rule(dir string) *rule {
	r := p.dirs[dir]
	if r == nil {
		r = &rule{names: map[string]struct{}{}}
		p.dirs[dir] = r
	}
	return r
}

// entry watches the entry path: its name in its parent directory. A parent
// that does not exist leaves path unwatched.
func (p *plan) entry(path string) {
	dir, name := filepath.Dir(path), filepath.Base(path)
	if dir == path {
		return // the root has no parent to watch it in
	}
	real, ok := p.realDir(dir)
	if !ok {
		return
	}
	p.rule(real).names[name] = struct{}{}
}

// realDir resolves the symbolic links in dir and reports whether it is a
// directory that exists.
func (p *plan) realDir(dir string) (string, bool) {
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		var fi fs.FileInfo
		if fi, err = os.Stat(real); err == nil && !fi.IsDir() {
			err = errors.New("not a directory")
		}
	}
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s: %w", dir, err))
		return "", false
	}
	return real, true
}

// follow watches path and, when it is reached through symbolic links, every
// link on the way: a link in path's directories, path itself if it is a
// link, and the same for where each link points. Re-pointing any of them
// changes what path reads, and each is seen as an event on the link's name
// in its own directory. hops counts the links followed to get here.
func (p *plan) follow(path string, hops int) {
	if p.seen[path] || hops > maxHops {
		return
	}
	p.seen[path] = true
	p.entry(path)
	for dir := filepath.Dir(path); dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if isLink(dir) {
			p.follow(dir, hops+1)
		}
	}
	if !isLink(path) {
		return
	}
	dir := filepath.Dir(path)
	real, ok := p.realDir(dir)
	if !ok {
		return
	}
	// A file of a Kubernetes volume changes when ..data is swapped. follow
	// of the link's target watches ..data already when the file is a link
	// through it; naming it here keeps the rule when the link is odd.
	p.rule(real).names[dataLink] = struct{}{}
	target, err := os.Readlink(path)
	if err != nil {
		return
	}
	if !filepath.IsAbs(target) {
		// Relative to the directory holding the link, where ".." means
		// that directory's real parent: join it to the real path.
		target = filepath.Join(real, target)
	}
	p.follow(filepath.Clean(target), hops+1)
}

// folder watches path as a configuration folder, if it is a directory, and
// follows its configuration files that are symbolic links.
func (p *plan) folder(path string) {
	fi, err := os.Stat(path)
	if err != nil || !fi.IsDir() {
		return
	}
	real, ok := p.realDir(path)
	if !ok {
		return
	}
	p.rule(real).folder = true
	entries, err := os.ReadDir(real)
	if err != nil {
		return // the watch on the folder still sees files appear
	}
	links := 0
	for _, e := range entries {
		if links == maxFolderLinks {
			break
		}
		if e.Type()&fs.ModeSymlink != 0 && isConfigName(e.Name()) {
			links++
			p.follow(filepath.Join(real, e.Name()), 0)
		}
	}
}

// relevant reports whether ev may change what the watched paths read.
func (p *plan) relevant(ev fsnotify.Event) bool {
	name := filepath.Clean(ev.Name)
	if _, ok := p.dirs[name]; ok && ev.Has(fsnotify.Remove|fsnotify.Rename) {
		return true // a watched directory itself went away
	}
	r, ok := p.dirs[filepath.Dir(name)]
	if !ok {
		return false
	}
	base := filepath.Base(name)
	if _, ok := r.names[base]; ok {
		return true
	}
	return r.folder && (base == dataLink || isConfigName(base))
}

// isConfigName reports whether the config loader reads a folder's entry of
// this name: *.yaml and *.yml, not hidden.
func isConfigName(name string) bool {
	ext := filepath.Ext(name)
	return (ext == ".yaml" || ext == ".yml") && !strings.HasPrefix(name, ".")
}

// isLink reports whether path is a symbolic link.
func isLink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}
