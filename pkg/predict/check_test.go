package predict

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/traces"
)

// Issue #13 item 5: a latency rate factor above 1 raises the p50; the p99
// must not end up below it.
func TestP99NeverBelowP50(t *testing.T) {
	p := testProfile(t) // p99 = 2 × p50
	p.LatencyRateFactors = []profile.RateCurve{{Mode: "sidecar", Points: []profile.RatePoint{{RequestsPerSecond: 10, Factor: 3}}}}
	e := plainEdge("", "", 100, 0, 0)
	sc, _ := run(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, e), p)
	got := sc.Edges[0]
	near(t, "p50", got.LatencyP50Micros, 3*40)
	if got.LatencyP99Micros < got.LatencyP50Micros {
		t.Errorf("edge p99 %v < p50 %v", got.LatencyP99Micros, got.LatencyP50Micros)
	}
	for _, c := range got.Components {
		if c.LatencyP99Micros < c.LatencyP50Micros {
			t.Errorf("%s: p99 %v < p50 %v", c.Component, c.LatencyP99Micros, c.LatencyP50Micros)
		}
	}
	if sc.Paths[0].LatencyP99Micros < sc.Paths[0].LatencyP50Micros {
		t.Errorf("path p99 %v < p50 %v", sc.Paths[0].LatencyP99Micros, sc.Paths[0].LatencyP50Micros)
	}
}

