package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/printers"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// PredictOptions are the options of `kubectl meshinsight predict`.
type PredictOptions struct {
	configFlags *genericclioptions.ConfigFlags

	Filename    string
	ExportGraph string
	ProfilePath string
	live        liveOptions
	traces      traceOptions
	Output      string
	WhatIf      []string
	SpeedupPath string
	FanOut      string
	// StoreDir overrides the local profile store (tests).
	StoreDir string

	// Set by Complete.
	format   printers.Format
	whatIfs  []predict.WhatIf
	fanOut   predict.FanOut
	graph    *callgraph.Graph
	prof     *profile.Profile
	profSrc  string
	speedups map[profile.Component]float64
	graphMsg []diag.Message
	// nodeProfiles are per-node-type profiles from the store.
	nodeProfiles map[string]*profile.Profile

	genericiooptions.IOStreams
}

// NewPredictOptions returns options with defaults.
func NewPredictOptions(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *PredictOptions {
	return &PredictOptions{configFlags: flags, IOStreams: streams, FanOut: string(predict.Sequential), live: newLiveOptions(), traces: newTraceOptions()}
}

// NewPredictCommand builds `kubectl meshinsight predict`.
func NewPredictCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewPredictOptions(flags, streams)
	c := &cobra.Command{
		Use:   "predict [-n NAMESPACE | -A | -f GRAPH | --traces FILE|DIR | --jaeger-url URL --service S]",
		Short: "Predict the latency and CPU the mesh adds to each call",
		Long: `Predict the latency (p50, p99) and proxy CPU that the mesh adds to every edge of a
call graph, split by proxy component, per proxy, and end to end from each entry point.

The call graph comes from a file (-f) or from the live cluster of the current kube
context (-n NAMESPACE or -A): workloads, services and their sidecar or ambient
enrolment, Istio configuration (protocol, mTLS, retries, mirroring, filters, tracing)
and the traffic the mesh observed (Prometheus, else the sidecars' own stats, else
edges inferred from configuration with default rates).

Without --profile, the embedded reference profile (built from published Istio
figures) is used and a notice says so. With --what-if or --speedup, a variant is
computed and shown beside the baseline with the difference.

With --traces (Jaeger, Zipkin v2 or OTLP JSON files) or --jaeger-url, the calls come
from distributed traces instead: each request's critical path is extracted, and the
overhead of the calls on it is summed per root operation and set against the measured
end-to-end latency. A graph given with -f supplies modes, protocol and mTLS for the
services it names.`,
		Example: `  # Per-edge overhead of a live namespace, rates from the mesh's Prometheus
  kubectl meshinsight predict -n bookinfo

  # Every namespace; save the derived call graph for offline what-ifs
  kubectl meshinsight predict -A --export-graph cluster.yaml

  # Per-edge overhead of a call-graph file, with the embedded reference profile
  kubectl meshinsight predict -f examples/bookinfo.yaml

  # Component breakdown, or machine-readable output
  kubectl meshinsight predict -f examples/bookinfo.yaml -o wide
  kubectl meshinsight predict -f examples/bookinfo.yaml -o json

  # What-if: mTLS off everywhere; gRPC on one edge; a namespace moved to ambient
  kubectl meshinsight predict -f examples/bookinfo.yaml --what-if mtls=off
  kubectl meshinsight predict -f examples/bookinfo.yaml --what-if 'protocol=grpc,edge=productpage->reviews'
  kubectl meshinsight predict -f examples/online-boutique.yaml --what-if mode=ambient,namespace=boutique

  # A measured profile, and a component made twice as fast
  kubectl meshinsight predict -f graph.yaml --profile my-profile.json --speedup speedup.yaml

  # Render the graph coloured by added latency
  kubectl meshinsight predict -f examples/bookinfo.yaml -o dot | dot -Tsvg > mesh.svg` + predictTracesExamples,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Complete(c.Context()); err != nil {
				return err
			}
			return o.Run()
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Filename, "filename", "f", "", "Call-graph file (YAML or JSON; - for stdin); without it the live cluster is read")
	f.StringVar(&o.ExportGraph, "export-graph", "", "Also write the call graph used (e.g. the one derived from the cluster) to this file")
	f.StringVar(&o.ProfilePath, "profile", "", "Profile file (default: the embedded reference profile)")
	f.StringVarP(&o.Output, "output", "o", "", "Output format: one of "+strings.Join(printers.FormatNames(), "|"))
	f.StringArrayVar(&o.WhatIf, "what-if", nil, "A change for the variant, e.g. mtls=off, mode=ambient,namespace=NS, protocol=grpc,edge=A->B (repeatable)")
	f.StringVar(&o.SpeedupPath, "speedup", "", "File of per-component speed-ups for the variant, e.g. {parsing: 2}")
	f.StringVar(&o.FanOut, "fanout", o.FanOut, "How a request's downstream calls combine on a path: sequential (sum) or parallel (slowest)")
	o.live.addFlags(f)
	o.traces.addFlags(f)
	return c
}

