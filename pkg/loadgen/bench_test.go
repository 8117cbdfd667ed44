package loadgen

import (
	"testing"
	"time"
)

// BenchmarkLoopbackHTTP measures the generator and server together on loopback:
// closed loop over one keep-alive HTTP/1.1 connection, one request per iteration,
// 100-byte requests and 1000-byte responses.
func BenchmarkLoopbackHTTP(b *testing.B) {
	s := startServer(b, HTTP, nil)
	b.ResetTimer()
	res, err := Run(b.Context(), LoadConfig{
		Protocol: HTTP, Target: s.Addr(), RequestBytes: 100, ResponseBytes: 1000,
		Duration: time.Hour, Requests: b.N,
	})
	if err != nil {
		b.Fatal(err)
	}
	if res.Errors > 0 {
		b.Fatalf("%d errors: %s", res.Errors, res.FirstError)
	}
	b.ReportMetric(res.AchievedRate, "req/s")
	b.ReportMetric(float64(res.P50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
}

// BenchmarkLoopbackFixedRate runs every protocol open loop at 1000 req/s for 2 s
// (after 200 ms warm-up) per iteration; run it with -benchtime 1x. It reports the
// achieved rate and latency percentiles from the intended send time.
func BenchmarkLoopbackFixedRate(b *testing.B) {
	const rate = 1000
	for _, p := range Protocols() {
		b.Run(string(p), func(b *testing.B) {
			s := startServer(b, p, nil)
			for b.Loop() {
				res, err := Run(b.Context(), LoadConfig{
					Protocol: p, Target: s.Addr(), RatePerSecond: rate, RequestBytes: 100, ResponseBytes: 1000,
					Duration: 2 * time.Second, Warmup: 200 * time.Millisecond, Connections: 4,
				})
				if err != nil {
					b.Fatal(err)
				}
				if res.Errors > 0 || res.Dropped > 0 {
					b.Fatalf("%d errors (%s), %d dropped", res.Errors, res.FirstError, res.Dropped)
				}
				b.ReportMetric(res.AchievedRate, "req/s")
				b.ReportMetric(float64(res.P50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
				b.ReportMetric(float64(res.ServiceP50.Microseconds()), "svc-p50-µs")
				b.ReportMetric(float64(res.SendLagP99.Microseconds()), "lag-p99-µs")
				b.ReportMetric(float64(res.Late), "late")
			}
		})
	}
}
