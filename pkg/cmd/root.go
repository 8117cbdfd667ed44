// Package cmd holds the cobra commands of kubectl-meshinsight. Each command has an
// Options struct whose RunE is Complete → Validate → Run; the work itself happens in
// the domain packages, which never see cobra.
package cmd

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// requestTimeout is the default of --request-timeout. kubectl's is none,
// which leaves a command hanging on a server that accepts a connection and
// never answers; every request of ours is short (a list, a get, a create).
var requestTimeout = 30 * time.Second

// NewRootCommand builds `kubectl meshinsight` with kubectl's global flags;
// --request-timeout defaults to 30s (0 waits for ever, as in kubectl).
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	timeout := requestTimeout.String()
	flags.Timeout = &timeout
	root := &cobra.Command{
		Use:   "kubectl-meshinsight",
		Short: "Predict what a service mesh costs, edge by edge",
		Long: `kubectl meshinsight predicts the latency and CPU a service mesh (Istio sidecars,
ambient ztunnel and waypoints) adds to every call between your workloads, and which
part of the proxy is responsible, from a call graph and a measured proxy profile.`,
		Example: `  # Predict the overhead of a call graph with the embedded reference profile
  kubectl meshinsight predict -f example:bookinfo

  # What would turning mTLS off, or moving to ambient, change?
  kubectl meshinsight predict -f example:bookinfo --what-if mtls=off
  kubectl meshinsight predict -f example:bookinfo --what-if mode=ambient`,
		SilenceUsage: true,
		// main prints errors, escaped: they quote names from files,
		// traces and clusters.
		SilenceErrors: true,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl meshinsight",
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	flags.AddFlags(root.PersistentFlags())
	root.AddCommand(
		NewPredictCommand(flags, streams),
		NewGraphCommand(flags, streams),
		NewProfileCommand(flags, streams),
		NewVersionCommand(streams),
	)
	registerCompletions(root, flags)
	return root
}

// options are a command's options: Complete resolves the flags (and builds
// clients), Validate checks them without I/O, Run does the work.
type options interface {
	Complete(*cobra.Command) error
	Validate() error
	Run(context.Context) error
}

// runE runs a command as kubectl's do: Complete, Validate, Run.
func runE(o options) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, _ []string) error {
		if err := o.Complete(c); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(c.Context())
	}
}
