package predict

import (
	"math"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

func TestErlangC(t *testing.T) {
	for _, c := range []struct {
		servers int
		load    float64
		want    float64
	}{
		{1, 0.3, 0.3},       // M/M/1: the chance to wait is the utilisation
		{2, 1, 1.0 / 3},     // a²/2 · 2/(2−a) ÷ (1 + a + that) = 1 ÷ 3
		{2, 0.2, 0.0182},    // 0.02·2/1.8 ÷ (1.2 + 0.0222)
		{4, 3.9, 0.9451},    // near saturation nearly everyone waits
		{8, 0.01, 2.46e-21}, // hardly busy: nobody waits
	} {
		if got := erlangC(c.servers, c.load); math.Abs(got-c.want) > 1e-3*math.Max(c.want, 1e-12) && math.Abs(got-c.want) > 1e-4 {
			t.Errorf("erlangC(%d, %g) = %g, want %g", c.servers, c.load, got, c.want)
		}
	}
}

func TestWaitQuantile(t *testing.T) {
	// M/M/1 at ρ = 0.5, S = 100 µs: P(W > x) = 0.5·exp(−x/200 µs), so the
	// p99 wait is 200·ln 50 µs and the median is 0.
	near(t, "p99", waitQuantile(1, 0.5, 100, 0.99), 200*math.Log(50))
	near(t, "p50", waitQuantile(1, 0.5, 100, 0.5), 0)
	// Below 1% busy nobody's p99 waits.
	near(t, "idle p99", waitQuantile(1, 0.009, 100, 0.99), 0)
	// More threads at the same load per thread wait less.
	if one, two := waitQuantile(1, 0.5, 100, 0.99), waitQuantile(2, 1, 100, 0.99); !(two < one) {
		t.Errorf("p99 wait with 2 threads at a=1 (%g) not below 1 thread at a=0.5 (%g)", two, one)
	}
	// Saturated loads are capped, not infinite.
	if w := waitQuantile(1, 3, 100, 0.99); math.IsInf(w, 0) || math.IsNaN(w) || w <= 0 {
		t.Errorf("saturated wait %g, want a finite positive floor", w)
	}
}

// queueProfile is testProfile measured at 100 req/s through one-threaded
// proxies.
func queueProfile(t *testing.T) *profile.Profile {
	p := testProfile(t)
	p.OperatingPoint = &profile.OperatingPoint{RequestsPerSecond: 100, ProxyThreads: 1}
	return p
}

func predictQueueing(t *testing.T, g *callgraph.Graph, p *profile.Profile, queueing bool) (*Scenario, []diag.Message) {
	t.Helper()
	r := resolved(t, g)
	var notes diag.List
	sc, err := Predict(r, p, Options{Queueing: queueing}, &notes)
	if err != nil {
		t.Fatal(err)
	}
	return sc, notes.Sorted()
}

func TestQueueingAddsTheBusyProxysWait(t *testing.T) {
	// tcp plaintext: 8 CPU-µs per request per crossing, both directions
	// (2 × (2×4 + 0) at 0 bytes); at 100 req/s the profile's own wait
	// is ~0 (ρ = 0.0016). Server at 20,000 req/s with one replica: its
	// sidecar runs 20,000 × 16 µs = 0.32 cores (one crossing of 16 µs).
	busy := twoWorkloads("sidecar", "sidecar", callgraph.Edge{Protocol: "tcp", MTLS: ptr(false), RequestsPerSecond: ptr(20000.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)})
	without, _ := predictQueueing(t, busy, queueProfile(t), false)
	with, notes := predictQueueing(t, busy, queueProfile(t), true)
	e0, e1 := without.Edges[0], with.Edges[0]
	if e1.LatencyP50Micros != e0.LatencyP50Micros || e1.CPUMillicores != e0.CPUMillicores {
		t.Errorf("queueing changed p50 or CPU: %+v vs %+v", e1, e0)
	}
	// Each sidecar: a = 20000 × 16e-6 = 0.32, S = 16 µs: wait99 =
	// 16/(1−0.32) · ln(0.32/0.01) per crossing, two crossings.
	want := 2 * (16 / (1 - 0.32) * math.Log(0.32/0.01))
	near(t, "added p99", e1.LatencyP99Micros-e0.LatencyP99Micros, want)
	for _, n := range notes {
		if n.Code == diag.ProxySaturated {
			t.Errorf("unexpected %s at 32%% load", n)
		}
	}
	// A quiet edge gets nothing.
	quiet := twoWorkloads("sidecar", "sidecar", callgraph.Edge{Protocol: "tcp", RequestsPerSecond: ptr(50.0)})
	q0, _ := predictQueueing(t, quiet, queueProfile(t), false)
	q1, _ := predictQueueing(t, quiet, queueProfile(t), true)
	near(t, "quiet p99", q1.Edges[0].LatencyP99Micros, q0.Edges[0].LatencyP99Micros)
	// Without an operating point the profile gets no term.
	n0, _ := predictQueueing(t, busy, testProfile(t), true)
	near(t, "no operating point p99", n0.Edges[0].LatencyP99Micros, e0.LatencyP99Micros)
}

func TestQueueingSaturation(t *testing.T) {
	// 70,000 req/s × 16 µs = 1.12 cores on one thread.
	g := twoWorkloads("sidecar", "sidecar", callgraph.Edge{Protocol: "tcp", MTLS: ptr(false), RequestsPerSecond: ptr(70000.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)})
	sc, notes := predictQueueing(t, g, queueProfile(t), true)
	if p := sc.Edges[0].LatencyP99Micros; math.IsInf(p, 0) || math.IsNaN(p) {
		t.Fatalf("p99 %g", p)
	}
	found := false
	for _, n := range notes {
		found = found || n.Code == diag.ProxySaturated
	}
	if !found {
		t.Errorf("no %s note for a sidecar at 112%% of its thread: %v", diag.ProxySaturated, notes)
	}
}

func TestQueueingUsesTheWorkloadsThreads(t *testing.T) {
	// The same busy edge with 4 worker threads per sidecar (the graph's
	// proxyConcurrency) waits less than with the profile's 1.
	g := twoWorkloads("sidecar", "sidecar", callgraph.Edge{Protocol: "tcp", MTLS: ptr(false), RequestsPerSecond: ptr(40000.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)})
	one, _ := predictQueueing(t, g, queueProfile(t), true)
	four := 4
	for i := range g.Workloads {
		g.Workloads[i].ProxyConcurrency = &four
	}
	many, _ := predictQueueing(t, g, queueProfile(t), true)
	if !(many.Edges[0].LatencyP99Micros < one.Edges[0].LatencyP99Micros) {
		t.Errorf("p99 with 4 threads %g not below 1 thread %g", many.Edges[0].LatencyP99Micros, one.Edges[0].LatencyP99Micros)
	}
}