// Validate checks flags without doing I/O.
func (o *PredictOptions) Validate() error {
	if o.Filename != "" && o.live.AllNamespaces {
		return errors.New("-A reads the live cluster; it cannot be combined with -f")
	}
	if err := o.live.validate(); err != nil {
		return err
	}
	format, err := printers.ParseFormat(o.Output)
	if err != nil {
		return err
	}
	o.format = format
	switch predict.FanOut(o.FanOut) {
	case predict.Sequential, predict.Parallel:
		o.fanOut = predict.FanOut(o.FanOut)
	default:
		return fmt.Errorf("--fanout %q: want sequential or parallel", o.FanOut)
	}
	o.whatIfs = o.whatIfs[:0]
	for _, s := range o.WhatIf {
		w, err := predict.ParseWhatIf(s)
		if err != nil {
			return err
		}
		o.whatIfs = append(o.whatIfs, w)
	}
	return o.validateTraces()
}

// Complete reads the graph (from the file or the cluster), the profile and the
// speed-ups.
func (o *PredictOptions) Complete(ctx context.Context) error {
	var err error
	switch o.Filename {
	case "":
		if o.traces.enabled() {
			break // the calls come from the traces
		}
		if o.graph, o.graphMsg, err = o.live.collect(ctx, o.configFlags); err != nil {
			return err
		}
	case "-":
		data, rerr := io.ReadAll(o.In)
		if rerr != nil {
			return fmt.Errorf("reading call graph from stdin: %w", rerr)
		}
		if o.graph, err = callgraph.Parse("<stdin>", data); err != nil {
			return err
		}
	default:
		if o.graph, err = callgraph.ReadFile(o.Filename); err != nil {
			return err
		}
	}
	if o.ExportGraph != "" && !o.traces.enabled() {
		if err := writeGraph(o.ExportGraph, o.graph); err != nil {
			return err
		}
	}
	if err := o.loadProfile(ctx); err != nil {
		return err
	}
	if o.SpeedupPath != "" {
		data, rerr := os.ReadFile(o.SpeedupPath)
		if rerr != nil {
			return fmt.Errorf("reading speed-up file: %w", rerr)
		}
		if o.speedups, err = predict.ParseSpeedups(o.SpeedupPath, data); err != nil {
			return err
		}
	}
	if o.traces.enabled() {
		return o.completeTraces(ctx)
	}
	return nil
}

// Run predicts and prints.
func (o *PredictOptions) Run() error {
	if o.traces.enabled() {
		return o.runTraces()
	}
	resolved, err := callgraph.Resolve(o.graph)
	if err != nil {
		return err
	}
	name := o.graph.Metadata.Name
	if name == "" {
		name = o.Filename
	}
	report, err := predict.Run(predict.Input{
		Graph: resolved, GraphName: name,
		Profile: o.prof, ProfileSource: o.profSrc,
		FanOut: o.fanOut, WhatIf: o.whatIfs, Speedups: o.speedups, Messages: o.graphMsg,
		NodeProfiles: o.nodeProfiles,
	})
	if err != nil {
		return fmt.Errorf("predicting: %w", err)
	}
	return printers.Print(o.Out, report, o.format)
}

// writeGraph writes g to path, as JSON when the name ends in .json, else YAML.
func writeGraph(path string, g *callgraph.Graph) error {
	format := "yaml"
	if strings.HasSuffix(path, ".json") {
		format = "json"
	}
	b, err := callgraph.Marshal(g, format)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing call graph: %w", err)
	}
	return nil
}
