package predict

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/traces"
)

// TraceReportKind identifies the machine-readable report of a trace-based
// prediction; its apiVersion is ReportAPIVersion.
const TraceReportKind = "TracePrediction"

// TraceReport is the predicted mesh overhead of each root operation found in
// traces, summed over the calls on its critical path.
type TraceReport struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Source     string      `json:"source,omitempty"`
	Profile    ProfileInfo `json:"profile"`
	// WhatIf lists the changes the variant applies, as given.
	WhatIf []string `json:"whatIf,omitempty"`
	// Traces, Spans and Requests count what was read and analysed.
	Traces   int `json:"traces"`
	Spans    int `json:"spans"`
	Requests int `json:"requests"`
	// WindowSeconds is the time the traces span.
	WindowSeconds float64           `json:"windowSeconds"`
	Operations    []OperationResult `json:"operations"`
	// Messages are the assumptions and warnings behind the figures.
	Messages []diag.Message `json:"messages,omitempty"`
}

// Header returns what the trace report shares with a graph Report.
func (r *TraceReport) Header() Header {
	return Header{Profile: r.Profile, WhatIf: r.WhatIf, Messages: r.Messages}
}

// OperationResult is one root operation: what the traces measured and what the
// mesh is predicted to add along its critical path.
type OperationResult struct {
	Service   string `json:"service"`
	Operation string `json:"operation"`
	// Traces is the number of requests analysed.
	Traces            int           `json:"traces"`
	MeasuredP50Micros float64       `json:"measuredP50Micros"`
	MeasuredP99Micros float64       `json:"measuredP99Micros"`
	Baseline          AddedLatency  `json:"baseline"`
	Variant           *AddedLatency `json:"variant,omitempty"`
	// Calls are the calls on the critical path with their predicted overhead.
	Calls []CallResult `json:"calls"`
}

// Name renders the operation as "service operation".
func (o OperationResult) Name() string { return o.Service + " " + o.Operation }

// AddedLatency is the latency the mesh adds to one request of an operation:
// the sum, over the calls on its critical path, of each call's predicted added
// latency times how often it is on the path per request. p99 is summed like
// p50, which over-estimates the p99 of a sum.
type AddedLatency struct {
	LatencyP50Micros float64 `json:"latencyP50Micros"`
	LatencyP99Micros float64 `json:"latencyP99Micros"`
	// ShareP50 and ShareP99 are the added latency over the measured end-to-end
	// latency (0.05 = 5 %).
	ShareP50 float64 `json:"shareP50"`
	ShareP99 float64 `json:"shareP99"`
	// Components split the added latency by proxy component, largest p50 first;
	// CPU is not given here (see the calls' edges).
	Components []ComponentCost `json:"components"`
	// Range holds the low–high range of the p50 and p99, summed from the
	// calls' edges as the figures are; nil when an edge has none.
	Range *Range `json:"range,omitempty"`
}

// CallResult is one call on an operation's critical path.
type CallResult struct {
	From string `json:"from"`
	To   string `json:"to"`
	// PerRequest is how often the call is on the critical path per request.
	PerRequest float64 `json:"perRequest"`
	// Edge is the predicted overhead of one such call; VariantEdge in the variant.
	Edge        EdgeResult  `json:"edge"`
	VariantEdge *EdgeResult `json:"variantEdge,omitempty"`
}

// Name renders the call as "from->to".
func (c CallResult) Name() string { return c.From + "->" + c.To }

// EdgeFunc returns the predicted overhead of one call from one service to
// another; false if there is no prediction for it.
type EdgeFunc func(from, to string) (EdgeResult, bool)

