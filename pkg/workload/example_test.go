package workload_test

import (
	"context"
	"fmt"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/workload"
)

// The profiler's A/B measurement: one echo server on a port the mesh intercepts and
// on one it bypasses, driven alternately at the same rate.
func ExampleInterleave() {
	ctx := context.Background()
	srv, err := workload.Serve(ctx, workload.ServerConfig{Protocol: workload.HTTP, Listen: ":8080,:8081"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	meshed := workload.LoadConfig{
		Protocol: workload.HTTP, Target: "echo.bench.svc:8080", RatePerSecond: 1000,
		RequestBytes: 1024, ResponseBytes: 4096,
		Duration: 10 * time.Second, Warmup: 2 * time.Second, Connections: 8,
	}
	bypass := meshed
	bypass.Target = "echo.bench.svc:8081"
	a, b, err := workload.Interleave(ctx, meshed, bypass, 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	micros := func(r *workload.Result) float64 { return float64(r.P50.Microseconds()) }
	added := make([]float64, len(a))
	for i := range a {
		added[i] = micros(a[i]) - micros(b[i])
	}
	median, lo, hi := workload.Spread(added)
	fmt.Printf("added p50 %.0fµs (%.0f…%.0f over %d rounds)\n", median, lo, hi, len(added))
}
