package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy"
	"github.com/meshinsight/kubectl-meshinsight/pkg/agent"
	"github.com/meshinsight/kubectl-meshinsight/pkg/printers"
)

// validateOptions are the flags of `validate`.
type validateOptions struct {
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
		Short: "Measure a real multi-hop sidecar chain and compare it with the predictions (root)",
		Long: `Profiles haproxy on this node, builds a five-pod chain in network namespaces
(client → front → {orders → db, cache}: HTTP/1.1 and TCP edges, mTLS on two,
a parallel fan-out; haproxy sidecars as uid 1337 behind istio-init-style
rules), measures it with interleaved mesh/bypass rounds at each rate, predicts
the same topology from the profile and prints measured vs predicted per edge,
end to end and per proxy. Removes everything but --out, also on Ctrl-C.`,
		Example: `  # The full validation (about four minutes), files in bin/validate
  sudo meshinsight-agent validate --out bin/validate

  # Reuse a profile and keep it short
  sudo meshinsight-agent validate --profile haproxy.json --rates 300 --rounds 3 --duration 1s

  # Reproduce one rate's prediction with the plugin
  kubectl meshinsight predict -f bin/validate/graph-200.yaml --profile bin/validate/profile.json --fanout parallel`,
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
			cfg := accuracy.Config{
				Rates: o.rates, Rounds: o.rounds, Duration: o.duration, Warmup: o.warmup,
				Connections: o.connections, ProfilePath: o.profilePath,
				Profile: accuracy.ProfileConfig{Rates: o.profileRates, Sizes: o.profileSizes, Duration: o.profileDuration, Rounds: o.profileRounds, Connections: o.profileConns},
				Helper:  []string{exe}, Prefix: o.prefix, OutDir: o.outDir, Progress: errOut,
			}.WithDefaults()
			if err := cfg.Validate(); err != nil {
				return err
			}
			rep, err := accuracy.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if o.output == "json" {
				data, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return fmt.Errorf("encoding the report: %w", err)
				}
				_, err = fmt.Fprintf(out, "%s\n", data)
				return err
			}
			return printers.PrintValidation(out, rep)
		},
	}
	f := cmd.Flags()
	f.Float64SliceVar(&o.rates, "rates", accuracy.DefaultRates, "request rates at the entry, req/s")
	f.IntVar(&o.rounds, "rounds", accuracy.DefaultRounds, "interleaved mesh/bypass rounds per rate")
	f.DurationVar(&o.duration, "duration", accuracy.DefaultDuration, "length of each load run")
	f.DurationVar(&o.warmup, "warmup", accuracy.DefaultWarmup, "unrecorded mesh and bypass run before each rate")
	f.IntVar(&o.connections, "connections", accuracy.DefaultConnections, "keep-alive connections of the load generator")
	f.StringVar(&o.profilePath, "profile", "", "predict with this profile instead of profiling haproxy first")
	f.Float64SliceVar(&o.profileRates, "profile-rates", accuracy.DefaultProfileRates, "rates to profile (span the per-proxy rates of the chain)")
	f.IntSliceVar(&o.profileSizes, "profile-sizes", accuracy.DefaultProfileSizes, "payload sizes to profile")
	f.DurationVar(&o.profileDuration, "profile-duration", accuracy.DefaultProfileRunTime, "length of each profiling load run")
	f.IntVar(&o.profileRounds, "profile-rounds", accuracy.DefaultProfileRounds, "interleaved rounds per profiled cell")
	f.IntVar(&o.profileConns, "profile-connections", agent.DefaultConnections, "keep-alive connections of the profiling load generator")
	f.StringVar(&o.prefix, "prefix", "", "name prefix of the network namespaces (default mv-<random>)")
	f.StringVar(&o.outDir, "out", "meshinsight-validate", "directory for the profile, call graphs, predictions and report.json")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table|json")
	return cmd
}

// newRelayCommand is the relay helper validate runs in each service pod.
func newRelayCommand() *cobra.Command {
	var config string
	cmd := &cobra.Command{
		Use:    accuracy.RelayCommand,
		Short:  "Run one service of the validation chain (helper run by validate inside a pod)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return accuracy.ServeRelayFile(cmd.Context(), config)
		},
	}
	cmd.Flags().StringVar(&config, accuracy.FlagConfig, "", "relay config file (JSON workload.RelayConfig)")
	_ = cmd.MarkFlagRequired(accuracy.FlagConfig)
	return cmd
}
