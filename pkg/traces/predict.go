package traces

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// ReportKind identifies the machine-readable report of a trace-based prediction;
// its apiVersion is predict.ReportAPIVersion.
const ReportKind = "TracePrediction"

// Report is the predicted mesh overhead of each root operation found in traces,
// summed over the calls on its critical path.
type Report struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Source     string              `json:"source,omitempty"`
	Profile    predict.ProfileInfo `json:"profile"`
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

// OperationResult is one root operation: what the traces measured and what the
// mesh is predicted to add along its critical path.
type OperationResult struct {
	Service   string `json:"service"`
	Operation string `json:"operation"`
	// Traces is the number of requests analysed.
	Traces            int     `json:"traces"`
	MeasuredP50Micros float64 `json:"measuredP50Micros"`
	MeasuredP99Micros float64 `json:"measuredP99Micros"`
	Baseline          Added   `json:"baseline"`
	Variant           *Added  `json:"variant,omitempty"`
	// Calls are the calls on the critical path with their predicted overhead.
	Calls []CallResult `json:"calls"`
}

// Name renders the operation as "service operation".
func (o OperationResult) Name() string { return o.Service + " " + o.Operation }

// Added is the latency the mesh adds to one request of an operation: the sum,
// over the calls on its critical path, of each call's predicted added latency
// times how often it is on the path per request. p99 is summed like p50, which
// over-estimates the p99 of a sum.
type Added struct {
	LatencyP50Micros float64 `json:"latencyP50Micros"`
	LatencyP99Micros float64 `json:"latencyP99Micros"`
	// ShareP50 and ShareP99 are the added latency over the measured end-to-end
	// latency (0.05 = 5 %).
	ShareP50 float64 `json:"shareP50"`
	ShareP99 float64 `json:"shareP99"`
	// Components split the added latency by proxy component, largest p50 first; CPU
	// is not given here (see the calls' edges).
	Components []predict.ComponentCost `json:"components"`
}

// CallResult is one call on an operation's critical path.
type CallResult struct {
	From string `json:"from"`
	To   string `json:"to"`
	// PerRequest is how often the call is on the critical path per request.
	PerRequest float64 `json:"perRequest"`
	// Edge is the predicted overhead of one such call; VariantEdge in the variant.
	Edge        predict.EdgeResult  `json:"edge"`
	VariantEdge *predict.EdgeResult `json:"variantEdge,omitempty"`
}

// Name renders the call as "from->to".
func (c CallResult) Name() string { return c.From + "->" + c.To }

// EdgeFunc returns the predicted overhead of one call from one service to another;
// false if there is no prediction for it.
type EdgeFunc func(from, to string) (predict.EdgeResult, bool)

// PredictOperation sums an operation's critical-path calls, each predicted by
// edge. missing lists the calls edge has no prediction for (counted as zero).
func PredictOperation(op Operation, edge EdgeFunc) (added Added, calls []CallResult, missing []string) {
	var comps []predict.ComponentCost
	for _, c := range op.Calls {
		e, ok := edge(c.From, c.To)
		if !ok {
			missing = append(missing, c.From+"->"+c.To)
			continue
		}
		calls = append(calls, CallResult{From: c.From, To: c.To, PerRequest: c.PerRequest, Edge: e})
		added.LatencyP50Micros += c.PerRequest * e.LatencyP50Micros
		added.LatencyP99Micros += c.PerRequest * e.LatencyP99Micros
		for _, cc := range e.Components {
			i := slices.IndexFunc(comps, func(x predict.ComponentCost) bool { return x.Component == cc.Component })
			if i < 0 {
				comps = append(comps, predict.ComponentCost{Component: cc.Component})
				i = len(comps) - 1
			}
			comps[i].LatencyP50Micros += c.PerRequest * cc.LatencyP50Micros
			comps[i].LatencyP99Micros += c.PerRequest * cc.LatencyP99Micros
		}
	}
	slices.SortStableFunc(comps, func(a, b predict.ComponentCost) int { return cmp.Compare(b.LatencyP50Micros, a.LatencyP50Micros) })
	added.Components = comps
	if p50 := micros(op.P50); p50 > 0 {
		added.ShareP50 = added.LatencyP50Micros / p50
	}
	if p99 := micros(op.P99); p99 > 0 {
		added.ShareP99 = added.LatencyP99Micros / p99
	}
	return added, calls, missing
}

