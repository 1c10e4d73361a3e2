// Package watch reports changes to configuration files and folders.
package watch

import _ "github.com/fsnotify/fsnotify"
