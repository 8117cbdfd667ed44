package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/safetext"
)

// GraphOptions are the options of `kubectl meshinsight graph`.
type GraphOptions struct {
	getter genericclioptions.RESTClientGetter
	live   liveOptions
	Output string
	// SidecarResources writes, instead of the graph, the Sidecar resources
	// that scope each sidecar to the Services it was observed calling.
	SidecarResources bool

	// Set by Complete.
	clients *kube.Clients

	genericiooptions.IOStreams
}

// NewGraphCommand builds `kubectl meshinsight graph`.
func NewGraphCommand(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &GraphOptions{getter: getter, live: newLiveOptions(), IOStreams: streams}
	c := &cobra.Command{
		Use:   "graph",
		Short: "Write the live cluster's call graph in the call-graph file format",
		Long: `Read workloads, services, Istio configuration and observed traffic from the current
kube context and write the call graph that predict would use, in the call-graph file
format. Edit it and run predict -f on it to explore offline.`,
		Example: `  # The call graph of one namespace, as YAML
  kubectl meshinsight graph -n bookinfo > bookinfo.yaml

  # Every namespace, rates from a Prometheus you name, as JSON
  kubectl meshinsight graph -A --prometheus-url http://localhost:9090 -o json

  # Sidecar resources that import only the Services each workload was observed
  # calling (what predict --what-if scope=observed assumes); check them first
  kubectl meshinsight graph -A --sidecar-resources > sidecars.yaml
  kubectl apply --dry-run=server -f sidecars.yaml`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	c.Flags().StringVarP(&o.Output, "output", "o", "yaml", "Output format: yaml or json")
	c.Flags().BoolVar(&o.SidecarResources, "sidecar-resources", false,
		"Write the Sidecar resources that scope each sidecar to the Services it was observed calling (YAML), instead of the graph")
	o.live.addFlags(c.Flags())
	return c
}

// Complete parses the live flags and builds the cluster's clients.
func (o *GraphOptions) Complete(*cobra.Command) error {
	if err := o.live.complete(); err != nil {
		return err
	}
	if noKubeconfig(o.getter) {
		return fmt.Errorf("graph reads a cluster: %w", errNoKubeconfig)
	}
	var err error
	o.clients, err = kube.NewClients(o.getter, kube.KubeconfigHint)
	return err
}

// Validate checks flags without I/O.
func (o *GraphOptions) Validate() error {
	if o.Output != "yaml" && o.Output != "json" {
		return fmt.Errorf("--output %q: want yaml or json", o.Output)
	}
	if o.SidecarResources && o.Output != "yaml" {
		return fmt.Errorf("--sidecar-resources writes YAML: leave out --output %s", o.Output)
	}
	return o.live.validate()
}

// Run reads the cluster and writes the graph; messages go to stderr.
func (o *GraphOptions) Run(ctx context.Context) error {
	if o.SidecarResources {
		return o.writeSidecars(ctx)
	}
	g, msgs, err := o.live.collect(ctx, o.clients)
	if err != nil {
		return err
	}
	b, err := marshalLiveGraph(g, o.Output)
	if err != nil {
		return err
	}
	if _, err := o.Out.Write(b); err != nil {
		return fmt.Errorf("writing graph: %w", err)
	}
	for _, m := range msgs {
		fmt.Fprintln(o.ErrOut, safetext.Escape(m.String()))
	}
	return nil
}