// Input is what a trace-based prediction is computed from.
type Input struct {
	Summary *Summary
	// Source says where the traces came from (a path, a Jaeger URL).
	Source string
	// Graph, when given, supplies the workloads' modes and the edges' protocol,
	// mTLS and proxy features for services whose names match.
	Graph   *callgraph.Graph
	Profile *profile.Profile
	// ProfileSource says where the profile came from ("embedded", a path, ...).
	ProfileSource string
	// WhatIf and Speedups define the variant; with neither there is none.
	WhatIf   []predict.WhatIf
	Speedups map[profile.Component]float64
}

// Predict builds a call graph from the calls in the traces, predicts every call's
// overhead with pkg/predict and sums it along each operation's critical path.
// The graph is also returned, e.g. for --export-graph.
func Predict(in Input) (*Report, *callgraph.Graph, error) {
	sum := in.Summary
	var notes diag.List
	notes.AddAll(WarningMessages(sum.Warnings))
	g, err := BuildGraph(sum, in.Graph, &notes)
	if err != nil {
		return nil, nil, err
	}
	r := &Report{
		APIVersion: predict.ReportAPIVersion, Kind: ReportKind, Source: in.Source,
		Profile: predict.ProfileInfo{Name: in.Profile.Metadata.Name, Source: in.ProfileSource, Reference: in.Profile.Metadata.Reference},
		Traces:  sum.Traces, Spans: sum.Spans, Requests: sum.Requests, WindowSeconds: sum.Window().Seconds(),
		Operations: make([]OperationResult, 0, len(sum.Operations)),
	}
	base, variant := noEdges, noEdges
	if len(g.Edges) > 0 {
		resolved, err := callgraph.Resolve(g)
		if err != nil {
			return nil, nil, fmt.Errorf("call graph built from the traces: %w", err)
		}
		rep, err := predict.Run(predict.Input{
			Graph: resolved, GraphName: g.Metadata.Name, Profile: in.Profile, ProfileSource: in.ProfileSource,
			FanOut: predict.Sequential, WhatIf: in.WhatIf, Speedups: in.Speedups, Messages: notes.Sorted(),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("predicting: %w", err)
		}
		r.WhatIf = rep.WhatIf
		notes = diag.List{}
		notes.AddAll(rep.Messages)
		base = edgeFunc(sum, rep.Baseline.Edges)
		if rep.Variant != nil {
			variant = edgeFunc(sum, rep.Variant.Edges)
		}
	} else if in.Profile.Metadata.Reference {
		notes.Add(diag.New(diag.ReferenceProfile, in.Profile.Metadata.Name,
			"predictions use the embedded reference profile built from published Istio figures"))
	}
	hasVariant := len(in.WhatIf) > 0 || len(in.Speedups) > 0
	if hasVariant && r.WhatIf == nil {
		for _, w := range in.WhatIf {
			r.WhatIf = append(r.WhatIf, w.Raw)
		}
	}
	for _, op := range sum.Operations {
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
		r.Operations = append(r.Operations, res)
	}
	r.Messages = notes.Sorted()
	return r, g, nil
}

func noEdges(string, string) (predict.EdgeResult, bool) { return predict.EdgeResult{}, false }

// edgeFunc looks calls up in edges, which are in the order of sum.Calls (as
// BuildGraph makes them).
func edgeFunc(sum *Summary, edges []predict.EdgeResult) EdgeFunc {
	idx := make(map[pair]int, len(sum.Calls))
	for i, c := range sum.Calls {
		idx[pair{c.From, c.To}] = i
	}
	return func(from, to string) (predict.EdgeResult, bool) {
		i, ok := idx[pair{from, to}]
		if !ok || i >= len(edges) {
			return predict.EdgeResult{}, false
		}
		return edges[i], true
	}
}

// BuildGraph makes a call graph of the services in the traces: one workload per
// service, one edge per entry of sum.Calls in that order. Rates are the calls
// seen over the traces' time span; sizes come from span tags. A service that
// names a workload of base (as name, namespace/name, or name.namespace[.svc...])
// takes its namespace, mode and replicas, and a call between two such workloads
// takes protocol, mTLS, retries and filters from base's edge between them.
// Whatever neither gives is defaulted and said so in notes.
func BuildGraph(sum *Summary, base *callgraph.Graph, notes *diag.List) (*callgraph.Graph, error) {
	g := &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
		Metadata: callgraph.Metadata{Name: "traces", Description: fmt.Sprintf("built from %d traces", sum.Traces)}}
	if base != nil && base.Metadata.Name != "" {
		g.Metadata.Name = base.Metadata.Name + "+traces"
	}
	var m matcher
	if base != nil {
		m = newMatcher(base)
	}
	ids := map[string]string{} // service → workload reference
	used := map[string]bool{}
	workload := func(service string) string {
		if ref, ok := ids[service]; ok {
			return ref
		}
		w, ok := m.workload(service)
		if !ok {
			w = callgraph.Workload{Name: workloadName(service)}
		}
		ns := cmp.Or(w.Namespace, callgraph.DefaultNamespace)
		ref := ns + "/" + w.Name
		for n := 2; used[ref] && !ok; n++ { // two services sanitised to one name
			w.Name = fmt.Sprintf("%s-%d", workloadName(service), n)
			ref = ns + "/" + w.Name
		}
		if !used[ref] {
			used[ref] = true
			g.Workloads = append(g.Workloads, w)
		}
		ids[service] = ref
		return ref
	}
	window := sum.Window().Seconds()
	if len(sum.Calls) > 0 {
		if window > 0 {
			notes.Add(diag.New(diag.TraceRates, "traces",
				"call rates are the calls seen over the %s the traces span; sampling makes them lower than the real rates", sum.Window()))
		} else {
			notes.Add(diag.New(diag.TraceRates, "traces",
				"the traces span no time, so call rates cannot be derived; the default rate is used"))
		}
	}
	for _, c := range sum.Calls {
		from, to := workload(c.From), workload(c.To)
		e := callgraph.Edge{}
		if be, ok := m.edge(from, to); ok {
			e = be
			e.RequestsPerSecond, e.BytesPerSecond = nil, nil
		}
		e.From, e.To = from, to
		subject := e.Name() // as Resolve names the edge in its own notes
		if window > 0 {
			e.RequestsPerSecond = ptr(float64(c.Count) / window)
		}
		if e.Protocol == "" {
			e.Protocol = c.Protocol
			if e.Protocol == "" {
				e.Protocol = dataplane.TCP
				notes.Add(diag.New(diag.DefaultUsed, subject, "no span tag gives the protocol (http.*, rpc.system); assuming tcp"))
			}
		}
		e.RequestBytes = sizeOr(c.RequestBytes, e.RequestBytes, callgraph.DefaultRequestBytes, subject, "request", notes)
		e.ResponseBytes = sizeOr(c.ResponseBytes, e.ResponseBytes, callgraph.DefaultResponseBytes, subject, "response", notes)
		g.Edges = append(g.Edges, e)
	}
	if len(g.Edges) > 0 {
		if err := callgraph.Validate(g); err != nil {
			return nil, fmt.Errorf("call graph built from the traces: %w", err)
		}
	}
	return g, nil
}

