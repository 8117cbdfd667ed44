package predict

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/traces"
)

// span is a span of trace "t", start and duration in ms.
func span(id, parent, service string, start, dur float64) traces.Span {
	return traces.Span{TraceID: "t", SpanID: id, ParentID: parent, Service: service, Operation: "op-" + id,
		StartUnixNano: 1e15 + int64(start*1e6), Duration: time.Duration(dur * 1e6),
		RequestBytes: traces.Unknown, ResponseBytes: traces.Unknown}
}

func TestPredictOperation(t *testing.T) {
	op := traces.Operation{Service: "a", Operation: "GET /", Requests: 4, P50: 10_000_000, P99: 20_000_000, // 10ms, 20ms
		Calls: []traces.PathCall{{From: "a", To: "b", Count: 4, PerRequest: 1}, {From: "b", To: "c", Count: 2, PerRequest: 0.5},
			{From: "a", To: "x", Count: 1, PerRequest: 0.25}}}
	edges := map[string]EdgeResult{
		"a->b": {LatencyP50Micros: 200, LatencyP99Micros: 300, Components: []ComponentCost{
			{Component: "parsing", LatencyP50Micros: 120, LatencyP99Micros: 180}, {Component: "tls", LatencyP50Micros: 80, LatencyP99Micros: 120}}},
		"b->c": {LatencyP50Micros: 100, LatencyP99Micros: 100, Components: []ComponentCost{
			{Component: "tls", LatencyP50Micros: 100, LatencyP99Micros: 100}}},
	}
	added, calls, missing := PredictOperation(op, func(from, to string) (EdgeResult, bool) {
		e, ok := edges[from+"->"+to]
		return e, ok
	})
	// 1×200 + 0.5×100 = 250µs p50; 1×300 + 0.5×100 = 350µs p99; a->x unknown.
	if added.LatencyP50Micros != 250 || added.LatencyP99Micros != 350 || added.ShareP50 != 0.025 || added.ShareP99 != 0.0175 {
		t.Errorf("added = %+v", added)
	}
	wantComps := []ComponentCost{{Component: "tls", LatencyP50Micros: 130, LatencyP99Micros: 170}, {Component: "parsing", LatencyP50Micros: 120, LatencyP99Micros: 180}}
	if !slices.Equal(added.Components, wantComps) {
		t.Errorf("components %+v, want %+v", added.Components, wantComps)
	}
	if len(calls) != 2 || !slices.Equal(missing, []string{"a->x"}) {
		t.Errorf("calls %v, missing %v", calls, missing)
	}
}

