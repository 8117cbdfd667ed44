package predict

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/traces"
)

// GraphFromTraces makes a call graph of the services in the traces: one
// workload per service and one edge per pair of workloads that sum.Calls
// connects. Rates are the calls seen over the traces' time span; sizes come
// from span tags. A service that names a workload of base (as name,
// namespace/name, or name.namespace[.svc...]) takes that workload
// (namespace, mode, replicas, node type), and a call between two such
// workloads takes protocol, mTLS, retries and filters from base's edge
// between them. Whatever neither gives is defaulted and said so in notes.
// refs maps every service to its workload ("namespace/name"): with it a call
// finds its edge by identity.
func GraphFromTraces(sum *traces.Summary, base *callgraph.Graph, notes *diag.List) (g *callgraph.Graph, refs map[string]string, err error) {
	b := &traceGraph{window: sum.Window().Seconds(), refs: map[string]string{}, used: map[string]bool{}, edges: map[string]int{}, notes: notes,
		g: &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
			Metadata: callgraph.Metadata{Name: "traces", Description: fmt.Sprintf("built from %d traces", sum.Traces)}}}
	if base != nil {
		b.m = newMatcher(base)
		b.g.Nodes, b.g.Waypoints = base.Nodes, base.Waypoints
		if base.Metadata.Name != "" {
			b.g.Metadata.Name = base.Metadata.Name + "+traces"
		}
	}
	if len(sum.Calls) > 0 {
		if b.window > 0 {
			notes.Add(diag.New(diag.TraceRates, "traces",
				"call rates are the calls seen over the %s the traces span; sampling makes them lower than the real rates", sum.Window()))
		} else {
			notes.Add(diag.New(diag.TraceRates, "traces",
				"the traces span no time, so call rates cannot be derived; the default rate is used"))
		}
	}
	for _, c := range sum.Calls {
		b.addCall(c)
	}
	if len(b.g.Edges) > 0 {
		if err := callgraph.Validate(b.g); err != nil {
			return nil, nil, fmt.Errorf("call graph built from the traces: %w", err)
		}
	}
	return b.g, b.refs, nil
}

// traceGraph builds the graph of GraphFromTraces.
type traceGraph struct {
	g      *callgraph.Graph
	m      matcher
	window float64           // seconds the traces span
	refs   map[string]string // service → workload reference
	used   map[string]bool   // workload references taken
	edges  map[string]int    // edge name → index in g.Edges
	notes  *diag.List
}

// workload returns the workload reference of a service, adding the workload
// on first sight.
func (b *traceGraph) workload(service string) string {
	if ref, ok := b.refs[service]; ok {
		return ref
	}
	w, ok := b.m.workload(service)
	if !ok {
		w = callgraph.Workload{Name: workloadName(service)}
	}
	// Rates come from the traces, the graph's requests from outside too:
	// a trace prediction sums critical paths, not an entry's traffic.
	w.RequestsPerSecond = nil
	ns := cmp.Or(w.Namespace, callgraph.DefaultNamespace)
	ref := ns + "/" + w.Name
	for n := 2; b.used[ref] && !ok; n++ { // two services sanitised to one name
		w.Name = fmt.Sprintf("%s-%d", workloadName(service), n)
		ref = ns + "/" + w.Name
	}
	if !b.used[ref] {
		b.used[ref] = true
		b.g.Workloads = append(b.g.Workloads, w)
	}
	b.refs[service] = ref
	return ref
}

// addCall adds the edge of one call between services. Two services that
// name the same graph workload make one edge, whose rate counts both.
func (b *traceGraph) addCall(c traces.Call) {
	from, to := b.workload(c.From), b.workload(c.To)
	e := callgraph.Edge{}
	if be, ok := b.m.edge(from, to); ok {
		e = be
		e.RequestsPerSecond, e.BytesPerSecond = nil, nil
	}
	e.From, e.To = from, to
	subject := e.Name() // as Resolve names the edge in its own notes
	if i, seen := b.edges[subject]; seen {
		if b.window > 0 {
			*b.g.Edges[i].RequestsPerSecond += float64(c.Count) / b.window
		}
		return
	}
	if b.window > 0 {
		e.RequestsPerSecond = ptr(float64(c.Count) / b.window)
	}
	if e.Protocol == "" {
		e.Protocol = c.Protocol
		if e.Protocol == "" {
			e.Protocol = dataplane.TCP
			b.notes.Add(diag.New(diag.DefaultUsed, subject, "no span tag gives the protocol (http.*, rpc.system); assuming tcp"))
		}
	}
	e.RequestBytes = sizeOr(c.RequestBytes, e.RequestBytes, callgraph.DefaultRequestBytes, subject, "request", b.notes)
	e.ResponseBytes = sizeOr(c.ResponseBytes, e.ResponseBytes, callgraph.DefaultResponseBytes, subject, "response", b.notes)
	b.edges[subject] = len(b.g.Edges)
	b.g.Edges = append(b.g.Edges, e)
}

func ptr[T any](v T) *T { return &v }

// sizeOr picks a message size: the traces', else the graph file's, else the
// default (noted).
func sizeOr(traced float64, fromGraph *float64, def float64, subject, which string, notes *diag.List) *float64 {
	switch {
	case traced != traces.Unknown:
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