// Issue #13 item 8: whatever the inputs, a report with a non-finite or
// negative figure is an error naming where it is.
func TestCheckNamesTheImpossibleFigure(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(r *Report)
		want   string
	}{
		{"inf latency", func(r *Report) { r.Baseline.Edges[0].LatencyP50Micros = math.Inf(1) }, "baseline: edge default/client->default/server: latencyP50Micros is +Inf"},
		{"nan component", func(r *Report) { r.Baseline.Edges[0].Components[0].CPUMillicores = math.NaN() }, "component parsing: cpuMillicores is NaN"},
		{"negative proxy", func(r *Report) { r.Baseline.Proxies[0].CPUMillicores = -1 }, "proxy default/"},
		{"path", func(r *Report) { r.Baseline.Paths[0].LatencyP99Micros = math.Inf(-1) }, "path from default/client: latencyP99Micros is -Inf"},
		{"totals", func(r *Report) { r.Baseline.Totals.CPUMillicores = math.NaN() }, "baseline: totals: cpuMillicores is NaN"},
		{"edge range", func(r *Report) {
			r.Baseline.Edges[0].Range = &Range{CPUMillicores: &Interval{Low: -1, High: 2}}
		}, "edge default/client->default/server range: cpuMillicores.low is -1"},
		{"totals range", func(r *Report) {
			r.Baseline.Totals.Range = &Range{LatencyP99Micros: &Interval{Low: 1, High: math.Inf(1)}}
		}, "totals range: latencyP99Micros.high is +Inf"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, callgraph.Edge{})
			rg := resolved(t, g)
			r, err := Run(Input{Graph: rg, Profile: testProfile(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Check(); err != nil {
				t.Fatalf("a sound report fails its check: %v", err)
			}
			c.mutate(r)
			err = r.Check()
			if !errors.Is(err, ErrImpossible) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// Issue #13 item 8: the largest inputs validation lets through give finite
// figures (the ranges exist so that they do).
func TestLargestValidInputsStayFinite(t *testing.T) {
	p := testProfile(t)
	for i := range p.Models {
		m := &p.Models[i]
		for _, l := range []*profile.Linear{&m.LatencyP50Micros, &m.LatencyP99Micros, &m.CPUMicrosPerRequest} {
			*l = profile.Linear{Intercept: profile.MaxMicros, PerKiB: profile.MaxMicros}
		}
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	huge := callgraph.Edge{Protocol: dataplane.HTTP, RequestsPerSecond: ptr(callgraph.MaxRequestsPerSecond),
		RequestBytes: ptr(float64(callgraph.MaxMessageBytes)), ResponseBytes: ptr(float64(callgraph.MaxMessageBytes)),
		Retries: &callgraph.Retries{Attempts: 100, FailureRate: ptr(1.0)}, MirrorPercent: ptr(100.0)}
	g := twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, huge)
	g.Workloads[0].RequestsPerSecond = ptr(callgraph.MaxRequestsPerSecond)
	rg := resolved(t, g)
	if _, err := Run(Input{Graph: rg, Profile: p, Speedups: map[profile.Component]float64{profile.Parsing: MinSpeedup}}); err != nil {
		t.Fatalf("largest valid inputs: %v", err)
	}
}

// Issue #13 item 8: speed-ups outside a sane range are refused, in files
// and in options.
func TestSpeedupRange(t *testing.T) {
	for _, bad := range []string{"{parsing: 1e-320}", "{parsing: 1e308}", "{tls: 0}", "{tls: -2}"} {
		if _, err := ParseSpeedups("s.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "outside") {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
	if _, err := ParseSpeedups("s.yaml", []byte("{parsing: 2, tls: 0.5}")); err != nil {
		t.Error(err)
	}
	var notes diag.List
	rg := resolved(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, callgraph.Edge{}))
	if _, err := Predict(rg, testProfile(t), Options{Speedups: map[profile.Component]float64{profile.TLS: 1e-320}}, &notes); err == nil {
		t.Error("a speed-up of 1e-320 was accepted")
	}
}

// Issue #13 item 6: sizes beyond what the profile supports are reported
// for the reference profile too, far beyond as a warning; proxies of a mode
// without rate factors are reported.
func TestExtrapolationIsReported(t *testing.T) {
	ref := reference(t)
	edge := func(bytes float64) callgraph.Edge {
		return callgraph.Edge{Protocol: dataplane.HTTP, RequestsPerSecond: ptr(100.0), RequestBytes: ptr(bytes), ResponseBytes: ptr(bytes)}
	}
	_, notes := run(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, edge(1024)), ref)
	if diag.Has(notes, diag.SizeOutsideProfile, "") || diag.Has(notes, diag.SizeFarOutsideProfile, "") {
		t.Errorf("1 KiB is what the reference was published at: %v", notes)
	}
	_, notes = run(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, edge(4096)), ref)
	if !diag.Has(notes, diag.SizeOutsideProfile, "client->server (4096 B)") {
		t.Errorf("4 KiB with the reference profile: %v", notes)
	}
	_, notes = run(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, edge(1<<20)), ref)
	if !diag.Has(notes, diag.SizeFarOutsideProfile, "(1048576 B)") || diag.Has(notes, diag.SizeOutsideProfile, "") {
		t.Errorf("1 MiB with the reference profile: %v", notes)
	}
	for _, m := range notes {
		if m.Code == diag.SizeFarOutsideProfile && m.Severity != diag.Warning {
			t.Errorf("far extrapolation is not a warning: %v", m)
		}
	}

	measured := testProfile(t)
	for i := range measured.Models {
		measured.Models[i].Fit = &profile.Fit{R2: 1, Samples: 4, MaxBytes: 16384}
	}
	_, notes = run(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, edge(20000)), measured)
	if !diag.Has(notes, diag.SizeOutsideProfile, "(16384 B)") {
		t.Errorf("20 kB with a profile measured up to 16 KiB: %v", notes)
	}

	_, notes = run(t, twoWorkloads(dataplane.Ambient, dataplane.Ambient, edge(0)), ref)
	if !diag.Has(notes, diag.RateOutsideProfile, "no rate factors for ambient proxies") {
		t.Errorf("ambient with a profile without ambient rate factors: %v", notes)
	}
}

// Issue #13 item 8: a trace report is checked as thoroughly, each figure
// named by its operation and call.
func TestTraceCheckNamesTheImpossibleFigure(t *testing.T) {
	sum := traces.Summarize(readSet(t, "../traces/testdata/otlp-checkout.json"), traces.Filter{})
	w, err := ParseWhatIf("mtls=off")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		mutate func(r *TraceReport)
		want   string
	}{
		{"window", func(r *TraceReport) { r.WindowSeconds = math.NaN() }, "traces: windowSeconds is NaN"},
		{"operation", func(r *TraceReport) { r.Operations[0].Baseline.ShareP99 = -1 }, "operation " + "%s: shareP99 is -1"},
		{"variant component", func(r *TraceReport) { r.Operations[0].Variant.Components[0].LatencyP50Micros = math.Inf(1) },
			"operation %s (what-if variant) component"},
		{"call edge", func(r *TraceReport) { r.Operations[0].Calls[0].VariantEdge.CPUMillicores = math.Inf(1) },
			"operation %s call (what-if variant): edge "},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _, err := PredictTraces(TraceInput{Summary: sum, Profile: reference(t), ProfileSource: "embedded", WhatIf: []WhatIf{w}})
			if err != nil {
				t.Fatal(err)
			}
			c.mutate(r)
			want := c.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, r.Operations[0].Name())
			}
			if err := r.Check(); !errors.Is(err, ErrImpossible) || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want %q", err, want)
			}
		})
	}
}