func TestPredictFromTraces(t *testing.T) {
	sum := traces.Summarize(readSet(t, "../traces/testdata/jaeger-checkout.json"), traces.Filter{})
	r, g, err := PredictTraces(TraceInput{Summary: sum, Source: "fixture", Profile: reference(t), ProfileSource: "embedded"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Edges) != 5 || len(g.Workloads) != 6 || r.Kind != TraceReportKind || r.Traces != 3 || r.Requests != 3 {
		t.Fatalf("graph %d edges %d workloads; report %+v", len(g.Edges), len(g.Workloads), r)
	}
	op := r.Operations[0]
	if op.Name() != "frontend GET /checkout" || op.MeasuredP50Micros != 80_000 || op.MeasuredP99Micros != 100_000 {
		t.Fatalf("operation %+v", op)
	}
	byCall := map[string]CallResult{}
	for _, c := range op.Calls {
		byCall[c.Name()] = c
	}
	// Sum by hand over the calls on the path and their frequency per request.
	want := 1*byCall["frontend->shipping"].Edge.LatencyP50Micros + 1*byCall["frontend->payment"].Edge.LatencyP50Micros +
		0.5*byCall["frontend->cart"].Edge.LatencyP50Micros + 0.5*byCall["payment->postgres"].Edge.LatencyP50Micros
	if len(op.Calls) != 4 || !(want > 0) || !approx(op.Baseline.LatencyP50Micros, want) || !approx(op.Baseline.ShareP50, want/80_000) {
		t.Errorf("added p50 %v, want %v; calls %v", op.Baseline.LatencyP50Micros, want, op.Calls)
	}
	compSum := 0.0
	for _, c := range op.Baseline.Components {
		compSum += c.LatencyP50Micros
	}
	if !approx(compSum, op.Baseline.LatencyP50Micros) {
		t.Errorf("components add up to %v, not %v", compSum, op.Baseline.LatencyP50Micros)
	}
	protocols := map[string]dataplane.Protocol{"frontend->cart": "grpc", "frontend->shipping": "http", "frontend->payment": "http", "payment->postgres": "tcp"}
	for name, proto := range protocols {
		if got := byCall[name].Edge.Protocol; got != proto {
			t.Errorf("%s protocol %s, want %s", name, got, proto)
		}
	}
	if e := byCall["frontend->shipping"].Edge; e.RequestBytes != 300 || e.ResponseBytes != 2000 {
		t.Errorf("shipping sizes %v/%v", e.RequestBytes, e.ResponseBytes)
	}
	for _, want := range []string{
		"Warning [MI0029] (trace 5c0a3e1b2d4f6a7b8c9d0e1f2a3b4c5d span b3) starts 500µs before its parent b2",
		"Info [MI0030] (traces) call rates are the calls seen over the 2.03s",
		"Info [MI0001] (default/payment->default/postgres) no span tag gives the protocol",
		"Info [MI0001] (default/frontend->default/currency) no span tag gives the request size",
		"Info [MI0007]",
	} {
		if !slices.ContainsFunc(r.Messages, func(m diag.Message) bool { return strings.HasPrefix(m.String(), want) }) {
			t.Errorf("no message %q in\n%v", want, r.Messages)
		}
	}
}

func TestPredictWithGraphAndWhatIf(t *testing.T) {
	sum := traces.Summarize(readSet(t, "../traces/testdata/otlp-checkout.json"), traces.Filter{})
	f := false
	base := &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind, Metadata: callgraph.Metadata{Name: "shop"},
		Workloads: []callgraph.Workload{{Name: "frontend", Namespace: "shop"}, {Name: "shipping", Namespace: "shop", Mode: dataplane.Ambient}},
		Edges:     []callgraph.Edge{{From: "frontend", To: "shipping", Protocol: dataplane.GRPC, MTLS: &f}},
	}
	w, err := ParseWhatIf("mtls=off")
	if err != nil {
		t.Fatal(err)
	}
	r, g, err := PredictTraces(TraceInput{Summary: sum, Graph: base, Profile: reference(t), ProfileSource: "embedded", WhatIf: []WhatIf{w}})
	if err != nil {
		t.Fatal(err)
	}
	if g.Metadata.Name != "shop+traces" {
		t.Errorf("graph name %q", g.Metadata.Name)
	}
	op := r.Operations[0]
	i := slices.IndexFunc(op.Calls, func(c CallResult) bool { return c.To == "shipping" })
	e := op.Calls[i].Edge
	// From the graph file: protocol grpc (the traces say http), shipping in ambient
	// (so mTLS is on whatever the edge says), in namespace shop.
	if e.Protocol != "grpc" || e.ServerMode != "ambient" || e.From != "shop/frontend" || e.To != "shop/shipping" || !e.MTLS {
		t.Errorf("shipping edge %+v", e)
	}
	if op.Variant == nil || !(op.Variant.LatencyP50Micros < op.Baseline.LatencyP50Micros) || op.Calls[i].VariantEdge == nil {
		t.Errorf("what-if mtls=off: baseline %+v variant %+v", op.Baseline, op.Variant)
	}
	if !slices.Equal(r.WhatIf, []string{"mtls=off"}) {
		t.Errorf("whatIf %v", r.WhatIf)
	}
}

