package validate

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/spread"
	"github.com/meshinsight/kubectl-meshinsight/pkg/workload"
)

// Sides of an interleaved pair of load runs, also the relays' listener names.
const (
	SideMesh   = "mesh"
	SideBypass = "bypass"
)

// Report is the outcome of a validation run.
type Report struct {
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsedNanos"`
	// LoadAverage is /proc/loadavg at the start and at the end: the
	// machine is shared, and its load is part of every figure.
	LoadAverage []string `json:"loadAverage"`
	// ProfilePath is the profile the predictions used.
	ProfilePath string   `json:"profilePath"`
	ProfileName string   `json:"profileName"`
	Topology    Topology `json:"topology"`
	Rounds      int      `json:"rounds"`
	// RunSeconds is the length of each load run.
	RunSeconds float64      `json:"runSeconds"`
	Rates      []RateResult `json:"rates"`
	Summary    Summary      `json:"summary"`
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
	// IdleProxyMillicores is the proxies' total CPU during bypass runs (no
	// request crosses them then), median over rounds: their floor.
	IdleProxyMillicores float64 `json:"idleProxyMillicores"`
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
	Completed    int     `json:"completed"`
	Errors       int     `json:"errors"`
	Late         int     `json:"late"`
	// Requests is how many requests entered the chain: completed ones plus
	// the load generator's readiness requests, one per connection.
	Requests int `json:"requests"`
	// ProxyCPUNanos is each pod's proxy on-CPU time during the run
	// (/proc/PID/task/*/schedstat delta).
	ProxyCPUNanos map[string]uint64 `json:"proxyCPUNanos"`
	// Edges holds, per call name, the caller relay's view: p50/p99 of the
	// round trip minus the callee's handler time.
	Edges map[string]Latency `json:"edges"`
	// Handlers holds, per service, p50/p99 of the relay's handler time.
	Handlers map[string]Latency `json:"handlers"`
	// RelayErrors counts failed requests and downstream calls at the relays.
	RelayErrors int64 `json:"relayErrors"`
}

// Latency is a pair of percentiles in µs, with the sample count.
type Latency struct {
	Count     int64   `json:"count"`
	P50Micros float64 `json:"p50Micros"`
	P99Micros float64 `json:"p99Micros"`
}

func latencyOf(h workload.HistogramSummary) Latency {
	return Latency{Count: h.Count, P50Micros: h.P50Micros, P99Micros: h.P99Micros}
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
	Inside bool   `json:"inside"`
	Note   string `json:"note,omitempty"`
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
	// MedianAbs and MaxAbs are |predicted − measured| in the rows' unit.
	MedianAbs float64 `json:"medianAbs"`
	MaxAbs    float64 `json:"maxAbs"`
	// MedianRel and MaxRel are |predicted − measured| ÷ |measured|.
	MedianRel float64 `json:"medianRel"`
	MaxRel    float64 `json:"maxRel"`
}

func newRow(kind, name, metric, unit string, measured []float64, predicted float64, note string) Row {
	f := spread.Of(measured)
	r := Row{Kind: kind, Name: name, Metric: metric, Unit: unit, Measured: f, Predict: predicted, Note: note}
	r.AbsError = predicted - f.Median
	r.RelError = math.NaN()
	if f.Median != 0 {
		r.RelError = r.AbsError / math.Abs(f.Median)
	}
	r.Inside = f.Inside(predicted)
	return r
}

