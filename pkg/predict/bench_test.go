package predict

import (
	"runtime"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// BenchmarkPredictLarge predicts a synthetic graph of 10,000 workloads and 100,000
// edges with the reference profile (target: under 1 s and 500 MiB). It reports the
// peak heap in use across iterations as peak-heap-MiB.
func BenchmarkPredictLarge(b *testing.B) {
	ref, err := profile.Reference()
	if err != nil {
		b.Fatal(err)
	}
	g := callgraph.Synthetic(10_000, 100_000, 1)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := uint64(0)
	b.ResetTimer()
	for b.Loop() {
		r, err := callgraph.Resolve(g)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := Run(Input{Graph: r, Profile: ref, ProfileSource: "embedded", Queueing: true})
		if err != nil {
			b.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		if len(rep.Baseline.Edges) != 100_000 {
			b.Fatalf("edges = %d", len(rep.Baseline.Edges))
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
