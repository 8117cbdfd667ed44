// Command kubectl-meshinsight is the kubectl plugin `kubectl meshinsight`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/meshinsight/kubectl-meshinsight/pkg/cmd"
	"github.com/meshinsight/kubectl-meshinsight/pkg/safetext"
)

func main() {
	// A large prediction allocates its graph and report once and little
	// after: collecting garbage half as often saves about a tenth of the
	// CPU without raising the peak (make bench-e2e). GOGC, when set, decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	ctx, stop := signalContext()
	root := cmd.NewRootCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	err := root.ExecuteContext(ctx)
	interrupted := ctx.Err() != nil
	stop()
	if err == nil && interrupted {
		err = errors.New("interrupted")
	}
	if err != nil {
		// Errors quote files, traces and clusters: escaped, like all output.
		fmt.Fprintln(os.Stderr, "Error: "+safetext.Text(err.Error()))
		os.Exit(1)
	}
}

// signalContext returns a context that the first SIGINT or SIGTERM cancels
// (commands stop, clean up and exit non-zero). The signals are then handed
// back to their default action, so that a second one kills the process at
// once, even while a run cleans up.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}