// Compare turns one rate's rounds and the predictor's scenario into rows:
// per edge p50 and p99, end to end p50 and p99, per proxy and in total CPU.
func Compare(t Topology, rate float64, rounds []Round, sc *predict.Scenario) []Row {
	edges := map[string]predict.EdgeResult{}
	for _, e := range sc.Edges {
		edges[e.Name()] = e
	}
	proxies := map[string]predict.ProxyResult{}
	for _, p := range sc.Proxies {
		proxies[p.Workload] = p
	}
	var path predict.PathResult
	for _, p := range sc.Paths {
		if p.Entry == Namespace+"/"+t.Entry {
			path = p
		}
	}
	perRound := func(f func(r Round) float64) []float64 {
		out := make([]float64, 0, len(rounds))
		for _, r := range rounds {
			if v := f(r); !math.IsNaN(v) {
				out = append(out, v)
			}
		}
		return out
	}
	var rows []Row
	for _, c := range t.Calls {
		pred := edges[Namespace+"/"+c.From+"->"+Namespace+"/"+c.To]
		label := fmt.Sprintf("%s (%s%s)", c.Name(), c.Protocol, map[bool]string{true: ", mTLS"}[c.MTLS])
		var p50, p99 []float64
		note := "caller's round trip − callee's handler time, per call"
		if c.From == t.Entry {
			// The load generator reports no per-call handler times: the
			// entry edge is end-to-end minus the callee's handler time,
			// percentile by percentile (an approximation).
			note = "derived: end-to-end − " + c.To + "'s handler time, per percentile"
			p50 = perRound(func(r Round) float64 {
				return (r.Mesh.P50Micros - r.Mesh.Handlers[c.To].P50Micros) - (r.Bypass.P50Micros - r.Bypass.Handlers[c.To].P50Micros)
			})
			p99 = perRound(func(r Round) float64 {
				return (r.Mesh.P99Micros - r.Mesh.Handlers[c.To].P99Micros) - (r.Bypass.P99Micros - r.Bypass.Handlers[c.To].P99Micros)
			})
		} else {
			p50 = perRound(func(r Round) float64 {
				m, b := r.Mesh.Edges[c.Name()], r.Bypass.Edges[c.Name()]
				if m.Count == 0 || b.Count == 0 {
					return math.NaN()
				}
				return m.P50Micros - b.P50Micros
			})
			p99 = perRound(func(r Round) float64 {
				m, b := r.Mesh.Edges[c.Name()], r.Bypass.Edges[c.Name()]
				if m.Count == 0 || b.Count == 0 {
					return math.NaN()
				}
				return m.P99Micros - b.P99Micros
			})
		}
		rows = append(rows,
			newRow(KindEdge, label, MetricP50, "µs", p50, pred.LatencyP50Micros, note),
			newRow(KindEdge, label, MetricP99, "µs", p99, pred.LatencyP99Micros, note))
	}
	critical := strings.Join(path.CriticalPath, " → ")
	critical = strings.ReplaceAll(critical, Namespace+"/", "")
	rows = append(rows,
		newRow(KindPath, "from "+t.Entry, MetricP50, "µs",
			perRound(func(r Round) float64 { return r.Mesh.P50Micros - r.Bypass.P50Micros }), path.LatencyP50Micros,
			"predicted critical path "+critical),
		newRow(KindPath, "from "+t.Entry, MetricP99, "µs",
			perRound(func(r Round) float64 { return r.Mesh.P99Micros - r.Bypass.P99Micros }), path.LatencyP99Micros, ""))
	millicores := func(r LoadRun, pod string) float64 {
		if r.Requests == 0 {
			return math.NaN()
		}
		return float64(r.ProxyCPUNanos[pod]) / 1e3 / float64(r.Requests) * rate / 1e3
	}
	var totalPred float64
	for _, pod := range t.Pods() {
		pred := proxies[Namespace+"/"+pod]
		totalPred += pred.CPUMillicores
		rows = append(rows, newRow(KindProxy, pod, MetricCPU, "mcores",
			perRound(func(r Round) float64 { return millicores(r.Mesh, pod) }), pred.CPUMillicores,
			fmt.Sprintf("%.0f req/s through it, rate factor %.2f", pred.RequestsPerSecondPerReplica, pred.RateFactor)))
	}
	rows = append(rows, newRow(KindTotal, "sum", MetricCPU, "mcores", perRound(func(r Round) float64 {
		var sum float64
		for _, pod := range t.Pods() {
			sum += millicores(r.Mesh, pod)
		}
		return sum
	}), totalPred, ""))
	return rows
}

