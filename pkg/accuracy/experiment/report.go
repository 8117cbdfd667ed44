package experiment

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/spread"
)

// Report is the outcome of a validation run on one chain.
type Report struct {
	// Chain names the chain; Setup says how its sidecars and load
	// generator were configured.
	Chain string `json:"chain,omitempty"`
	Setup string `json:"setup,omitempty"`
	// Started is the start of the validation (the profile included);
	// Elapsed runs from there to the end of this chain.
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsedNanos"`
	// LoadAverage is /proc/loadavg at the start and at the end of the
	// chain's measurement: the machine is shared, and its load is part of
	// every figure.
	LoadAverage []string `json:"loadAverage"`
	// ProfilePath is the profile the predictions used.
	ProfilePath string `json:"profilePath"`
	ProfileName string `json:"profileName"`
	// ProfileNodeBusy is the node's busy share while the profile's cells
	// were measured (its provenance), to set beside the rates' MeshNodeBusy:
	// what else runs moves a proxy's CPU per request.
	ProfileNodeBusy *float64 `json:"profileNodeBusy,omitempty"`
	Topology        Topology `json:"topology"`
	Rounds          int      `json:"rounds"`
	// RunSeconds is the length of each load run.
	RunSeconds float64      `json:"runSeconds"`
	Rates      []RateResult `json:"rates"`
	Summary    Summary      `json:"summary"`
	// SummaryWithoutQueueing summarises the rows without the queueing term.
	SummaryWithoutQueueing *Summary `json:"summaryWithoutQueueing,omitempty"`
}

// RateResult is everything measured and predicted at one entry rate.
type RateResult struct {
	RatePerSecond float64 `json:"ratePerSecond"`
	// GraphPath and PredictionPath are the call graph written for the rate
	// and the predictor's report on it; Command reproduces the prediction.
	GraphPath      string `json:"graphPath"`
	PredictionPath string `json:"predictionPath"`
	Command        string `json:"command"`
	// Rounds are the raw interleaved measurements.
	Rounds []Round `json:"rounds"`
	// Rows compare measured and predicted figures.
	Rows []Row `json:"rows"`
	// RowsWithoutQueueing are the same rows predicted without the
	// queueing term, to show what the term does.
	RowsWithoutQueueing []Row `json:"rowsWithoutQueueing,omitempty"`
	// IdleProxyMillicores is the proxies' total CPU during bypass runs (no
	// request crosses them then), median over rounds: their floor.
	IdleProxyMillicores float64 `json:"idleProxyMillicores"`
	// MeshNodeBusy is the node's busy share during the mesh runs, median
	// over rounds; absent when /proc/stat was unreadable.
	MeshNodeBusy *float64 `json:"meshNodeBusy,omitempty"`
	// Notes are the predictor's messages and the measurement's warnings.
	Notes []string `json:"notes,omitempty"`
}

// Round is one mesh/bypass pair.
type Round struct {
	Mesh   LoadRun `json:"mesh"`
	Bypass LoadRun `json:"bypass"`
}

// LoadRun is what one load run measured.
type LoadRun struct {
	// P50Micros and P99Micros are end-to-end latencies at the load
	// generator, from the intended send time.
	P50Micros    float64 `json:"p50Micros"`
	P99Micros    float64 `json:"p99Micros"`
	AchievedRate float64 `json:"achievedRate"`
	// Sent counts requests the generator sent in the window; with Poisson
	// arrivals it varies around rate × duration (standard deviation √n).
	Sent      int `json:"sent"`
	Completed int `json:"completed"`
	Errors    int `json:"errors"`
	// Dropped counts requests due in the window that were never sent
	// because the generator fell too far behind.
	Dropped int `json:"dropped,omitempty"`
	Late    int `json:"late"`
	// Requests is how many requests entered the chain: completed ones plus
	// the load generator's readiness requests, one per connection.
	Requests int `json:"requests"`
	// ProxyCPUNanos is each pod's proxy on-CPU time during the run
	// (/proc/PID/task/*/schedstat delta).
	ProxyCPUNanos map[string]uint64 `json:"proxyCPUNanos"`
	// ProxyRuns is how many times each pod's proxy threads were put on a
	// CPU during the run (schedstat pcount delta): its wake-ups, roughly;
	// absent in reports from before it was measured.
	ProxyRuns map[string]uint64 `json:"proxyRuns,omitempty"`
	// Edges holds, per call name, the caller relay's view: p50/p99 of the
	// round trip minus the callee's handler time.
	Edges map[string]Latency `json:"edges"`
	// Handlers holds, per service, p50/p99 of the relay's handler time.
	Handlers map[string]Latency `json:"handlers"`
	// RelayErrors counts failed requests and downstream calls at the relays.
	RelayErrors int64 `json:"relayErrors"`
	// NodeBusy is the share (0..1) of the node's CPU time that was busy
	// during the run (/proc/stat, every process); absent when unreadable.
	NodeBusy *float64 `json:"nodeBusy,omitempty"`
}

