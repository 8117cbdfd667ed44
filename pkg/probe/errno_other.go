//go:build !linux

package probe

import "errors"

// errNoProcess is never returned outside Linux.
var errNoProcess = errors.New("no such process")
