package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshinsight/kubectl-meshinsight/pkg/agent"
	"github.com/meshinsight/kubectl-meshinsight/pkg/floatlist"
	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

func newRootCommand(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "meshinsight-agent",
		Short:         "Measure a mesh proxy on this node and write a meshinsight profile",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.AddCommand(newProfileCommand(out, errOut), newCleanupCommand(errOut), newServeCommand(), newLoadCommand(out), newLoadServerCommand(),
		newValidateCommand(out, errOut), newRelayCommand(), newFitCommand(out))
	return root
}

// profileOptions are the flags of `profile`.
type profileOptions struct {
	local        bool
	proxy        string
	protocols    []string
	mtls         string
	sizes        []int
	rates        []float64
	duration     time.Duration
	rounds       int
	maxRounds    int
	budget       time.Duration
	precision    float64
	connections  int
	arrivals     string
	samplePeriod time.Duration
	memServices  []int
	memEndpoints []int
	memThreads   []int
	prefix       string
	output       string
	measurements string
	handoff      handoffOptions
}

func newProfileCommand(out, errOut io.Writer) *cobra.Command {
	cmd, _ := newProfileCommandOptions(out, errOut)
	return cmd
}

// newProfileCommandOptions is newProfileCommand with its options, for tests.
func newProfileCommandOptions(out, errOut io.Writer) (*cobra.Command, *profileOptions) {
	o := &profileOptions{}
	cmd := &cobra.Command{
		Use:   "profile --local",
		Short: "Profile a sidecar proxy on a datapath built on this node",
		Long: `Builds a two-pod sidecar datapath in network namespaces (proxies as uid 1337,
istio-init-style nat rules), measures the proxies with eBPF under interleaved
mesh/bypass load for every protocol × mTLS × rate × size, fits a profile and
removes everything it created, also on Ctrl-C. Then, with haproxy, it starts the
proxy with its sidecar configuration plus 10, 100 and 1000 upstream services of 1 and
4 endpoints each, at 1 and 2 worker threads, reads its resident memory and fits the
profile's memory model (base + per cluster + per endpoint + per worker thread). Needs
root.`,
		Example: `  # Profile haproxy over tcp and http, mTLS on and off, and write the profile
  sudo meshinsight-agent profile --local --proxy haproxy -o haproxy.json

  # Use it for a prediction
  kubectl meshinsight predict --profile haproxy.json -f example:bookinfo

  # A quick profile: one rate, two sizes, one round of 1 s
  sudo meshinsight-agent profile --local --proxy nginx --protocols http --mtls off \
    --sizes 128,4096 --rates 1000 --duration 1s --rounds 1 -o nginx.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), out, errOut)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.local, "local", false, "profile on this node, with a datapath the agent builds itself")
	f.StringVar(&o.proxy, "proxy", "haproxy", "sidecar proxy to measure: "+strings.Join(agent.Proxies, "|"))
	f.StringSliceVar(&o.protocols, "protocols", agent.DefaultProtocols, "protocols to measure (tcp, http)")
	f.StringVar(&o.mtls, "mtls", "both", "mTLS settings to measure: both|on|off")
	f.IntSliceVar(&o.sizes, "sizes", agent.DefaultSizes, "request and response payload sizes in bytes")
	floatlist.Var(f, &o.rates, "rates", agent.DefaultRates, "request rates in req/s (the lowest is the models' reference rate)")
	f.DurationVar(&o.duration, "duration", agent.DefaultDuration, "length of each load run (every mesh and bypass run of every round)")
	f.IntVar(&o.rounds, "rounds", agent.DefaultRounds, "least interleaved mesh/bypass rounds per cell")
	f.IntVar(&o.maxRounds, "max-rounds", agent.DefaultMaxRounds, "most rounds per cell: a cell adds rounds until its CPU per request is known to --precision (added p50 to twice that) or its share of --budget is spent")
	f.Float64Var(&o.precision, "precision", agent.DefaultPrecision, "relative standard error at which a cell stops adding rounds")
	f.DurationVar(&o.budget, "budget", agent.DefaultBudget, "time the whole profile may take before cells stop adding rounds (0: no bound)")
	f.IntVar(&o.connections, "connections", agent.DefaultConnections, "keep-alive connections of the load generator (kept open across a cell's rounds)")
	f.StringVar(&o.arrivals, "arrivals", string(agent.DefaultArrivals), "arrival process of the load: poisson or uniform")
	f.DurationVar(&o.samplePeriod, "sample-period", agent.DefaultSamplePeriod, "stack-sampling period per CPU")
	f.IntSliceVar(&o.memServices, "memory-services", agent.DefaultMemoryServices,
		"upstream services of the configurations the proxy's memory is measured with (--memory-services 0 skips the memory model)")
	f.IntSliceVar(&o.memEndpoints, "memory-endpoints", agent.DefaultMemoryEndpoints, "endpoints per upstream service of those configurations")
	f.IntSliceVar(&o.memThreads, "memory-threads", agent.DefaultMemoryThreads, "worker threads of those configurations")
	f.StringVar(&o.prefix, "prefix", "", "name prefix of the network namespaces (default mi-<random>)")
	f.StringVarP(&o.output, "output", "o", "", "profile file to write (default stdout)")
	f.StringVar(&o.measurements, "measurements", "", "also write the raw per-cell measurements as JSON to this file")
	o.handoff.addFlags(f)
	return cmd, o
}

// run profiles as the flags say, and hands the profile over or writes it.
func (o *profileOptions) run(ctx context.Context, out, errOut io.Writer) error {
	rep, err := o.handoff.reporter()
	if err != nil {
		return err
	}
	cfg, err := o.config(errOut)
	if err == nil && o.handoff.inCluster {
		err = o.handoff.inClusterConfig(ctx, &cfg, errOut)
	}
	if err != nil {
		return errors.Join(err, rep.finish(nil, err))
	}
	cfg.CellDone = rep.cell
	if err := rep.start(fmt.Sprintf("profiling %s (%d cells)", cfg.Proxy, len(cfg.Cells()))); err != nil {
		return err
	}
	res, err := agent.Run(ctx, cfg)
	if err == nil && o.handoff.nodeType != "" {
		res.Profile.Provenance.Platform.NodeType = o.handoff.nodeType
	}
	if rep != nil {
		var p *profile.Profile
		if res != nil {
			p = res.Profile
		}
		if herr := rep.finish(p, err); herr != nil {
			return errors.Join(err, herr)
		}
		if err == nil {
			fmt.Fprintf(errOut, "meshinsight-agent: handed the profile (%d models) to %s\n", len(res.Profile.Models), o.handoff.handoff)
			if o.output == "" && o.measurements == "" {
				return nil
			}
		}
	}
	if err != nil {
		return err
	}
	return o.write(res, out, errOut)
}

// writeProfile writes p to the file output, or to out when output is
// empty or "-".
func writeProfile(p *profile.Profile, output string, out io.Writer) error {
	if output == "" || output == "-" {
		data, err := profile.Marshal(p)
		if err != nil {
			return fmt.Errorf("encoding the profile: %w", err)
		}
		_, err = fmt.Fprintf(out, "%s\n", data)
		return err
	}
	if err := profile.WriteFile(output, p); err != nil {
		return fmt.Errorf("writing the profile: %w", err)
	}
	return nil
}

// write writes the measurements (with --measurements) and the profile to
// --output or stdout.
func (o *profileOptions) write(res *agent.Result, out, errOut io.Writer) error {
	if o.measurements != "" {
		if err := agent.WriteMeasurements(o.measurements, res.Measurements); err != nil {
			return err
		}
	}
	if err := writeProfile(res.Profile, o.output, out); err != nil {
		return err
	}
	if o.output == "" || o.output == "-" {
		return nil
	}
	fmt.Fprintf(errOut, "meshinsight-agent: wrote %s (%d models) in %v; try: kubectl meshinsight predict --profile %s -f FILE\n",
		o.output, len(res.Profile.Models), res.Elapsed.Round(time.Second), o.output)
	return nil
}

// config validates the flags (no I/O) and maps them onto agent.Config.
func (o *profileOptions) config(progress io.Writer) (agent.Config, error) {
	if o.local == o.handoff.inCluster {
		return agent.Config{}, errors.New("choose one measurement mode: --local profiles a datapath the agent builds on this node (as root); " +
			"--in-cluster the benchmark pods that `kubectl meshinsight profile` deployed")
	}
	var mtls []bool
	switch o.mtls {
	case "both":
		mtls = []bool{false, true}
	case "on":
		mtls = []bool{true}
	case "off":
		mtls = []bool{false}
	default:
		return agent.Config{}, fmt.Errorf("--mtls %q: want both, on or off", o.mtls)
	}
	exe, err := os.Executable()
	if err != nil {
		return agent.Config{}, fmt.Errorf("finding the agent's own executable for its helpers: %w", err)
	}
	memServices := o.memServices
	if slices.Equal(memServices, []int{0}) {
		memServices = nil // --memory-services 0: no memory model
	}
	cfg := agent.Config{
		Proxy: o.proxy, Protocols: o.protocols, MTLS: mtls, Sizes: o.sizes, Rates: o.rates,
		Duration: o.duration, Rounds: o.rounds, MaxRounds: max(o.maxRounds, o.rounds), Precision: o.precision, Budget: o.budget, Connections: o.connections, Arrivals: loadgen.Arrivals(o.arrivals), SamplePeriod: o.samplePeriod,
		Helper: []string{exe}, Prefix: o.prefix, Progress: progress,
		MemoryServices: memServices, MemoryEndpoints: o.memEndpoints, MemoryThreads: o.memThreads,
	}
	return cfg, cfg.Validate()
}

func newCleanupCommand(errOut io.Writer) *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove network namespaces, processes and files left by killed profiling runs",
		Example: `  # Remove everything a killed default-named run left behind
  sudo meshinsight-agent cleanup --prefix mi-`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if prefix == "" {
				return errors.New("--prefix is required (mi- covers every default-named run)")
			}
			if err := agent.Cleanup(cmd.Context(), prefix); err != nil {
				return err
			}
			fmt.Fprintf(errOut, "meshinsight-agent: removed leftovers with prefix %q\n", prefix)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "mi-", "name prefix of the datapaths to remove")
	return cmd
}

// helperCommand is a hidden command that the agent or validate runs inside a
// pod, not a user: no arguments.
func helperCommand(use, short string, run func(*cobra.Command) error) *cobra.Command {
	return &cobra.Command{
		Use:    use,
		Short:  short,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE:   func(cmd *cobra.Command, _ []string) error { return run(cmd) },
	}
}

// newServeCommand is the echo-server helper the agent runs in the server pod.
func newServeCommand() *cobra.Command {
	var protocol, listen string
	cmd := helperCommand(agent.ServeCommand, "Run the benchmark echo server (helper run by profile inside the server pod)", func(c *cobra.Command) error {
		return agent.Serve(c.Context(), protocol, listen)
	})
	cmd.Flags().StringVar(&protocol, agent.FlagProtocol, "http", "protocol: tcp|http|h2c|grpc")
	cmd.Flags().StringVar(&listen, agent.FlagListen, ":8080", "comma-separated listen addresses")
	return cmd
}

// newLoadServerCommand is the benchmark client pod's load server: it runs
// the agent's load jobs as the pod's application.
func newLoadServerCommand() *cobra.Command {
	var listen, tokenFile string
	cmd := helperCommand(agent.LoadServerCommand, "Run the agent's load jobs from this pod (the benchmark client of kubectl meshinsight profile)", func(c *cobra.Command) error {
		return agent.ServeLoad(c.Context(), listen, tokenFile)
	})
	cmd.Flags().StringVar(&listen, agent.FlagListen, ":9092", "listen address: host:port, or unix:PATH")
	cmd.Flags().StringVar(&tokenFile, agent.FlagTokenFile, "", "file holding the bearer token jobs must carry")
	_ = cmd.MarkFlagRequired(agent.FlagTokenFile)
	return cmd
}

// newLoadCommand is the load-generator helper the agent runs in the client pod.
func newLoadCommand(out io.Writer) *cobra.Command {
	var job, outPath string
	cmd := helperCommand(agent.LoadCommand, "Run a load job and write its results as JSON (helper run by profile inside the client pod)", func(c *cobra.Command) error {
		return agent.RunLoadFile(c.Context(), job, outPath, out)
	})
	cmd.Flags().StringVar(&job, agent.FlagJob, "", "load job file (JSON agent.LoadJob)")
	cmd.Flags().StringVar(&outPath, agent.FlagOut, "-", "where to write the outcome (- for stdout)")
	_ = cmd.MarkFlagRequired(agent.FlagJob)
	return cmd
}
