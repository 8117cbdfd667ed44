package experiment

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

func TestDefaultTopology(t *testing.T) {
	top := DefaultTopology()
	if err := top.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := top.Pods(), []string{"client", "front", "orders", "cache", "db"}; !slices.Equal(got, want) {
		t.Errorf("pods %v, want %v", got, want)
	}
	var http, tcp, mtls int
	fanOut := map[string]int{}
	for _, c := range top.Calls {
		fanOut[c.From]++
		switch c.Protocol {
		case "http":
			http++
		case "tcp":
			tcp++
		}
		if c.MTLS {
			mtls++
		}
	}
	if len(top.Services()) < 4 || http == 0 || tcp == 0 || mtls == 0 || mtls == len(top.Calls) || fanOut["front"] < 2 {
		t.Errorf("the default topology must have ≥4 services, a fan-out, http and tcp edges and mTLS on some: %+v", top)
	}
}

// predictDefault predicts the default topology (predictTopology).
func predictDefault(t *testing.T, rate float64) *predict.Report {
	t.Helper()
	return predictTopology(t, DefaultTopology(), rate)
}

func TestGraphPredicts(t *testing.T) {
	rep := predictDefault(t, 200)
	if len(rep.Baseline.Edges) != 4 || len(rep.Baseline.Proxies) != 5 || len(rep.Baseline.Paths) != 1 {
		t.Fatalf("prediction: %d edges, %d proxies, %d paths", len(rep.Baseline.Edges), len(rep.Baseline.Proxies), len(rep.Baseline.Paths))
	}
	for _, p := range rep.Baseline.Proxies {
		want := map[string]float64{"validate/front": 600, "validate/orders": 400}[p.Workload]
		if want == 0 {
			want = 200
		}
		if p.RequestsPerSecondPerReplica != want {
			t.Errorf("%s: %g req/s through its proxy, want %g", p.Workload, p.RequestsPerSecondPerReplica, want)
		}
	}
	path := rep.Baseline.Paths[0]
	var e = map[string]float64{}
	for _, er := range rep.Baseline.Edges {
		e[er.Name()] = er.LatencyP50Micros
	}
	n := func(a, b string) string { return "validate/" + a + "->validate/" + b }
	want := e[n("client", "front")] + math.Max(e[n("front", "orders")]+e[n("orders", "db")], e[n("front", "cache")])
	if math.Abs(path.LatencyP50Micros-want) > 1e-9 {
		t.Errorf("path p50 %.1f µs, want the parallel fan-out's %.1f", path.LatencyP50Micros, want)
	}
}

// syntheticRounds are rounds whose every added figure is known: end to end
// +400 µs p50 / +900 µs p99, front's handler +250/+600, every inner edge
// +100/+300, and each proxy 50 µs of CPU per request.
func syntheticRounds(top Topology, n int) []Round {
	var out []Round
	for i := range n {
		jitter := float64(i) * 10
		run := func(p50, p99, handler50, handler99, edge50, edge99 float64, cpu uint64) LoadRun {
			r := LoadRun{P50Micros: p50 + jitter, P99Micros: p99, Completed: 990, Requests: 1000,
				ProxyCPUNanos: map[string]uint64{}, Edges: map[string]Latency{}, Handlers: map[string]Latency{}}
			for _, p := range top.Pods() {
				r.ProxyCPUNanos[p] = cpu
			}
			for _, s := range top.Services() {
				r.Handlers[s] = Latency{Count: 1000, P50Micros: handler50, P99Micros: handler99}
			}
			for _, c := range top.Calls {
				r.Edges[c.Name()] = Latency{Count: 1000, P50Micros: edge50 + jitter, P99Micros: edge99}
			}
			return r
		}
		out = append(out, Round{
			Mesh:   run(1400, 2900, 1250, 2600, 300, 800, 50_000_000),
			Bypass: run(1000, 2000, 1000, 2000, 200, 500, 0),
		})
	}
	return out
}