// Summarize computes the error statistics over every rate's rows: latency
// over edge and end-to-end rows (p50 and p99), CPU over per-proxy rows (the
// total would count them twice).
func Summarize(rates []RateResult) Summary {
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
		a.abs = append(a.abs, math.Abs(r.AbsError))
		if !math.IsNaN(r.RelError) {
			a.rel = append(a.rel, math.Abs(r.RelError))
		}
	}
	for _, rr := range rates {
		for _, r := range rr.Rows {
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
		st.MedianAbs, _, st.MaxAbs = workload.Spread(a.abs)
		st.MedianRel, _, st.MaxRel = workload.Spread(a.rel)
	}
	return s
}

// PrintTable writes the report as tables, one per rate, then the summary.
func PrintTable(w io.Writer, r *Report) error {
	bw := &errWriter{w: w}
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	p("meshinsight validation: profile %s (%s)\n", r.ProfileName, r.ProfilePath)
	p("%d interleaved mesh/bypass rounds of %gs per rate; load average %s at start, %s at end\n",
		r.Rounds, r.RunSeconds, strings.Join(r.LoadAverage[:min(1, len(r.LoadAverage))], ""), strings.Join(r.LoadAverage[min(1, len(r.LoadAverage)):], ""))
	p("measured: median [min, max] over rounds; error = (predicted − measured median) / |measured median|\n")
	for _, rr := range r.Rates {
		p("\n== %g req/s at %s ==\n", rr.RatePerSecond, r.Topology.Entry)
		if len(rr.Rounds) > 0 {
			var mesh, bypass []float64
			late, errs := 0, 0
			for _, rd := range rr.Rounds {
				mesh = append(mesh, rd.Mesh.AchievedRate)
				bypass = append(bypass, rd.Bypass.AchievedRate)
				late += rd.Mesh.Late + rd.Bypass.Late
				errs += rd.Mesh.Errors + rd.Bypass.Errors
			}
			m, _, _ := workload.Spread(mesh)
			b, _, _ := workload.Spread(bypass)
			p("achieved %.0f req/s mesh, %.0f bypass; %d late and %d failed requests; proxies idle during bypass runs: %.1f mcores\n",
				m, b, late, errs, rr.IdleProxyMillicores)
		}
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tNAME\tMETRIC\tMEASURED\tPREDICTED\tERROR\tIN SPREAD\tNOTE")
		for _, row := range rr.Rows {
			in := "no"
			if row.Inside {
				in = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%.1f\t%s\t%s\t%s\n", row.Kind, row.Name, row.Metric, row.Unit,
				fmtFigure(row.Measured), row.Predict, fmtRel(row.RelError), in, row.Note)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("writing the table: %w", err)
		}
		p("reproduce the prediction: %s\n", rr.Command)
		for _, n := range rr.Notes {
			p("  note: %s\n", n)
		}
	}
	s := r.Summary
	p("\nsummary over %d rates:\n", len(r.Rates))
	lat := func(name string, st ErrorStats) {
		p("  %s: %d rows, %d inside the measured spread; |error| median %.0f µs (%s), max %.0f µs (%s)\n",
			name, st.Rows, st.Inside, st.MedianAbs, fmtPct(st.MedianRel), st.MaxAbs, fmtPct(st.MaxRel))
	}
	lat("latency, edges and end to end, p50 and p99", s.Latency)
	lat("latency p50", s.LatencyP50)
	lat("latency p99", s.LatencyP99)
	p("  CPU per proxy: %d rows, %d inside the measured spread; |error| median %.1f mcores (%s), max %.1f mcores (%s)\n",
		s.CPU.Rows, s.CPU.Inside, s.CPU.MedianAbs, fmtPct(s.CPU.MedianRel), s.CPU.MaxAbs, fmtPct(s.CPU.MaxRel))
	p("  run time %v\n", r.Elapsed.Round(time.Second))
	return bw.err
}

func fmtFigure(f spread.Figure) string {
	if f.N == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f [%.1f, %.1f]", f.Median, f.Min, f.Max)
}

func fmtRel(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%+.0f%%", 100*v)
}

func fmtPct(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// rowNames lists the distinct names of rows of a kind, for checks.
func rowNames(rows []Row, kind string) []string {
	var out []string
	for _, r := range rows {
		if r.Kind == kind && !slices.Contains(out, r.Name) {
			out = append(out, r.Name)
		}
	}
	return out
}
