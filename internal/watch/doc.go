// Package watch tells the gateway when a configuration it serves changed on
// disk, so that `jwtgate serve -c PATH...` can reload without a signal.
//
// A Watcher is given paths: configuration files, configuration folders (whose
// *.yaml and *.yml files count, not subfolders, hidden files skipped, as the
// config loader reads them) and the other files a configuration references
// (JWKS files, PEM keys, certificates, CA bundles, secret files). It calls one
// function, debounced, when any of them may have changed.
//
// Directories are watched, never files themselves: a file is watched through
// its parent directory, filtered to its name, so that every way of replacing
// it is seen: writing in place, an editor's write-then-rename, `mv new old`,
// deletion followed by creation. A folder is watched itself, and through its
// parent so that the folder being replaced is seen too. Symbolic links are
// followed and every link on the way is watched by its name in its own
// directory: a Kubernetes ConfigMap or Secret volume, where NAME is a link to
// ..data/NAME and ..data is a link swapped atomically to a new timestamped
// directory, is seen when ..data is swapped, and so is a `current -> v2`
// release link in the middle of a path.
//
// After every burst of events, before calling the function, the Watcher works
// out again what to watch, so that directories deleted and recreated, or
// links re-pointed, stay watched. The function may call [Watcher.Set] with
// the paths the reloaded configuration references.
//
// The Watcher never reads file contents: a change means "reload and see",
// and a burst that leaves every file as it was (touch, a ConfigMap swap with
// identical data) still calls the function once.
package watch