func ptr[T any](v T) *T { return &v }

// sizeOr picks a message size: the traces', else the graph file's, else the
// default (noted).
func sizeOr(traced float64, fromGraph *float64, def float64, subject, which string, notes *diag.List) *float64 {
	switch {
	case traced != Unknown:
		return ptr(traced)
	case fromGraph != nil:
		return fromGraph
	}
	notes.Add(diag.New(diag.DefaultUsed, subject, "no span tag gives the %s size (http.%s_content_length, rpc.%s.size, ...); using default %v",
		which, which, which, def))
	return ptr(def)
}

// workloadName makes a service name usable as a workload name.
func workloadName(service string) string {
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return '_'
		}
		return r
	}, service)
	if name == "" {
		return "unknown"
	}
	return name
}

// matcher finds a graph's workloads and edges by trace service name.
type matcher struct {
	g      *callgraph.Graph
	byID   map[string]int
	byName map[string][]int
	edges  map[[2]string]int
}

func newMatcher(g *callgraph.Graph) matcher {
	m := matcher{g: g, byID: map[string]int{}, byName: map[string][]int{}, edges: map[[2]string]int{}}
	for i, w := range g.Workloads {
		m.byID[cmp.Or(w.Namespace, callgraph.DefaultNamespace)+"/"+w.Name] = i
		m.byName[w.Name] = append(m.byName[w.Name], i)
	}
	for i, e := range g.Edges {
		from, okf := m.ref(e.From)
		to, okt := m.ref(e.To)
		if okf && okt {
			if _, dup := m.edges[[2]string{from, to}]; !dup {
				m.edges[[2]string{from, to}] = i
			}
		}
	}
	return m
}

