// Package privtest is the shared TestMain of the root-only suites whose
// helpers (echo servers, load generators, relays) are their own test binary
// re-executed inside network namespaces: it dispatches a re-executed binary
// to its helper, refuses to run without root, names the run, cancels the
// suite's context on SIGINT/SIGTERM and removes what the run left behind.
package privtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Config describes a suite.
type Config struct {
	// HelperArg as the first argument makes the binary run Helper.
	HelperArg string
	// Stem starts the run prefix (two letters, then four hex digits).
	Stem string
	// Needs says why root is needed, for the refusal message.
	Needs string
	// Helper runs a helper subcommand (args without HelperArg).
	Helper func(ctx context.Context, args []string) error
	// Cleanup removes what a run with this prefix left behind.
	Cleanup func(ctx context.Context, prefix string) error
}

// Suite is what the tests of a suite share.
type Suite struct {
	// Ctx is cancelled on SIGINT/SIGTERM, so that an interrupted run still
	// tears down what it built.
	Ctx context.Context
	// Prefix names everything this run creates.
	Prefix string
	// Helper is the argv prefix that re-executes the binary as a helper.
	Helper []string
}

// Main runs the suite's tests, or the helper when re-executed as one, and
// exits.
func Main(m *testing.M, c Config, s *Suite) {
	if len(os.Args) > 1 && os.Args[1] == c.HelperArg {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := c.Helper(ctx, os.Args[2:])
		stop()
		if err != nil {
			fmt.Fprintf(os.Stderr, "helper: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "the privileged suite %s: run it as root\n", c.Needs)
		os.Exit(1)
	}
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s.Prefix = c.Stem + hex.EncodeToString(b)
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s.Helper = []string{exe, c.HelperArg}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	s.Ctx = ctx
	code := m.Run()
	stop()
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if err := c.Cleanup(cctx, s.Prefix); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	cancel()
	os.Exit(code)
}

// LogWriter writes each line it is given to the test log.
type LogWriter struct{ TB testing.TB }

func (w LogWriter) Write(p []byte) (int, error) {
	w.TB.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