func TestCompare(t *testing.T) {
	top := DefaultTopology()
	rep := predictDefault(t, 200)
	rows := Compare(top, 200, syntheticRounds(top, 3), &rep.Baseline)
	if got := len(rows); got != 4*2+2+5+1 {
		t.Fatalf("%d rows, want 16", got)
	}
	if names := rowNames(rows, KindEdge); len(names) != 4 {
		t.Errorf("edge rows %v, want 4 edges", names)
	}
	find := func(kind, prefix, metric string) Row {
		for _, r := range rows {
			if r.Kind == kind && strings.HasPrefix(r.Name, prefix) && r.Metric == metric {
				return r
			}
		}
		t.Fatalf("no %s row %s %s", kind, prefix, metric)
		return Row{}
	}
	for _, tt := range []struct {
		row  Row
		want float64
	}{
		{find(KindPath, "from client", MetricP50), 400},
		{find(KindPath, "from client", MetricP99), 900},
		{find(KindEdge, "client->front", MetricP50), 400 - 250},
		{find(KindEdge, "client->front", MetricP99), 900 - 600},
		{find(KindEdge, "orders->db", MetricP50), 100},
		{find(KindEdge, "front->cache", MetricP99), 300},
		// 50 ms of CPU over 1000 requests is 50 µs each: 10 mcores at 200/s.
		{find(KindProxy, "front", MetricCPU), 10},
		{find(KindTotal, "sum", MetricCPU), 50},
	} {
		if tt.row.Measured.Median != tt.want || tt.row.Measured.N != 3 {
			t.Errorf("%s %s %s: measured %+v, want median %g over 3 rounds", tt.row.Kind, tt.row.Name, tt.row.Metric, tt.row.Measured, tt.want)
		}
		if math.Abs(tt.row.AbsError-(tt.row.Predict-tt.want)) > 1e-9 {
			t.Errorf("%s %s: abs error %g, want %g", tt.row.Name, tt.row.Metric, tt.row.AbsError, tt.row.Predict-tt.want)
		}
	}
	if note := find(KindProxy, "front", MetricCPU).Note; strings.Contains(note, "runs on a CPU") {
		t.Errorf("proxy note %q without measured runs, want none named", note)
	}
	rounds := syntheticRounds(top, 3)
	for i := range rounds {
		rounds[i].Mesh.ProxyRuns = map[string]uint64{"front": 2500}
	}
	for _, r := range Compare(top, 200, rounds, &rep.Baseline) {
		if r.Kind == KindProxy && r.Name == "front" && !strings.HasSuffix(r.Note, ", 2.5 runs on a CPU per request") {
			t.Errorf("front's note %q: want its 2500 runs over 1000 requests", r.Note)
		}
	}

	r := NewRow(KindEdge, "x", MetricP50, "µs", []float64{100, 120, 90}, 110, nil, "")
	if r.InRange || r.Range != nil {
		t.Errorf("row without a predicted range: %+v, want not in range", r)
	}
	if r := NewRow(KindEdge, "x", MetricP50, "µs", []float64{100, 120, 90}, 110, &predict.Interval{Low: 99, High: 130}, ""); !r.InRange {
		t.Errorf("median 100 in [99, 130]: %+v, want in range", r)
	}
	if r := NewRow(KindEdge, "x", MetricP50, "µs", []float64{100, 120, 90}, 110, &predict.Interval{Low: 101, High: 130}, ""); r.InRange {
		t.Errorf("median 100 outside [101, 130]: %+v, want not in range", r)
	}
	if !r.Inside || r.Measured.Min != 90 || r.Measured.Max != 120 || math.Abs(r.RelError-0.1) > 1e-9 {
		t.Errorf("row %+v: want inside [90,120] with +10%%", r)
	}
	if r := NewRow(KindEdge, "x", MetricP50, "µs", []float64{0}, 5, nil, ""); !math.IsNaN(r.RelError) || r.Inside {
		t.Errorf("zero measurement: %+v, want NaN relative error and outside", r)
	}
}

func TestSummarize(t *testing.T) {
	top := DefaultTopology()
	var rates []RateResult
	for _, rate := range []float64{200, 600} {
		rep := predictDefault(t, rate)
		rates = append(rates, RateResult{RatePerSecond: rate, Rounds: syntheticRounds(top, 2), Command: "kubectl meshinsight predict -f g.yaml",
			Rows: Compare(top, rate, syntheticRounds(top, 2), &rep.Baseline)})
	}
	s := Summarize(rates)
	if s.Latency.Rows != 2*(8+2) || s.LatencyP50.Rows != 10 || s.LatencyP99.Rows != 10 || s.CPU.Rows != 2*5 {
		t.Errorf("summary over %d latency and %d CPU rows, want 20 and 10", s.Latency.Rows, s.CPU.Rows)
	}
	if s.Latency.MaxAbs < s.Latency.MedianAbs || s.CPU.MaxRel < s.CPU.MedianRel || s.CPU.MedianAbs <= 0 {
		t.Errorf("summary %+v", s)
	}
}

// rowNames lists the distinct names of rows of a kind.
func rowNames(rows []Row, kind string) []string {
	var out []string
	for _, r := range rows {
		if r.Kind == kind && !slices.Contains(out, r.Name) {
			out = append(out, r.Name)
		}
	}
	return out
}