// Latency is a pair of percentiles in µs, with the sample count.
type Latency struct {
	Count     int64   `json:"count"`
	P50Micros float64 `json:"p50Micros"`
	P99Micros float64 `json:"p99Micros"`
}

// Row kinds and metrics.
const (
	KindEdge  = "edge"
	KindPath  = "end-to-end"
	KindProxy = "proxy"
	KindTotal = "all proxies"

	MetricP50 = "p50"
	MetricP99 = "p99"
	MetricCPU = "cpu"
)

// Row compares one measured figure with its prediction. Latencies are
// added latency (mesh − bypass) in µs; CPU is millicores at the nominal
// rate (CPU-µs per entry request × rate ÷ 1000).
type Row struct {
	Kind     string        `json:"kind"`
	Name     string        `json:"name"`
	Metric   string        `json:"metric"`
	Unit     string        `json:"unit"`
	Measured spread.Figure `json:"measured"`
	Predict  float64       `json:"predicted"`
	// AbsError is predicted − measured median; RelError divides it by the
	// measured median's magnitude (NaN when that is 0).
	AbsError float64 `json:"absError"`
	RelError float64 `json:"relError"`
	// Inside is true when the prediction lies within the measured min..max.
	Inside bool `json:"inside"`
	// Range is the prediction's low–high range (nil when the profile
	// gives none); InRange is true when the measured median lies in it.
	Range   *predict.Interval `json:"range,omitempty"`
	InRange bool              `json:"inRange"`
	Note    string            `json:"note,omitempty"`
}

// Summary condenses every row of every rate into error statistics.
type Summary struct {
	// Latency covers edge and end-to-end rows, p50 and p99; LatencyP50 and
	// LatencyP99 the same rows split by percentile.
	Latency    ErrorStats `json:"latency"`
	LatencyP50 ErrorStats `json:"latencyP50"`
	LatencyP99 ErrorStats `json:"latencyP99"`
	// CPU covers per-proxy rows.
	CPU ErrorStats `json:"cpu"`
}

// ErrorStats are the absolute errors of a class of rows.
type ErrorStats struct {
	Rows int `json:"rows"`
	// Inside counts the rows whose prediction lies in the measured spread.
	Inside int `json:"inside"`
	// Ranged counts the rows with a predicted range, InRange those whose
	// measured median lies in it.
	Ranged  int `json:"ranged"`
	InRange int `json:"inRange"`
	// MedianAbs and MaxAbs are |predicted − measured| in the rows' unit.
	MedianAbs float64 `json:"medianAbs"`
	MaxAbs    float64 `json:"maxAbs"`
	// MedianRel and MaxRel are |predicted − measured| ÷ |measured|.
	MedianRel float64 `json:"medianRel"`
	MaxRel    float64 `json:"maxRel"`
}

// NewRow compares one measured quantity (values over rounds) with its
// prediction and the prediction's range (nil when unknown).
func NewRow(kind, name, metric, unit string, measured []float64, predicted float64, predictedRange *predict.Interval, note string) Row {
	f := spread.Of(measured)
	r := Row{Kind: kind, Name: name, Metric: metric, Unit: unit, Measured: f, Predict: predicted, Range: predictedRange, Note: note}
	r.AbsError = predicted - f.Median
	r.RelError = math.NaN()
	if f.Median != 0 {
		r.RelError = r.AbsError / math.Abs(f.Median)
	}
	r.Inside = f.Inside(predicted)
	r.InRange = predictedRange != nil && f.N > 0 && f.Median >= predictedRange.Low && f.Median <= predictedRange.High
	return r
}

// rangeOf picks one figure's interval from a prediction's ranges.
func rangeOf(r *predict.Range, figure func(*predict.Range) *predict.Interval) *predict.Interval {
	if r == nil {
		return nil
	}
	return figure(r)
}

