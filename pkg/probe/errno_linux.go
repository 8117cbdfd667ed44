//go:build linux

package probe

import "syscall"

// errNoProcess is returned when reading /proc files of a task that exited.
var errNoProcess error = syscall.ESRCH
