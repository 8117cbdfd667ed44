package validate

import (
	"io"

	"github.com/meshinsight/kubectl-meshinsight/pkg/printers"
	"github.com/meshinsight/kubectl-meshinsight/pkg/validate/experiment"
	"github.com/meshinsight/kubectl-meshinsight/pkg/workload"
)

// Sides of an interleaved pair of load runs, also the relays' listener names.
const (
	SideMesh   = "mesh"
	SideBypass = "bypass"
)

func latencyOf(h workload.HistogramSummary) experiment.Latency {
	return experiment.Latency{Count: h.Count, P50Micros: h.P50Micros, P99Micros: h.P99Micros}
}

// PrintTable writes the report as tables, one per rate, then the summary.
// The rendering lives in pkg/printers (PrintValidation); this stays for the
// agent's validate command until it calls printers itself.
func PrintTable(w io.Writer, r *experiment.Report) error { return printers.PrintValidation(w, r) }