// PredictOperation sums an operation's critical-path calls, each predicted by
// edge. missing lists the calls edge has no prediction for (counted as zero).
func PredictOperation(op traces.Operation, edge EdgeFunc) (added AddedLatency, calls []CallResult, missing []string) {
	var comps []ComponentCost
	var p50, p99 Interval
	ranged := true
	for _, c := range op.Calls {
		e, ok := edge(c.From, c.To)
		if !ok {
			missing = append(missing, c.From+"->"+c.To)
			continue
		}
		calls = append(calls, CallResult{From: c.From, To: c.To, PerRequest: c.PerRequest, Edge: e})
		added.LatencyP50Micros += c.PerRequest * e.LatencyP50Micros
		added.LatencyP99Micros += c.PerRequest * e.LatencyP99Micros
		ranged = ranged && addLatencyRange(&p50, &p99, c.PerRequest, e.Range)
		for _, cc := range e.Components {
			i := slices.IndexFunc(comps, func(x ComponentCost) bool { return x.Component == cc.Component })
			if i < 0 {
				comps = append(comps, ComponentCost{Component: cc.Component, Range: &Range{LatencyP50Micros: &Interval{}, LatencyP99Micros: &Interval{}}})
				i = len(comps) - 1
			}
			comps[i].LatencyP50Micros += c.PerRequest * cc.LatencyP50Micros
			comps[i].LatencyP99Micros += c.PerRequest * cc.LatencyP99Micros
			// A component loses its range at the first edge that gives it none.
			if r := comps[i].Range; r != nil && !addLatencyRange(r.LatencyP50Micros, r.LatencyP99Micros, c.PerRequest, cc.Range) {
				comps[i].Range = nil
			}
		}
	}
	if !ranged {
		for i := range comps {
			comps[i].Range = nil
		}
	}
	if ranged && len(calls) > 0 {
		added.Range = &Range{LatencyP50Micros: &p50, LatencyP99Micros: &p99}
	}
	slices.SortStableFunc(comps, func(a, b ComponentCost) int { return cmp.Compare(b.LatencyP50Micros, a.LatencyP50Micros) })
	added.Components = comps
	if p50 := micros(op.P50); p50 > 0 {
		added.ShareP50 = added.LatencyP50Micros / p50
	}
	if p99 := micros(op.P99); p99 > 0 {
		added.ShareP99 = added.LatencyP99Micros / p99
	}
	return added, calls, missing
}

// addLatencyRange adds weight × r's p50 and p99 ends to p50 and p99, and
// reports false when r has none.
func addLatencyRange(p50, p99 *Interval, weight float64, r *Range) bool {
	if r == nil || r.LatencyP50Micros == nil || r.LatencyP99Micros == nil {
		return false
	}
	p50.Low += weight * r.LatencyP50Micros.Low
	p50.High += weight * r.LatencyP50Micros.High
	p99.Low += weight * r.LatencyP99Micros.Low
	p99.High += weight * r.LatencyP99Micros.High
	return true
}

// TraceInput is what a trace-based prediction is computed from.
type TraceInput struct {
	Summary *traces.Summary
	// Source says where the traces came from (a path, a Jaeger URL).
	Source string
	// Graph, when given, supplies the workloads' modes and node types and the
	// edges' protocol, mTLS and proxy features for services whose names match.
	Graph   *callgraph.Graph
	Profile *profile.Profile
	// ProfileSource says where the profile came from ("embedded", a path, ...).
	ProfileSource string
	// NodeProfiles are per-node-type profiles (Options.NodeProfiles).
	NodeProfiles map[string]*profile.Profile
	// WhatIf and Speedups define the variant; with neither there is none.
	WhatIf   []WhatIf
	Speedups map[profile.Component]float64
	// Queueing adds the sidecars' queueing wait to p99 (Options.Queueing).
	Queueing bool
}