func TestPredictWithoutCalls(t *testing.T) {
	set := traces.Assemble([]traces.Span{span("r", "", "a", 0, 10), span("x", "r", "a", 1, 5)}, nil)
	r, _, err := PredictTraces(TraceInput{Summary: traces.Summarize(set, traces.Filter{}), Profile: reference(t), ProfileSource: "embedded"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Operations) != 1 || r.Operations[0].Baseline.LatencyP50Micros != 0 || r.Operations[0].Calls == nil {
		t.Errorf("operations %+v", r.Operations)
	}
}

// Calls find their predicted edge by the workloads they connect, not by
// position: two services that name one graph workload share its edge.
func TestTraceCallsFindEdgesByIdentity(t *testing.T) {
	set := traces.Assemble([]traces.Span{
		span("r", "", "frontend", 0, 100), span("a", "r", "payment", 10, 20), span("b", "r", "payment.shop", 40, 30),
	}, nil)
	sum := traces.Summarize(set, traces.Filter{})
	base := &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
		Workloads: []callgraph.Workload{{Name: "frontend", Namespace: "shop"}, {Name: "payment", Namespace: "shop"}}}
	var notes diag.List
	g, refs, err := GraphFromTraces(sum, base, &notes)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Edges) != 1 || g.Edges[0].Name() != "shop/frontend->shop/payment" || !approx(*g.Edges[0].RequestsPerSecond, 2/0.1) {
		t.Fatalf("edges %+v", g.Edges)
	}
	if refs["payment"] != "shop/payment" || refs["payment.shop"] != "shop/payment" {
		t.Errorf("refs %v", refs)
	}
	r, _, err := PredictTraces(TraceInput{Summary: sum, Graph: base, Profile: reference(t), ProfileSource: "embedded"})
	if err != nil {
		t.Fatal(err)
	}
	calls := r.Operations[0].Calls
	if len(calls) != 2 || calls[0].Edge.Name() != "shop/frontend->shop/payment" || calls[1].Edge.Name() != calls[0].Edge.Name() ||
		!(calls[0].Edge.LatencyP50Micros > 0) || calls[1].Edge.LatencyP50Micros != calls[0].Edge.LatencyP50Micros {
		t.Errorf("calls %+v", calls)
	}
}

func TestPredictOperationSumsTheEdgesRanges(t *testing.T) {
	op := traces.Operation{Service: "a", Operation: "GET /", Requests: 2,
		Calls: []traces.PathCall{{From: "a", To: "b", PerRequest: 1}, {From: "b", To: "c", PerRequest: 0.5}}}
	ranged := func(p50, p99 float64) *Range {
		return &Range{LatencyP50Micros: &Interval{0.9 * p50, 1.2 * p50}, LatencyP99Micros: &Interval{0.5 * p99, 2 * p99}}
	}
	edges := map[string]EdgeResult{
		"a->b": {LatencyP50Micros: 200, LatencyP99Micros: 300, Range: ranged(200, 300),
			Components: []ComponentCost{{Component: "tls", LatencyP50Micros: 200, LatencyP99Micros: 300, Range: ranged(200, 300)}}},
		"b->c": {LatencyP50Micros: 100, LatencyP99Micros: 100, Range: ranged(100, 100),
			Components: []ComponentCost{{Component: "tls", LatencyP50Micros: 60, LatencyP99Micros: 60, Range: ranged(60, 60)},
				{Component: "parsing", LatencyP50Micros: 40, LatencyP99Micros: 40}}},
	}
	edge := func(from, to string) (EdgeResult, bool) {
		e, ok := edges[from+"->"+to]
		return e, ok
	}
	added, _, _ := PredictOperation(op, edge)
	// 250 µs p50 and 350 µs p99, each end the weighted sum of the edges'.
	if r := added.Range; r == nil || !approx(r.LatencyP50Micros.Low, 225) || !approx(r.LatencyP50Micros.High, 300) ||
		!approx(r.LatencyP99Micros.Low, 175) || !approx(r.LatencyP99Micros.High, 700) {
		t.Errorf("added %+v: want p50 [225, 300] and p99 [175, 700]", added)
	}
	for _, c := range added.Components {
		if (c.Component == "tls") != (c.Range != nil) {
			t.Errorf("component %s range %+v: want one for tls only (parsing rests on an edge component without one)", c.Component, c.Range)
		}
	}
	e := edges["b->c"]
	e.Range = nil
	edges["b->c"] = e
	if added, _, _ := PredictOperation(op, edge); added.Range != nil {
		t.Errorf("an edge without a range left the operation one: %+v", added.Range)
	}
}
