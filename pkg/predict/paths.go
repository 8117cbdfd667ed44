package predict

import (
	"cmp"
	"slices"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// pathState is the memoized added latency below one workload, per request it serves.
type pathState struct {
	done, onStack bool
	p50, p99      float64
	calls         float64
	next          int // edge on the critical path, or -1
}

// callsPerRequest is, per edge, how many calls one request to its client causes:
// the edge's rate over the rate of requests the client serves (edges into it plus
// its external requestsPerSecond). A workload that serves no requests (an entry
// without a stated external rate, or with a rate of zero) counts its busiest edge
// as one call per request.
func callsPerRequest(g *callgraph.Resolved) []float64 {
	served := make([]float64, len(g.Workloads))
	busiest := make([]float64, len(g.Workloads))
	for _, e := range g.Edges {
		served[e.ToIndex] += e.RequestsPerSecond
		busiest[e.FromIndex] = max(busiest[e.FromIndex], e.RequestsPerSecond)
	}
	for i, w := range g.Workloads {
		if w.RequestsPerSecond != nil {
			served[i] += *w.RequestsPerSecond
		}
		if served[i] == 0 {
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

// branch is one call a workload makes for a request, with everything below it.
type branch struct {
	edge            int
	weight          float64 // calls per request
	p50, p99, calls float64 // per call
}

// paths computes, for each entry point, the latency the mesh adds to one request
// through every call it causes, starting with the entry's own inbound crossing
// (ingress, by workload index, -1 for none). Sequential weighs each call by its
// calls per request and sums them (so load-balanced alternatives average out);
// Parallel takes the expected slowest call, each call made by its share of the
// requests. The critical path follows, from each workload, the call most likely
// to be the slowest one a request makes there. Cycles are cut where they close,
// and reported.
func paths(g *callgraph.Resolved, edges []EdgeResult, ingress []int, fan FanOut, notes *diag.List) []PathResult {
	return pathsOf(g, edges, ingress, func(i int) (float64, float64) { return edges[i].LatencyP50Micros, edges[i].LatencyP99Micros }, fan, notes)
}

// pathsWithRanges is paths with each path's range: the same combination
// over the edges' low ends, then their high ends (both are monotone in the
// edges' figures). Paths get no range when an edge has none.
func pathsWithRanges(g *callgraph.Resolved, edges []EdgeResult, ingress []int, fan FanOut, notes *diag.List) []PathResult {
	res := paths(g, edges, ingress, fan, notes)
	for _, e := range edges {
		if e.Range == nil {
			return res
		}
	}
	quiet := &diag.List{} // cycles are reported once, above
	low := pathsOf(g, edges, ingress, func(i int) (float64, float64) {
		return edges[i].Range.LatencyP50Micros.Low, edges[i].Range.LatencyP99Micros.Low
	}, fan, quiet)
	high := pathsOf(g, edges, ingress, func(i int) (float64, float64) {
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
func pathsOf(g *callgraph.Resolved, edges []EdgeResult, ingress []int, latency func(int) (p50, p99 float64), fan FanOut, notes *diag.List) []PathResult {
	out := make([][]int, len(g.Workloads))
	for i, e := range g.Edges {
		out[e.FromIndex] = append(out[e.FromIndex], i)
	}
	weight := callsPerRequest(g)
	st := make([]pathState, len(g.Workloads))
	var scratch []branch
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
			scratch = scratch[:0]
			for _, ei := range out[w] {
				to := g.Edges[ei].ToIndex
				p50, p99 := latency(ei)
				b := branch{edge: ei, weight: weight[ei], p50: p50, p99: p99, calls: 1}
				if !st[to].onStack { // below a back edge nothing more is counted
					b.p50, b.p99, b.calls = b.p50+st[to].p50, b.p99+st[to].p99, b.calls+st[to].calls
				}
				scratch = append(scratch, b)
			}
			st[w].combine(fan, scratch)
			st[w].done, st[w].onStack = true, false
			stack = stack[:len(stack)-1]
		}
	}
	res := make([]PathResult, 0, len(g.Entries))
	for _, entry := range g.Entries {
		if !st[entry].done {
			visit(entry)
		}
		r := PathResult{Entry: g.Workloads[entry].ID(), LatencyP50Micros: st[entry].p50, LatencyP99Micros: st[entry].p99, Calls: st[entry].calls}
		if ingress != nil && ingress[entry] >= 0 {
			p50, p99 := latency(ingress[entry])
			r.LatencyP50Micros += p50
			r.LatencyP99Micros += p99
		}
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

// combine folds the calls a workload makes for one request (each with
// everything below it) into s and picks the critical call.
func (s *pathState) combine(fan FanOut, bs []branch) {
	for _, b := range bs {
		s.calls += b.weight * b.calls
	}
	s.next = critical(bs)
	if fan == Parallel {
		s.p50 = expectedSlowest(bs, func(b branch) float64 { return b.p50 })
		s.p99 = expectedSlowest(bs, func(b branch) float64 { return b.p99 })
		return
	}
	for _, b := range bs {
		s.p50 += b.weight * b.p50
		s.p99 += b.weight * b.p99
	}
}

// expectedSlowest is the expected largest of the calls a request makes when
// each call is made by its share of the requests (min(weight, 1)),
// independently of the others: the slowest call, times the chance that it is
// made, plus the next slowest, times the chance that it is made and the
// slowest is not, and so on. A call taken by one request in a million adds a
// millionth of its latency, not all of it. bs is reordered.
func expectedSlowest(bs []branch, value func(branch) float64) float64 {
	slices.SortStableFunc(bs, func(a, b branch) int { return cmp.Compare(value(b), value(a)) })
	sum, none := 0.0, 1.0 // none: the chance that no slower call was made
	for _, b := range bs {
		p := min(b.weight, 1)
		sum += value(b) * p * none
		none *= 1 - p
	}
	return sum
}

// critical returns the edge of the call most likely to be the slowest one a
// request makes (by added p50, each call made by its share of the requests,
// independently), or -1 without calls. Of calls equally likely, the slower
// wins, then the one listed first. bs is reordered.
func critical(bs []branch) int {
	if len(bs) == 0 {
		return -1
	}
	slices.SortStableFunc(bs, func(a, b branch) int { return cmp.Compare(b.p50, a.p50) })
	best, bestChance, none := -1, -1.0, 1.0
	for _, b := range bs {
		p := min(b.weight, 1)
		if chance := p * none; chance > bestChance {
			best, bestChance = b.edge, chance
		}
		none *= 1 - p
	}
	return best
}
