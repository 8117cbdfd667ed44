package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/meshinsight/kubectl-meshinsight/pkg/agent"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// newFitCommand fits a profile run's raw cells again.
func newFitCommand(out io.Writer) *cobra.Command {
	var measurements, like, output string
	cmd := &cobra.Command{
		Use:   "fit",
		Short: "Fit a profile run's raw cells again into a profile (no measuring, no root)",
		Long: `Fits the cells a profile run wrote (profile --measurements, or validate's
measurements.json) into a profile as this agent fits them, keeping the name,
provenance, operating point and memory model of the profile that run wrote
(--like). Use it to judge a change of the fit on cells already measured.`,
		Example: `  # Re-fit a validation run's profile and predict its default chain with it
  meshinsight-agent fit --measurements bin/validate/measurements.json --like bin/validate/profile.json -o refit.json
  kubectl meshinsight predict -f bin/validate/default/graph-150.yaml --profile refit.json --fanout parallel`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if measurements == "" || like == "" {
				return errors.New("--measurements and --like are required")
			}
			ms, err := agent.ReadMeasurements(measurements)
			if err != nil {
				return err
			}
			base, err := profile.ReadFile(like)
			if err != nil {
				return err
			}
			p, err := agent.Refit(ms, base)
			if err != nil {
				return fmt.Errorf("fitting %s: %w", measurements, err)
			}
			return writeProfile(p, output, out)
		},
	}
	cmd.Flags().StringVar(&measurements, "measurements", "", "the run's raw cells (JSON)")
	cmd.Flags().StringVar(&like, "like", "", "the profile that run wrote")
	cmd.Flags().StringVarP(&output, "output", "o", "", "profile file to write (default stdout)")
	return cmd
}
