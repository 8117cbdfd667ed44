package traces

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

// Filter selects the requests to analyse.
type Filter struct {
	// Service, when set, analyses the requests entering this service (its spans
	// whose parent is in another service, or that are roots) instead of whole
	// traces.
	Service string
	// Operation, when set, keeps only requests whose first span has this operation.
	Operation string
}

// Summary aggregates the critical paths of a set of traces per root operation.
type Summary struct {
	// Traces and Spans count what was read; Requests the requests analysed.
	Traces, Spans, Requests int
	// Operations are sorted by request count, most first.
	Operations []Operation
	// Calls are every call between two services seen in the traces, on the
	// critical path or not, sorted by caller and callee.
	Calls []Call
	// StartUnixNano and EndUnixNano bound every span read.
	StartUnixNano, EndUnixNano int64
	// Warnings are the problems found in the traces.
	Warnings []Warning
}

// Window is the time the traces span.
func (s *Summary) Window() time.Duration {
	return time.Duration(s.EndUnixNano - s.StartUnixNano)
}

// Operation is one root operation: a service and an operation name.
type Operation struct {
	Service   string
	Operation string
	// Requests is how many requests (traces, or entries into Filter.Service) it had.
	Requests int
	// P50 and P99 are end-to-end durations (nearest rank).
	P50, P99 time.Duration
	// Calls are the calls on the critical path, most frequent first.
	Calls []PathCall
}

// PathCall is a call from one service to another on an operation's critical path.
type PathCall struct {
	From, To string
	// Count is how many times it was on the path over all requests.
	Count int
	// PerRequest is Count over the operation's requests.
	PerRequest float64
}

// Call is what the traces say about every call from one service to another.
type Call struct {
	From, To string
	// Count is how many calls were seen.
	Count int
	// Protocol is the protocol most often seen in the spans' tags; "" when no span
	// of these calls had protocol tags.
	Protocol dataplane.Protocol
	// RequestBytes and ResponseBytes are mean sizes over the calls whose spans gave
	// them, or Unknown.
	RequestBytes, ResponseBytes float64
}

type pair struct{ from, to string }

type callStats struct {
	count               int
	protocols           map[dataplane.Protocol]int
	reqSum, respSum     float64
	reqCount, respCount int
}

type opStats struct {
	durations []time.Duration
	onPath    map[pair]int
}

// Summarize computes every selected request's critical path and aggregates them per
// root operation, with the calls between services seen in the traces.
func Summarize(set *Set, f Filter) *Summary {
	sum := &Summary{Traces: len(set.Traces), Spans: set.Spans, Warnings: set.Warnings}
	ops := map[pair]*opStats{}
	calls := callMap{}
	var pathBuf, scratch, roots []int
	first := true
	for ti := range set.Traces {
		t := &set.Traces[ti]
		for i := range t.Spans {
			s := &t.Spans[i]
			if first || s.StartUnixNano < sum.StartUnixNano {
				sum.StartUnixNano = s.StartUnixNano
			}
			if first || s.End() > sum.EndUnixNano {
				sum.EndUnixNano = s.End()
			}
			first = false
			if from, to, ok := t.callee(i); ok {
				calls.add(from, to, &t.Spans[t.Parent[i]], s)
			} else if from, to, ok := t.peerCall(i); ok {
				calls.add(from, to, s, nil)
			}
		}
		roots = t.entries(f, roots[:0])
		for _, r := range roots {
			sum.Requests++
			rs := &t.Spans[r]
			key := pair{rs.Service, rs.Operation}
			op := ops[key]
			if op == nil {
				op = &opStats{onPath: map[pair]int{}}
				ops[key] = op
			}
			op.durations = append(op.durations, rs.Duration)
			pathBuf = pathBuf[:0]
			t.walk(r, &pathBuf, &scratch)
			for _, i := range pathBuf[1:] {
				if from, to, ok := t.callee(i); ok {
					op.onPath[pair{from, to}]++
				} else if from, to, ok := t.peerCall(i); ok {
					op.onPath[pair{from, to}]++
				}
			}
		}
	}
	for key, op := range ops {
		slices.Sort(op.durations)
		o := Operation{Service: key.from, Operation: key.to, Requests: len(op.durations),
			P50: percentile(op.durations, 0.50), P99: percentile(op.durations, 0.99)}
		for p, n := range op.onPath {
			o.Calls = append(o.Calls, PathCall{From: p.from, To: p.to, Count: n, PerRequest: float64(n) / float64(o.Requests)})
		}
		slices.SortFunc(o.Calls, func(a, b PathCall) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
		})
		sum.Operations = append(sum.Operations, o)
	}
	slices.SortFunc(sum.Operations, func(a, b Operation) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Service, b.Service), cmp.Compare(a.Operation, b.Operation))
	})
	for p, c := range calls {
		call := Call{From: p.from, To: p.to, Count: c.count, RequestBytes: Unknown, ResponseBytes: Unknown}
		best := 0
		for _, proto := range []dataplane.Protocol{dataplane.GRPC, dataplane.HTTP2, dataplane.HTTP} {
			if n := c.protocols[proto]; n > best {
				best, call.Protocol = n, proto
			}
		}
		if c.reqCount > 0 {
			call.RequestBytes = c.reqSum / float64(c.reqCount)
		}
		if c.respCount > 0 {
			call.ResponseBytes = c.respSum / float64(c.respCount)
		}
		sum.Calls = append(sum.Calls, call)
	}
	slices.SortFunc(sum.Calls, func(a, b Call) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To)) })
	return sum
}

// entries appends the spans to analyse as requests.
func (t *Trace) entries(f Filter, out []int) []int {
	if f.Service == "" {
		if f.Operation == "" || t.Spans[t.Root].Operation == f.Operation {
			out = append(out, t.Root)
		}
		return out
	}
	for i := range t.Spans {
		s := &t.Spans[i]
		if s.Service != f.Service || (f.Operation != "" && s.Operation != f.Operation) {
			continue
		}
		if p := t.Parent[i]; p < 0 || t.Spans[p].Service != s.Service {
			out = append(out, i)
		}
	}
	return out
}

type callMap map[pair]*callStats

// add records one call; client may be a span of any kind in the caller's
// service, server is nil for calls to uninstrumented services.
func (m callMap) add(from, to string, client, server *Span) {
	c := m[pair{from, to}]
	if c == nil {
		c = &callStats{protocols: map[dataplane.Protocol]int{}}
		m[pair{from, to}] = c
	}
	c.count++
	proto := client.Protocol
	req, resp := client.RequestBytes, client.ResponseBytes
	if server != nil {
		if rank(server.Protocol) > rank(proto) {
			proto = server.Protocol
		}
		if req == Unknown {
			req = server.RequestBytes
		}
		if resp == Unknown {
			resp = server.ResponseBytes
		}
	}
	if proto != "" {
		c.protocols[proto]++
	}
	if req != Unknown {
		c.reqSum += req
		c.reqCount++
	}
	if resp != Unknown {
		c.respSum += resp
		c.respCount++
	}
}

// rank orders protocols by how specific the tags that give them are.
func rank(p dataplane.Protocol) int {
	switch p {
	case dataplane.GRPC:
		return 3
	case dataplane.HTTP2:
		return 2
	case dataplane.HTTP:
		return 1
	}
	return 0
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
