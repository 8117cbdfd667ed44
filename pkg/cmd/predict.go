package cmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/inputfile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/printers"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// source is where a prediction's calls come from; Complete decides it once.
type source int

const (
	// fromCluster reads the live cluster of the kube context (no -f, no traces).
	fromCluster source = iota
	// fromFile reads a call-graph file (-f).
	fromFile
	// fromTraces reads distributed traces (--traces, --jaeger-url); -f then
	// only supplies workloads and edges for the services it names.
	fromTraces
)

// PredictOptions are the options of `kubectl meshinsight predict`.
type PredictOptions struct {
	getter genericclioptions.RESTClientGetter

	Filename    string
	ExportGraph string
	ProfilePath string
	live        liveOptions
	budget      budgetOptions
	traces      traceOptions
	Output      string
	WhatIf      []string
	SpeedupPath string
	FanOut      string
	// Queueing adds the sidecars' queueing wait to p99.
	Queueing bool
	// ListExamples lists the embedded example graphs instead of predicting.
	ListExamples bool
	// Quiet leaves out Info messages and the notices on stderr.
	Quiet bool
	// NoHeaders prints only the edge rows; SortBy orders edges, proxies
	// and paths (predict.SortKeys).
	NoHeaders bool
	SortBy    string

	// CompareProfilePath is a second profile, predicted as the variant.
	CompareProfilePath string

	// Set by Complete.
	source      source
	fanOutGiven bool
	format      printers.Format
	// names is -o name: one edge/FROM->TO line per edge.
	names bool
	// template is -o jsonpath=… or -o go-template=….
	template    *printers.Template
	whatIfs     []predict.WhatIf
	fanOut      predict.FanOut
	kubeContext string
	// clients are the live cluster's, for fromCluster only.
	clients *kube.Clients

	genericiooptions.IOStreams
}