// Compare turns one rate's rounds and the predictor's scenario into rows:
// per edge p50 and p99, end to end p50 and p99, per proxy and in total CPU.
func Compare(t Topology, rate float64, rounds []Round, sc *predict.Scenario) []Row {
	c := comparison{t: t, rate: rate, rounds: rounds, sc: sc}
	return slices.Concat(c.edgeRows(), c.pathRows(), c.proxyRows())
}

// comparison compares one rate's rounds with the scenario predicted for it.
type comparison struct {
	t      Topology
	rate   float64
	rounds []Round
	sc     *predict.Scenario
}

// perRound is f of every round, leaving out rounds where it is NaN.
func (c comparison) perRound(f func(r Round) float64) []float64 {
	out := make([]float64, 0, len(c.rounds))
	for _, r := range c.rounds {
		if v := f(r); !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

// percentiles select a p50 or a p99 from the measurements.
var percentiles = []struct {
	metric   string
	latency  func(Latency) float64
	run      func(LoadRun) float64
	edge     func(predict.EdgeResult) float64
	path     func(predict.PathResult) float64
	interval func(*predict.Range) *predict.Interval
}{
	{MetricP50, func(l Latency) float64 { return l.P50Micros }, func(r LoadRun) float64 { return r.P50Micros },
		func(e predict.EdgeResult) float64 { return e.LatencyP50Micros }, func(p predict.PathResult) float64 { return p.LatencyP50Micros },
		func(r *predict.Range) *predict.Interval { return r.LatencyP50Micros }},
	{MetricP99, func(l Latency) float64 { return l.P99Micros }, func(r LoadRun) float64 { return r.P99Micros },
		func(e predict.EdgeResult) float64 { return e.LatencyP99Micros }, func(p predict.PathResult) float64 { return p.LatencyP99Micros },
		func(r *predict.Range) *predict.Interval { return r.LatencyP99Micros }},
}

// cpuInterval picks the CPU range.
func cpuInterval(r *predict.Range) *predict.Interval { return r.CPUMillicores }

// edgeRows compare each call's added latency. The load generator reports no
// per-call handler times, so the entry edge is end-to-end minus the callee's
// handler time, percentile by percentile (an approximation); the other edges
// are the caller's round trip minus the callee's handler time, per call.
func (c comparison) edgeRows() []Row {
	predicted := map[string]predict.EdgeResult{}
	for _, e := range c.sc.Edges {
		predicted[e.Name()] = e
	}
	var rows []Row
	for _, call := range c.t.Calls {
		pred := predicted[Namespace+"/"+call.From+"->"+Namespace+"/"+call.To]
		label := fmt.Sprintf("%s (%s%s)", call.Name(), call.Protocol, map[bool]string{true: ", mTLS"}[call.MTLS])
		entry := call.From == c.t.Entry
		note := "caller's round trip − callee's handler time, per call"
		if entry {
			note = "derived: end-to-end − " + call.To + "'s handler time, per percentile"
		}
		for _, pc := range percentiles {
			added := c.perRound(func(r Round) float64 {
				if entry {
					return (pc.run(r.Mesh) - pc.latency(r.Mesh.Handlers[call.To])) - (pc.run(r.Bypass) - pc.latency(r.Bypass.Handlers[call.To]))
				}
				m, b := r.Mesh.Edges[call.Name()], r.Bypass.Edges[call.Name()]
				if m.Count == 0 || b.Count == 0 {
					return math.NaN()
				}
				return pc.latency(m) - pc.latency(b)
			})
			rows = append(rows, NewRow(KindEdge, label, pc.metric, "µs", added, pc.edge(pred), rangeOf(pred.Range, pc.interval), note))
		}
	}
	return rows
}

// pathRows compare the end-to-end added latency from the entry.
func (c comparison) pathRows() []Row {
	var path predict.PathResult
	for _, p := range c.sc.Paths {
		if p.Entry == Namespace+"/"+c.t.Entry {
			path = p
		}
	}
	critical := strings.ReplaceAll(strings.Join(path.CriticalPath, " → "), Namespace+"/", "")
	var rows []Row
	for i, pc := range percentiles {
		note := ""
		if i == 0 {
			note = "predicted critical path " + critical
		}
		added := c.perRound(func(r Round) float64 { return pc.run(r.Mesh) - pc.run(r.Bypass) })
		rows = append(rows, NewRow(KindPath, "from "+c.t.Entry, pc.metric, "µs", added, pc.path(path), rangeOf(path.Range, pc.interval), note))
	}
	return rows
}

// proxyRows compare each proxy's CPU, and their sum, in millicores at the
// nominal rate.
func (c comparison) proxyRows() []Row {
	predicted := map[string]predict.ProxyResult{}
	for _, p := range c.sc.Proxies {
		predicted[p.Workload] = p
	}
	millicores := func(r LoadRun, pod string) float64 {
		if r.Requests == 0 {
			return math.NaN()
		}
		return float64(r.ProxyCPUNanos[pod]) / 1e3 / float64(r.Requests) * c.rate / 1e3
	}
	var rows []Row
	var totalPred float64
	totalRange := &predict.Interval{}
	for _, pod := range c.t.Pods() {
		pred := predicted[Namespace+"/"+pod]
		totalPred += pred.CPUMillicores
		r := rangeOf(pred.Range, cpuInterval)
		if r != nil && totalRange != nil {
			totalRange.Low += r.Low
			totalRange.High += r.High
		} else {
			totalRange = nil
		}
		note := fmt.Sprintf("%.0f req/s through it, rate factor %.2f", pred.RequestsPerSecondPerReplica, pred.RateFactor)
		if runs := c.perRound(func(r Round) float64 { return runsPerRequest(r.Mesh, pod) }); len(runs) > 0 {
			note += fmt.Sprintf(", %.1f runs on a CPU per request", spread.Of(runs).Median)
		}
		rows = append(rows, NewRow(KindProxy, pod, MetricCPU, "mcores",
			c.perRound(func(r Round) float64 { return millicores(r.Mesh, pod) }), pred.CPUMillicores, r, note))
	}
	return append(rows, NewRow(KindTotal, "sum", MetricCPU, "mcores", c.perRound(func(r Round) float64 {
		var sum float64
		for _, pod := range c.t.Pods() {
			sum += millicores(r.Mesh, pod)
		}
		return sum
	}), totalPred, totalRange, ""))
}

// runsPerRequest is how many times pod's proxy was put on a CPU per
// request that entered the chain during r, NaN when unknown.
func runsPerRequest(r LoadRun, pod string) float64 {
	runs, ok := r.ProxyRuns[pod]
	if !ok || r.Requests == 0 {
		return math.NaN()
	}
	return float64(runs) / float64(r.Requests)
}

// Summarize computes the error statistics over every rate's rows: latency
// over edge and end-to-end rows (p50 and p99), CPU over per-proxy rows (the
// total would count them twice).
func Summarize(rates []RateResult) Summary {
	return summarize(rates, func(rr RateResult) []Row { return rr.Rows })
}

// SummarizeWithoutQueueing is Summarize over the rows predicted without
// the queueing term; nil when there are none.
func SummarizeWithoutQueueing(rates []RateResult) *Summary {
	for _, rr := range rates {
		if len(rr.RowsWithoutQueueing) > 0 {
			s := summarize(rates, func(rr RateResult) []Row { return rr.RowsWithoutQueueing })
			return &s
		}
	}
	return nil
}

// summarize computes the statistics over the rows rows picks from each rate.
func summarize(rates []RateResult, rows func(RateResult) []Row) Summary {
	var s Summary
	type acc struct{ abs, rel []float64 }
	accs := map[*ErrorStats]*acc{}
	add := func(st *ErrorStats, r Row) {
		a := accs[st]
		if a == nil {
			a = &acc{}
			accs[st] = a
		}
		st.Rows++
		if r.Inside {
			st.Inside++
		}
		if r.Range != nil {
			st.Ranged++
		}
		if r.InRange {
			st.InRange++
		}
		a.abs = append(a.abs, math.Abs(r.AbsError))
		if !math.IsNaN(r.RelError) {
			a.rel = append(a.rel, math.Abs(r.RelError))
		}
	}
	for _, rr := range rates {
		for _, r := range rows(rr) {
			if r.Measured.N == 0 {
				continue
			}
			switch r.Kind {
			case KindEdge, KindPath:
				add(&s.Latency, r)
				if r.Metric == MetricP50 {
					add(&s.LatencyP50, r)
				} else {
					add(&s.LatencyP99, r)
				}
			case KindProxy:
				add(&s.CPU, r)
			}
		}
	}
	for st, a := range accs {
		abs, rel := spread.Of(a.abs), spread.Of(a.rel)
		st.MedianAbs, st.MaxAbs = abs.Median, abs.Max
		st.MedianRel, st.MaxRel = rel.Median, rel.Max
	}
	return s
}
