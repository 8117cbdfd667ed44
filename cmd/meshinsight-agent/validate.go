package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy"
	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy/experiment"
	"github.com/meshinsight/kubectl-meshinsight/pkg/agent"
	"github.com/meshinsight/kubectl-meshinsight/pkg/floatlist"
	"github.com/meshinsight/kubectl-meshinsight/pkg/printers"
)

// validateOptions are the flags of `validate`.
type validateOptions struct {
	chains          []string
	rates           []float64
	rounds          int
	duration        time.Duration
	warmup          time.Duration
	connections     int
	profilePath     string
	profileRates    []float64
	profileSizes    []int
	profileDuration time.Duration
	profileRounds   int
	profileConns    int
	prefix          string
	outDir          string
	output          string
}

// newValidateCommand measures a real multi-hop chain and compares it with
// the predictions for the same topology.
func newValidateCommand(out, errOut io.Writer) *cobra.Command {
	o := &validateOptions{}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Measure real multi-hop sidecar chains and compare them with the predictions (root)",
		Long: `Profiles haproxy on this node once, then for each chain builds it in network
namespaces (haproxy sidecars as uid 1337 behind istio-init-style rules, the
stand-in for Envoy), measures it with interleaved mesh/bypass rounds at each
rate, predicts the same topology from the profile and prints measured vs
predicted per edge, end to end and per proxy. Removes everything but --out,
also on Ctrl-C.

Chains:
  default  client → front → {orders → db, cache}: HTTP/1.1 and TCP edges, mTLS
           on two, a parallel fan-out; the agent's own sidecar configuration;
           8 load connections; 150 and 450 req/s
  diamond  client → gateway → {users → store, catalog → store, search}: a
           fan-out of three joining at a store called twice per request, HTTP
           and TCP each with and without mTLS; sidecars unlike the agent's (2
           threads, http-reuse always, maxconn 1024, other timeouts); 32 load
           connections; 150 and 300 req/s`,
		Example: `  # The full validation (about six minutes), files in bin/validate
  sudo meshinsight-agent validate --out bin/validate

  # One chain, reusing a profile, short
  sudo meshinsight-agent validate --chains diamond --profile haproxy.json --rates 300 --rounds 3 --duration 1s

  # Reproduce one rate's prediction with the plugin
  kubectl meshinsight predict -f bin/validate/diamond/graph-150.yaml --profile bin/validate/profile.json --fanout parallel`,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.output != "table" && o.output != "json" {
				return fmt.Errorf("-o %q: want table or json", o.output)
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the agent's own executable for its helpers: %w", err)
			}
			chains, err := accuracy.ChainsNamed(o.chains)
			if err != nil {
				return err
			}
			cfg := accuracy.Config{
				Chains: chains, Rates: o.rates, Rounds: o.rounds, Duration: o.duration, Warmup: o.warmup,
				Connections: o.connections, ProfilePath: o.profilePath,
				Profile: accuracy.ProfileConfig{Rates: o.profileRates, Sizes: o.profileSizes, Duration: o.profileDuration, Rounds: o.profileRounds, Connections: o.profileConns},
				Helper:  []string{exe}, Prefix: o.prefix, OutDir: o.outDir, Progress: errOut,
			}.WithDefaults()
			if err := cfg.Validate(); err != nil {
				return err
			}
			reps, err := accuracy.Run(cmd.Context(), cfg)
			// The chains measured before a failure are printed too.
			if perr := printValidation(out, o.output, reps); perr != nil {
				return errors.Join(err, perr)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.chains, "chains", accuracy.ChainNames(), "chains to measure, in order")
	floatlist.Var(f, &o.rates, "rates", nil, "request rates at the entry of every chain, req/s; empty: each chain's own")
	f.IntVar(&o.rounds, "rounds", accuracy.DefaultRounds, "interleaved mesh/bypass rounds per rate")
	f.DurationVar(&o.duration, "duration", accuracy.DefaultDuration, "length of each load run")
	f.DurationVar(&o.warmup, "warmup", accuracy.DefaultWarmup, "unrecorded mesh and bypass run before each rate")
	f.IntVar(&o.connections, "connections", 0, "keep-alive connections of the load generator in every chain (default each chain's own)")
	f.StringVar(&o.profilePath, "profile", "", "predict with this profile instead of profiling haproxy first")
	floatlist.Var(f, &o.profileRates, "profile-rates", accuracy.DefaultProfileRates, "rates to profile (span the per-proxy rates of the chains)")
	f.IntSliceVar(&o.profileSizes, "profile-sizes", accuracy.DefaultProfileSizes, "payload sizes to profile")
	f.DurationVar(&o.profileDuration, "profile-duration", accuracy.DefaultProfileRunTime, "length of each profiling load run")
	f.IntVar(&o.profileRounds, "profile-rounds", accuracy.DefaultProfileRounds, "interleaved rounds per profiled cell")
	f.IntVar(&o.profileConns, "profile-connections", agent.DefaultConnections, "keep-alive connections of the profiling load generator")
	f.StringVar(&o.prefix, "prefix", "", "name prefix of the network namespaces (default mv-<random>)")
	f.StringVar(&o.outDir, "out", "meshinsight-validate", "directory for the profile and, per chain, its call graphs, predictions and report.json")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table|json")
	return cmd
}

// printValidation writes the chains' reports, one after the other, as
// tables or as one JSON array.
func printValidation(out io.Writer, format string, reps []*experiment.Report) error {
	if len(reps) == 0 {
		return nil
	}
	if format == "json" {
		data, err := json.MarshalIndent(reps, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the reports: %w", err)
		}
		_, err = fmt.Fprintf(out, "%s\n", data)
		return err
	}
	for i, rep := range reps {
		if i > 0 {
			if _, err := fmt.Fprintln(out); err != nil {
				return err
			}
		}
		if err := printers.PrintValidation(out, rep); err != nil {
			return err
		}
	}
	return nil
}

// newRelayCommand is the relay helper validate runs in each service pod.
func newRelayCommand() *cobra.Command {
	var config string
	cmd := helperCommand(accuracy.RelayCommand, "Run one service of the validation chain (helper run by validate inside a pod)", func(c *cobra.Command) error {
		return accuracy.ServeRelayFile(c.Context(), config)
	})
	cmd.Flags().StringVar(&config, accuracy.FlagConfig, "", "relay config file (JSON workload.RelayConfig)")
	_ = cmd.MarkFlagRequired(accuracy.FlagConfig)
	return cmd
}
