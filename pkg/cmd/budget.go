package cmd

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// budgetOptions are predict's CI thresholds: figures over them fail the
// command after the report is printed.
type budgetOptions struct {
	MaxAddedP50 time.Duration
	MaxAddedP99 time.Duration
	MaxProxyCPU string

	// Set by complete.
	budget predict.Budget
}

func (b *budgetOptions) addFlags(f *pflag.FlagSet) {
	f.DurationVar(&b.MaxAddedP50, "max-added-p50", 0, "Fail (exit 1, listing them) when an edge or a path gains more p50 latency than this, e.g. 500us")
	f.DurationVar(&b.MaxAddedP99, "max-added-p99", 0, "Fail (exit 1, listing them) when an edge or a path gains more p99 latency than this, e.g. 2ms")
	f.StringVar(&b.MaxProxyCPU, "max-proxy-cpu", "", "Fail (exit 1, listing them) when one replica of a proxy needs more CPU than this quantity, e.g. 500m")
}

// complete parses --max-proxy-cpu and checks the limits are positive.
func (b *budgetOptions) complete() error {
	if b.MaxAddedP50 < 0 || b.MaxAddedP99 < 0 {
		return fmt.Errorf("--max-added-p50 and --max-added-p99 must be positive")
	}
	b.budget = predict.Budget{MaxAddedP50: b.MaxAddedP50, MaxAddedP99: b.MaxAddedP99}
	if b.MaxProxyCPU == "" {
		return nil
	}
	q, err := resource.ParseQuantity(b.MaxProxyCPU)
	if err != nil || q.Sign() <= 0 {
		return fmt.Errorf("--max-proxy-cpu %q: want a positive CPU quantity such as 500m or 1", b.MaxProxyCPU)
	}
	b.budget.MaxProxyCPUMillicores = float64(q.MilliValue())
	return nil
}
