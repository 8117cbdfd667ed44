package predict

import (
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// pathState is the memoized added latency below one workload, per request it serves.
type pathState struct {
	done, onStack bool
	p50, p99      float64
	calls         float64
	next          int     // edge on the critical path, or -1
	nextP50       float64 // that edge's contribution
}

// callsPerRequest is, per edge, how many calls one request to its client causes:
// the edge's rate over the rate of requests the client serves (edges into it plus
// its external requestsPerSecond). An entry without a stated external rate counts
// its busiest edge as one call per request.
func callsPerRequest(g *callgraph.Resolved) []float64 {
	served := make([]float64, len(g.Workloads))
	busiest := make([]float64, len(g.Workloads))
	for _, e := range g.Edges {
		served[e.ToIndex] += e.RequestsPerSecond
		busiest[e.FromIndex] = max(busiest[e.FromIndex], e.RequestsPerSecond)
	}
	for i, w := range g.Workloads {
		switch {
		case w.RequestsPerSecond != nil:
			served[i] += *w.RequestsPerSecond
		case served[i] == 0:
			served[i] = busiest[i]
		}
	}
	out := make([]float64, len(g.Edges))
	for i, e := range g.Edges {
		out[i] = 1
		if s := served[e.FromIndex]; s > 0 {
			out[i] = e.RequestsPerSecond / s
		}
	}
	return out
}

// paths computes, for each entry point, the latency the mesh adds to one request
// through every call it causes. Sequential weighs each call by its calls per request
// and sums them (so load-balanced alternatives average out); Parallel takes the
// slowest call. Cycles are cut where they close, and reported.
func paths(g *callgraph.Resolved, edges []EdgeResult, fan FanOut, notes *diag.List) []PathResult {
	return pathsOf(g, edges, func(i int) (float64, float64) { return edges[i].LatencyP50Micros, edges[i].LatencyP99Micros }, fan, notes)
}

// pathsWithRanges is paths with each path's range: the same combination
// over the edges' low ends, then their high ends (both are monotone in the
// edges' figures). Paths get no range when an edge has none.
func pathsWithRanges(g *callgraph.Resolved, edges []EdgeResult, fan FanOut, notes *diag.List) []PathResult {
	res := paths(g, edges, fan, notes)
	for _, e := range edges {
		if e.Range == nil {
			return res
		}
	}
	quiet := &diag.List{} // cycles are reported once, above
	low := pathsOf(g, edges, func(i int) (float64, float64) {
		return edges[i].Range.LatencyP50Micros.Low, edges[i].Range.LatencyP99Micros.Low
	}, fan, quiet)
	high := pathsOf(g, edges, func(i int) (float64, float64) {
		return edges[i].Range.LatencyP50Micros.High, edges[i].Range.LatencyP99Micros.High
	}, fan, quiet)
	for i := range res {
		res[i].Range = &Range{
			LatencyP50Micros: &Interval{Low: low[i].LatencyP50Micros, High: high[i].LatencyP50Micros},
			LatencyP99Micros: &Interval{Low: low[i].LatencyP99Micros, High: high[i].LatencyP99Micros},
		}
	}
	return res
}

// pathsOf is paths with the edges' latencies from latency.
func pathsOf(g *callgraph.Resolved, edges []EdgeResult, latency func(int) (p50, p99 float64), fan FanOut, notes *diag.List) []PathResult {
	out := make([][]int, len(g.Workloads))
	for i, e := range g.Edges {
		out[e.FromIndex] = append(out[e.FromIndex], i)
	}
	weight := callsPerRequest(g)
	st := make([]pathState, len(g.Workloads))
	// Iterative DFS: generated graphs may be deep chains.
	type frame struct{ w, child int }
	visit := func(root int) {
		stack := []frame{{root, 0}}
		st[root].onStack, st[root].next = true, -1
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			w := f.w
			if f.child < len(out[w]) {
				ei := out[w][f.child]
				f.child++
				to := g.Edges[ei].ToIndex
				switch {
				case st[to].onStack:
					notes.Add(diag.New(diag.CycleInGraph, edges[ei].Name(), "call cycle closes here; paths stop at %s", edges[ei].To))
				case !st[to].done:
					st[to].onStack, st[to].next = true, -1
					stack = append(stack, frame{to, 0})
				}
				continue
			}
			s := &st[w]
			for _, ei := range out[w] {
				to := g.Edges[ei].ToIndex
				p50, p99 := latency(ei)
				calls := 1.0
				if !st[to].onStack { // below a back edge nothing more is counted
					p50, p99, calls = p50+st[to].p50, p99+st[to].p99, calls+st[to].calls
				}
				s.combine(fan, weight[ei], p50, p99, calls, ei)
			}
			s.done, s.onStack = true, false
			stack = stack[:len(stack)-1]
		}
	}
	res := make([]PathResult, 0, len(g.Entries))
	for _, entry := range g.Entries {
		if !st[entry].done {
			visit(entry)
		}
		r := PathResult{Entry: g.Workloads[entry].ID(), LatencyP50Micros: st[entry].p50, LatencyP99Micros: st[entry].p99, Calls: st[entry].calls}
		r.CriticalPath = []string{r.Entry}
		seen := map[int]bool{entry: true}
		for w := entry; st[w].next >= 0; {
			to := g.Edges[st[w].next].ToIndex
			if seen[to] {
				break
			}
			seen[to] = true
			r.CriticalPath = append(r.CriticalPath, g.Workloads[to].ID())
			w = to
		}
		res = append(res, r)
	}
	return res
}

// combine folds one outgoing call (with everything below it) into s; weight is the
// call's calls per request.
func (s *pathState) combine(fan FanOut, weight, p50, p99, calls float64, edge int) {
	contribution := p50
	if fan != Parallel {
		contribution = weight * p50
	}
	if s.next < 0 || contribution > s.nextP50 {
		s.next, s.nextP50 = edge, contribution
	}
	s.calls += weight * calls
	if fan == Parallel {
		s.p50, s.p99 = max(s.p50, p50), max(s.p99, p99)
		return
	}
	s.p50 += weight * p50
	s.p99 += weight * p99
}
