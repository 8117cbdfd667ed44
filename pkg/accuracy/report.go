package accuracy

import (
	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy/experiment"
	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
)

// Sides of an interleaved pair of load runs, also the relays' listener names.
const (
	SideMesh   = "mesh"
	SideBypass = "bypass"
)

func latencyOf(h loadgen.HistogramSummary) experiment.Latency {
	return experiment.Latency{Count: h.Count, P50Micros: h.P50Micros, P99Micros: h.P99Micros}
}
