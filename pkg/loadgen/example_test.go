package loadgen_test

import (
	"context"
	"fmt"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
)

// The profiler's A/B measurement: one echo server on a port the mesh intercepts and
// on one it bypasses, driven alternately at the same rate.
func ExampleInterleave() {
	ctx := context.Background()
	srv, err := loadgen.Serve(ctx, loadgen.ServerConfig{Protocol: loadgen.HTTP, Listen: ":8080,:8081"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	meshed := loadgen.LoadConfig{
		Protocol: loadgen.HTTP, Target: "echo.bench.svc:8080", RatePerSecond: 1000,
		RequestBytes: 1024, ResponseBytes: 4096,
		Duration: 10 * time.Second, Warmup: 2 * time.Second, Connections: 8,
	}
	bypass := meshed
	bypass.Target = "echo.bench.svc:8081"
	a, b, err := loadgen.Interleave(ctx, meshed, bypass, 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	micros := func(r *loadgen.Result) float64 { return float64(r.P50.Microseconds()) }
	added := make([]float64, len(a))
	for i := range a {
		added[i] = micros(a[i]) - micros(b[i])
	}
	median, lo, hi := loadgen.Spread(added)
	fmt.Printf("added p50 %.0fµs (%.0f…%.0f over %d rounds)\n", median, lo, hi, len(added))
}