// NewPredictOptions returns options with defaults.
func NewPredictOptions(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *PredictOptions {
	return &PredictOptions{getter: getter, IOStreams: streams, FanOut: string(predict.Sequential), Queueing: true, live: newLiveOptions(), traces: newTraceOptions()}
}

// NewPredictCommand builds `kubectl meshinsight predict`.
func NewPredictCommand(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewPredictOptions(getter, streams)
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

  # Per-edge overhead of an example call graph embedded in the binary (no cluster
  # needed), with the embedded reference profile; --list-examples names them all
  kubectl meshinsight predict -f example:bookinfo
  kubectl meshinsight predict --list-examples

  # A call-graph file, or one served over http(s), as kubectl -f takes them
  kubectl meshinsight predict -f shop.yaml
  kubectl meshinsight predict -f https://example.com/graphs/shop.yaml

  # Component breakdown, or machine-readable output
  kubectl meshinsight predict -f example:bookinfo -o wide
  kubectl meshinsight predict -f example:bookinfo -o json

  # What-if: mTLS off everywhere; gRPC on one edge; a namespace moved to ambient
  kubectl meshinsight predict -f example:bookinfo --what-if mtls=off
  kubectl meshinsight predict -f example:bookinfo --what-if 'protocol=grpc,edge=productpage->reviews'
  kubectl meshinsight predict -f example:online-boutique --what-if mode=ambient,namespace=boutique

  # How much sidecar memory a Sidecar resource per workload would save
  kubectl meshinsight predict -A --what-if scope=observed

  # A measured profile, and a component made twice as fast
  kubectl meshinsight predict -f graph.yaml --profile my-profile.json --speedup speedup.yaml

  # Two profiles side by side on one graph (e.g. before and after an Istio upgrade)
  kubectl meshinsight predict -f example:bookinfo --profile my-profile.json --compare-profile new-profile.json

  # Fail a CI pipeline (exit 1, offenders listed) when the change adds more than
  # 2ms p99 to an edge or a path, or a proxy replica needs more than 500m CPU
  kubectl meshinsight predict -f example:bookinfo --what-if mode=ambient --max-added-p99 2ms --max-proxy-cpu 500m

  # Render the graph coloured by added latency, with Graphviz or without it
  kubectl meshinsight predict -f example:bookinfo -o dot | dot -Tsvg > mesh.svg
  kubectl meshinsight predict -f example:bookinfo --what-if mtls=off -o html > mesh.html` + predictTracesExamples,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.AddFlags(c.Flags())
	return c
}

// AddFlags binds the command's flags to o.
func (o *PredictOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVarP(&o.Filename, "filename", "f", "", "Call-graph file (YAML or JSON; - for stdin), http(s) URL, or embedded example (example:bookinfo, see --list-examples); without it the live cluster is read")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "Leave out the Info messages (expected assumptions) and the notices on stderr; warnings stay")
	f.BoolVar(&o.ListExamples, "list-examples", false, "List the example call graphs embedded in the binary (use them as -f example:NAME)")
	f.StringVar(&o.ExportGraph, "export-graph", "", "Also write the call graph used (e.g. the one derived from the cluster) to this file")
	f.StringVar(&o.ProfilePath, "profile", "", "Profile file (default: the embedded reference profile)")
	f.StringVar(&o.CompareProfilePath, "compare-profile", "", "Second profile file, shown beside --profile (or the default) as the variant on the same graph")
	f.StringVarP(&o.Output, "output", "o", "", "Output format: one of "+strings.Join(printers.FormatNames(), "|")+"|name|jsonpath=TEMPLATE|go-template=TEMPLATE (templates see the fields of -o json)")
	f.BoolVar(&o.NoHeaders, "no-headers", false, "Print only the edge rows, without headers, other tables, totals or messages (table and wide output)")
	f.StringVar(&o.SortBy, "sort-by", "", "Order edges, proxies and paths by "+strings.Join(predict.SortKeys, "|")+" (figures largest first, name A to Z)")
	f.StringArrayVar(&o.WhatIf, "what-if", nil, "A change for the variant, e.g. mtls=off, mode=ambient,namespace=NS, protocol=grpc,edge=A->B, scope=observed|namespace (repeatable); A and B are workloads or Services (reviews picks reviews-v1, -v2, ...); a selector that picks nothing is an error")
	f.StringVar(&o.SpeedupPath, "speedup", "", "File of per-component speed-ups for the variant, e.g. {parsing: 2}")
	f.StringVar(&o.FanOut, "fanout", o.FanOut, "How a request's downstream calls combine on a path: sequential (sum) or parallel (slowest)")
	f.BoolVar(&o.Queueing, "queueing", o.Queueing, "Add each sidecar's queueing wait at its predicted load to p99 (M/M/c over the profile's proxy threads); --queueing=false leaves p99 at the profile's operating point")
	o.live.addFlags(f)
	o.budget.addFlags(f)
	o.traces.addFlags(f)
}

// Complete decides where the calls come from, parses the flags into their
// types and, for the live cluster, builds its clients. It reads the
// kubeconfig, nothing else.
func (o *PredictOptions) Complete(c *cobra.Command) error {
	if o.ListExamples {
		return nil
	}
	switch {
	case o.traces.enabled():
		o.source = fromTraces
	case o.Filename != "":
		o.source = fromFile
	default:
		o.source = fromCluster
	}
	o.fanOutGiven = c.Flags().Changed("fanout")
	var err error
	format := o.Output
	if o.names = o.Output == "name"; o.names {
		format = ""
	}
	var isTemplate bool
	if o.template, isTemplate, err = printers.ParseTemplate(o.Output); err != nil {
		return err
	} else if isTemplate {
		format = ""
	}
	if o.format, err = printers.ParseFormat(format); err != nil {
		return err
	}
	switch predict.FanOut(o.FanOut) {
	case predict.Sequential, predict.Parallel:
		o.fanOut = predict.FanOut(o.FanOut)
	default:
		return fmt.Errorf("--fanout %q: want sequential or parallel", o.FanOut)
	}
	o.whatIfs = nil
	for _, s := range o.WhatIf {
		w, err := predict.ParseWhatIf(s)
		if err != nil {
			return err
		}
		o.whatIfs = append(o.whatIfs, w)
	}
	if err := o.live.complete(); err != nil {
		return err
	}
	if err := o.budget.complete(); err != nil {
		return err
	}
	o.kubeContext = kube.ContextName(o.getter)
	if o.source == fromCluster {
		if noKubeconfig(o.getter) {
			return errNoKubeconfig
		}
		if o.clients, err = kube.NewClients(o.getter, kube.KubeconfigHint+", or pass -f FILE to work without a cluster"); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the flags against each other; no I/O, no changes.
func (o *PredictOptions) Validate() error {
	if o.source == fromFile && o.live.AllNamespaces {
		return errors.New("-A reads the live cluster; it cannot be combined with -f")
	}
	if o.source != fromCluster && o.live.Selector != "" {
		return errors.New("-l/--selector picks live workloads by their pods' labels; it cannot be combined with -f or traces")
	}
	if err := o.live.validate(); err != nil {
		return err
	}
	if o.NoHeaders && (o.names || o.template != nil || (o.format != printers.Table && o.format != printers.Wide)) {
		return errors.New("--no-headers applies to table and wide output")
	}
	if o.SortBy != "" && !slices.Contains(predict.SortKeys, o.SortBy) {
		return fmt.Errorf("--sort-by %q: want one of %s", o.SortBy, strings.Join(predict.SortKeys, ", "))
	}
	if o.source == fromTraces && (o.NoHeaders || o.names || o.template != nil || o.SortBy != "") {
		return errors.New("--no-headers, --sort-by, -o name, -o jsonpath and -o go-template apply to a call graph's report: use -f or the live cluster, not traces")
	}
	if o.CompareProfilePath != "" && (len(o.WhatIf) > 0 || o.SpeedupPath != "" || o.source == fromTraces) {
		return errors.New("--compare-profile compares two profiles on one call graph: it cannot be combined with --what-if, --speedup or traces")
	}
	if o.source == fromTraces && o.budget.budget.Set() {
		return errors.New("--max-added-p50, --max-added-p99 and --max-proxy-cpu check a call graph's edges, paths and proxies: use -f or the live cluster, not traces")
	}
	return o.validateTraces()
}

// Run reads the calls, the profile and the speed-ups, predicts and prints.
// Cancelling ctx (the first Ctrl-C or SIGTERM) ends it at once with an
// error, whatever it is doing; nothing more is written to o.Out after that.
func (o *PredictOptions) Run(ctx context.Context) error {
	if o.ListExamples {
		return printExamples(o.Out)
	}
	out := cancelWriter{ctx: ctx, w: o.Out}
	return untilDone(ctx, func() error {
		if o.source == fromTraces {
			return o.runTraces(ctx, out)
		}
		return o.runGraph(ctx, out)
	})
}

// runGraph predicts on a call graph (a file, a URL, an example or the live
// cluster) and prints the report to out.
func (o *PredictOptions) runGraph(ctx context.Context, out io.Writer) error {
	g, msgs, err := o.readGraph(ctx)
	if err != nil {
		return err
	}
	if o.source == fromCluster && len(g.Workloads) == 0 {
		noResources(o.ErrOut, o.clients.Namespace, o.live.AllNamespaces)
		return nil
	}
	if o.ExportGraph != "" {
		if err := writeGraph(o.ExportGraph, g); err != nil {
			return err
		}
	}
	in, err := o.predictInput(ctx)
	if err != nil {
		return err
	}
	if in.Graph, err = callgraph.Resolve(g); err != nil {
		return err
	}
	in.GraphName, in.Messages = cmp.Or(g.Metadata.Name, o.Filename), msgs
	report, err := predict.Run(in)
	if err != nil {
		return fmt.Errorf("predicting: %w", err)
	}
	report.Messages = o.shown(report.Messages)
	if err := o.print(out, report); err != nil {
		return err
	}
	return predict.CheckBudget(report, o.budget.budget)
}

// readGraph reads the call graph from the live cluster or from -f (a file,
// or - for stdin); nil without either.
func (o *PredictOptions) readGraph(ctx context.Context) (*callgraph.Graph, []diag.Message, error) {
	switch {
	case o.source == fromCluster:
		return o.live.collect(ctx, o.clients)
	case o.Filename == "":
		return nil, nil, nil
	case o.Filename == "-":
		data, err := inputfile.Read(o.In, "<stdin>", "call graph", callgraph.MaxFileBytes)
		if err != nil {
			return nil, nil, err
		}
		g, err := callgraph.Parse("<stdin>", data)
		return g, nil, err
	}
	if g, ok, err := readNamedGraph(ctx, o.Filename); ok {
		return g, nil, err
	}
	g, err := callgraph.ReadFile(o.Filename)
	return g, nil, err
}

// predictInput is what every prediction shares: the profiles (see
// loadProfile), the fan-out and the variant's what-ifs and speed-ups.
func (o *PredictOptions) predictInput(ctx context.Context) (predict.Input, error) {
	in := predict.Input{FanOut: o.fanOut, WhatIf: o.whatIfs, Queueing: o.Queueing}
	var err error
	if in.Profile, in.ProfileSource, in.NodeProfiles, err = o.loadProfile(ctx); err != nil {
		return in, err
	}
	if o.CompareProfilePath != "" {
		if in.CompareProfile, err = profile.ReadFile(o.CompareProfilePath); err != nil {
			return in, fmt.Errorf("reading --compare-profile: %w", err)
		}
		in.CompareSource = o.CompareProfilePath
	}
	if o.SpeedupPath != "" {
		data, err := inputfile.ReadFile(o.SpeedupPath, "speed-up file", predict.MaxSpeedupFileBytes)
		if err != nil {
			return in, err
		}
		if in.Speedups, err = predict.ParseSpeedups(o.SpeedupPath, data); err != nil {
			return in, err
		}
	}
	return in, nil
}

// writeGraph writes g to path, as JSON when the name ends in .json, else
// YAML. A graph that predict -f would reject is not written.
func writeGraph(path string, g *callgraph.Graph) error {
	format := "yaml"
	if strings.HasSuffix(path, ".json") {
		format = "json"
	}
	b, err := marshalLiveGraph(g, format)
	if err != nil {
		return fmt.Errorf("not writing --export-graph %q: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing call graph: %w", err)
	}
	return nil
}

// marshalLiveGraph writes a graph derived from the cluster as a graph file
// (yaml or json), unless predict -f would reject it.
func marshalLiveGraph(g *callgraph.Graph, format string) ([]byte, error) {
	if err := callgraph.Validate(g); err != nil {
		return nil, fmt.Errorf("the call graph derived from the cluster is invalid, so predict -f would reject it (a bug: please report it with the problems below): %w", err)
	}
	return callgraph.Marshal(g, format)
}

// untilDone runs work aside and returns its error or, as soon as ctx ends
// first, an error saying the command was interrupted. Offline work (reading
// files, predicting, printing) is computation that never looks at ctx: a
// huge graph takes seconds and stdin may never end, and Ctrl-C must stop
// the command at once. The abandoned work ends with the process; what it
// writes goes through a cancelWriter, which refuses once ctx ends.
func untilDone(ctx context.Context, work func() error) error {
	done := make(chan error, 1)
	go func() { done <- work() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
}

// cancelWriter writes to w until ctx ends.
type cancelWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c cancelWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