// ref resolves a workload reference of the graph to "namespace/name".
func (m matcher) ref(r string) (string, bool) {
	if i, ok := m.byID[r]; ok {
		return m.id(i), true
	}
	if c := m.byName[r]; len(c) == 1 {
		return m.id(c[0]), true
	}
	return "", false
}

func (m matcher) id(i int) string {
	w := m.g.Workloads[i]
	return cmp.Or(w.Namespace, callgraph.DefaultNamespace) + "/" + w.Name
}

// workload finds the graph's workload for a service: "namespace/name", a unique
// name, or Kubernetes DNS style "name.namespace[.svc.cluster.local]".
func (m matcher) workload(service string) (callgraph.Workload, bool) {
	if m.g == nil {
		return callgraph.Workload{}, false
	}
	if id, ok := m.ref(service); ok {
		return m.g.Workloads[m.byID[id]], true
	}
	if name, rest, ok := strings.Cut(service, "."); ok {
		ns, _, _ := strings.Cut(rest, ".")
		if i, ok := m.byID[ns+"/"+name]; ok {
			return m.g.Workloads[i], true
		}
	}
	return callgraph.Workload{}, false
}

// edge returns the graph's edge between two workloads given as namespace/name.
func (m matcher) edge(from, to string) (callgraph.Edge, bool) {
	if m.g == nil {
		return callgraph.Edge{}, false
	}
	i, ok := m.edges[[2]string{from, to}]
	if !ok {
		return callgraph.Edge{}, false
	}
	return m.g.Edges[i], true
}

// micros converts a duration to µs.
func micros[D ~int64](d D) float64 { return float64(d) / 1e3 }

// maxWarningsPerProblem is how many warnings of one kind are reported one by one;
// beyond it they are summarised in one message.
const maxWarningsPerProblem = 5

var problemSummary = map[Problem]string{
	BadSpan:       "spans could not be used as given (no id, no start time, no or negative duration); skipped or counted as 0",
	DuplicateSpan: "span ids were used more than once; the first span was kept",
	MissingParent: "spans had a parent that is not in the trace; they were attached to the root (or made the root)",
	Cycle:         "parent references formed cycles; each was cut at its earliest span",
	ExtraRoot:     "traces had a second span without parent; it was left out with its children",
	ClockSkew:     "spans lay outside their parent's interval (clock skew); they were moved, or clamped, into it",
}

// WarningMessages turns trace warnings into coded messages: one per warning when
// a kind of problem is rare, else one per kind with a count and an example.
func WarningMessages(ws []Warning) []diag.Message {
	byProblem := map[Problem][]Warning{}
	var order []Problem
	for _, w := range ws {
		if _, seen := byProblem[w.Problem]; !seen {
			order = append(order, w.Problem)
		}
		byProblem[w.Problem] = append(byProblem[w.Problem], w)
	}
	var out []diag.Message
	for _, p := range order {
		list := byProblem[p]
		if len(list) <= maxWarningsPerProblem {
			for _, w := range list {
				subject := "trace " + w.TraceID
				if w.SpanID != "" {
					subject += " span " + w.SpanID
				}
				out = append(out, diag.New(diag.TraceRepaired, subject, "%s", w.Message))
			}
			continue
		}
		traces := map[string]bool{}
		for _, w := range list {
			traces[w.TraceID] = true
		}
		what := cmp.Or(problemSummary[p], string(p))
		out = append(out, diag.New(diag.TraceRepaired, string(p), "%d times in %d traces: %s (e.g. %s)", len(list), len(traces), what, list[0]))
	}
	return out
}
