package loadgen

import (
	"context"
	"fmt"

	"github.com/meshinsight/kubectl-meshinsight/pkg/spread"
)

// Interleave runs a, b, a, b, … for rounds rounds and returns the results of each
// side in order. Latency on shared VMs drifts by more than the effect being
// measured between separate runs, so compare a and b (e.g. a meshed port and a
// bypass port of one server) only within one Interleave call, and look at the
// spread over rounds (see [Spread]) rather than at one pair.
//
// Both configurations are validated before anything runs. On a failed or cancelled
// run Interleave returns the results collected so far with the error.
func Interleave(ctx context.Context, a, b LoadConfig, rounds int) (aResults, bResults []*Result, err error) {
	if rounds <= 0 {
		return nil, nil, fmt.Errorf("%w: rounds %d must be positive", ErrInvalidConfig, rounds)
	}
	if err := a.Validate(); err != nil {
		return nil, nil, fmt.Errorf("config a: %w", err)
	}
	if err := b.Validate(); err != nil {
		return nil, nil, fmt.Errorf("config b: %w", err)
	}
	sa, err := Open(ctx, a)
	if err != nil {
		return nil, nil, fmt.Errorf("config a (%s): %w", a.Target, err)
	}
	defer sa.Close()
	sb, err := Open(ctx, b)
	if err != nil {
		return nil, nil, fmt.Errorf("config b (%s): %w", b.Target, err)
	}
	defer sb.Close()
	for round := range rounds {
		for _, side := range []struct {
			name string
			s    *Session
			cfg  LoadConfig
			into *[]*Result
		}{{"a", sa, a, &aResults}, {"b", sb, b, &bResults}} {
			res, err := side.s.Run(ctx, side.cfg)
			if err != nil {
				return aResults, bResults, fmt.Errorf("interleaved round %d/%d, %s (%s): %w", round+1, rounds, side.name, side.cfg.Target, err)
			}
			*side.into = append(*side.into, res)
		}
	}
	return aResults, bResults, nil
}

// Spread returns the median, minimum and maximum of values (see spread.Of,
// which also counts them). It does not modify values; for no values it
// returns zeros.
func Spread(values []float64) (median, lo, hi float64) {
	f := spread.Of(values)
	return f.Median, f.Min, f.Max
}

// Values extracts one figure per result, e.g.
// Values(rs, func(r *Result) float64 { return r.P99.Seconds() * 1e6 }), for [Spread].
func Values(results []*Result, f func(*Result) float64) []float64 {
	out := make([]float64, 0, len(results))
	for _, r := range results {
		if r != nil {
			out = append(out, f(r))
		}
	}
	return out
}
