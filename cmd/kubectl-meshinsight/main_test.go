package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests below run this test binary again as the plugin (runAsMain) or
// as a process that signals itself (runSignals), to see how the real
// process ends.
const (
	envMain    = "MESHINSIGHT_TEST_MAIN"
	envSignals = "MESHINSIGHT_TEST_SIGNALS"
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(envMain) != "":
		os.Args = append([]string{"kubectl-meshinsight"}, strings.Fields(os.Getenv(envMain))...)
		main()
		os.Exit(0)
	case os.Getenv(envSignals) != "":
		runSignals()
	}
	os.Exit(m.Run())
}

// runSignals takes the signal context, then sends itself SIGINT until it
// dies; it exits 3 if it survives them.
func runSignals() {
	ctx, stop := signalContext()
	defer stop()
	for range 100 {
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		time.Sleep(20 * time.Millisecond)
	}
	if ctx.Err() == nil {
		os.Exit(4) // the first signal did not even cancel
	}
	os.Exit(3)
}

// Issue #13 item 11: the first SIGINT or SIGTERM ends `predict -f -` on a
// silent pipe with a non-zero status; it used to hang through both.
func TestFirstSignalEndsOfflineWork(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envMain+"=predict -f -", "XDG_CONFIG_HOME="+t.TempDir())
			stdin, err := cmd.StdinPipe() // never written to, never closed
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond) // reading stdin by now
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 1 {
					t.Errorf("exit: %v, want status 1\n%s", err, stderr.String())
				}
				if !strings.Contains(stderr.String(), "interrupted") {
					t.Errorf("stderr does not say it was interrupted:\n%s", stderr.String())
				}
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("still running 20s after %v", sig)
			}
		})
	}
}

// Issue #13 item 11: a second signal kills the process, whatever it is
// doing (a run cleaning up, work that ignores its context).
func TestSecondSignalKills(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envSignals+"=1")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("exit: %v", err)
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("process ended with %v (status %d), want killed by SIGINT", err, exit.ExitCode())
	}
}

// Issue #13 item 12: errors quote what the user gave (paths, names in
// files); they are printed escaped too.
func TestErrorsAreEscaped(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envMain+"=predict -f /nonexistent/\x1b]0;pwned\x07.yaml", "XDG_CONFIG_HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
	if strings.ContainsAny(stderr.String(), "\x1b\x07") || !strings.Contains(stderr.String(), `/nonexistent/\x1b]0;pwned\x07.yaml`) {
		t.Errorf("stderr: %q", stderr.String())
	}
}