// PredictTraces builds a call graph from the calls in the traces, predicts
// every call's overhead with the model and sums it along each operation's
// critical path. The graph is also returned, e.g. for --export-graph.
func PredictTraces(in TraceInput) (*TraceReport, *callgraph.Graph, error) {
	sum := in.Summary
	var notes diag.List
	notes.AddAll(traces.WarningMessages(sum.Warnings))
	g, refs, err := GraphFromTraces(sum, in.Graph, &notes)
	if err != nil {
		return nil, nil, err
	}
	r := &TraceReport{
		APIVersion: ReportAPIVersion, Kind: TraceReportKind, Source: in.Source,
		Traces: sum.Traces, Spans: sum.Spans, Requests: sum.Requests, WindowSeconds: sum.Window().Seconds(),
		Operations: make([]OperationResult, 0, len(sum.Operations)),
	}
	base, variant := noEdges, noEdges
	if len(g.Edges) > 0 {
		resolved, err := callgraph.Resolve(g)
		if err != nil {
			return nil, nil, fmt.Errorf("call graph built from the traces: %w", err)
		}
		rep, err := Run(Input{
			Graph: resolved, GraphName: g.Metadata.Name, Profile: in.Profile, ProfileSource: in.ProfileSource,
			WhatIf: in.WhatIf, Speedups: in.Speedups, NodeProfiles: in.NodeProfiles, Messages: notes.Sorted(), Queueing: in.Queueing,
			NoMemory: true, // a trace report shows no proxies
		})
		if err != nil {
			return nil, nil, fmt.Errorf("predicting: %w", err)
		}
		r.Profile, r.WhatIf = rep.Profile, rep.WhatIf
		notes = diag.List{}
		notes.AddAll(rep.Messages)
		base = edgeFunc(refs, rep.Baseline.Edges)
		if rep.Variant != nil {
			variant = edgeFunc(refs, rep.Variant.Edges)
		}
	} else {
		r.Profile, r.WhatIf = header(in.Profile, in.ProfileSource, in.WhatIf, in.Speedups, &notes)
	}
	hasVariant := len(in.WhatIf) > 0 || len(in.Speedups) > 0
	for _, op := range sum.Operations {
		r.Operations = append(r.Operations, predictOperation(op, base, variant, hasVariant, &notes))
	}
	r.Messages = notes.Sorted()
	if err := r.Check(); err != nil {
		return nil, nil, err
	}
	return r, g, nil
}

// predictOperation predicts one operation in the baseline and, with
// hasVariant, in the variant; calls without a prediction are noted.
func predictOperation(op traces.Operation, base, variant EdgeFunc, hasVariant bool, notes *diag.List) OperationResult {
	res := OperationResult{Service: op.Service, Operation: op.Operation, Traces: op.Requests,
		MeasuredP50Micros: micros(op.P50), MeasuredP99Micros: micros(op.P99)}
	var missing []string
	res.Baseline, res.Calls, missing = PredictOperation(op, base)
	for _, m := range missing {
		notes.Add(diag.New(diag.TraceRepaired, m, "call on the critical path of %s has no prediction; counted as zero", res.Name()))
	}
	if hasVariant {
		v, vcalls, _ := PredictOperation(op, variant)
		res.Variant = &v
		for i := range res.Calls {
			if j := slices.IndexFunc(vcalls, func(c CallResult) bool { return c.Name() == res.Calls[i].Name() }); j >= 0 {
				res.Calls[i].VariantEdge = &vcalls[j].Edge
			}
		}
	}
	if res.Calls == nil {
		res.Calls = []CallResult{}
	}
	return res
}

func noEdges(string, string) (EdgeResult, bool) { return EdgeResult{}, false }

// edgeFunc looks a call between two services up among edges by the edge's
// identity: the workloads refs gives the services ("namespace/name").
func edgeFunc(refs map[string]string, edges []EdgeResult) EdgeFunc {
	byName := make(map[string]EdgeResult, len(edges))
	for _, e := range edges {
		byName[e.Name()] = e
	}
	return func(from, to string) (EdgeResult, bool) {
		f, okf := refs[from]
		t, okt := refs[to]
		if !okf || !okt {
			return EdgeResult{}, false
		}
		e, ok := byName[f+"->"+t]
		return e, ok
	}
}

// micros converts a duration to µs.
func micros(d time.Duration) float64 { return float64(d) / 1e3 }
