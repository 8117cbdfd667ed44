//go:build linux

package datapath

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// inNetns runs fn on an OS thread that has joined the network namespace at
// nsPath. Sockets fn creates stay in that namespace, and children it forks
// start there (fork happens on the calling thread). The thread goes back to
// its original namespace afterwards; if that fails it is left locked, so the
// Go runtime retires it instead of reusing it in the wrong namespace.
func inNetns(nsPath string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening the current network namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := os.Open(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening network namespace %s: %w", nsPath, err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering network namespace %s: %w", nsPath, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("returning from network namespace %s: %w", nsPath, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// openIn opens a socket (a connection or a listener) with open on a thread
// in the network namespace at nsPath, so that it lives there.
func openIn[T io.Closer](nsPath string, open func() (T, error)) (T, error) {
	var s T
	opened := false
	err := inNetns(nsPath, func() error {
		var err error
		s, err = open()
		opened = err == nil
		return err
	})
	if err != nil {
		if opened { // opened, but the thread could not return
			s.Close()
		}
		var zero T
		return zero, err
	}
	return s, nil
}
