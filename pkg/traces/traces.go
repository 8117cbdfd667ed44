// Package traces reads distributed traces (Jaeger JSON, Zipkin v2 JSON, OTLP JSON,
// or the Jaeger query API), repairs what is broken in them, extracts each request's
// critical path and aggregates the calls on it per root operation, so that the
// overhead model can be applied to the calls that actually determine end-to-end
// latency. It knows nothing of Kubernetes; the mesh model it feeds is pkg/predict.
//
// Times are kept in nanoseconds (Jaeger and Zipkin give microseconds, OTLP
// nanoseconds).
package traces

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

// Kind is a span's role in a call, as instrumentation reports it.
type Kind uint8

// Span kinds.
const (
	KindUnspecified Kind = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

var kindNames = [...]string{"", "internal", "server", "client", "producer", "consumer"}

// String names the kind as Jaeger's span.kind tag does; "" when unspecified.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Unknown marks a message size that no span tag gave.
const Unknown = -1.0

// Span is one timed operation of one service, reduced to what critical paths and
// the overhead model need.
type Span struct {
	TraceID string
	SpanID  string
	// ParentID is the span this one is a child of; "" for a root.
	ParentID string
	// FollowsFrom is true when the parent does not wait for this span (Jaeger's
	// FOLLOWS_FROM reference): it is never on the parent's critical path.
	FollowsFrom bool
	Service     string
	Operation   string
	Kind        Kind
	// StartUnixNano is when the span started; Duration how long it took.
	StartUnixNano int64
	Duration      time.Duration
	// Protocol is what the span's tags say about the call's protocol (http.*,
	// rpc.system=grpc, ...); "" when they say nothing.
	Protocol dataplane.Protocol
	// RequestBytes and ResponseBytes are message sizes from tags, or Unknown.
	RequestBytes, ResponseBytes float64
	// Peer names the service called when instrumentation says so (peer.service, a
	// Zipkin remote endpoint), for calls to services that emit no spans.
	Peer string
}

// End is when the span ended, in Unix nanoseconds.
func (s *Span) End() int64 { return s.StartUnixNano + int64(s.Duration) }

// Async reports whether the span's parent does not wait for it: a FOLLOWS_FROM
// reference, or a consumer of a message.
func (s *Span) Async() bool { return s.FollowsFrom || s.Kind == KindConsumer }

// Problem classifies what was wrong with a trace.
type Problem string

// Problems found in traces. Each is repaired or the part concerned is skipped.
const (
	// BadSpan is a span that could not be used as given (no id, no start time,
	// a negative duration).
	BadSpan Problem = "bad-span"
	// DuplicateSpan is a span id used more than once in a trace; the first is kept.
	DuplicateSpan Problem = "duplicate-span"
	// MissingParent is a span whose parent is not in the trace; it is attached to
	// the innermost span enclosing it in time (at worst the root), or becomes the
	// root when the root itself is missing.
	MissingParent Problem = "missing-parent"
	// Cycle is a loop of parent references; it is cut at its earliest span.
	Cycle Problem = "cycle"
	// ExtraRoot is a second span without a parent; its subtree is left out.
	ExtraRoot Problem = "extra-root"
	// ClockSkew is a child that starts before or ends after its parent; it is moved
	// (or, if longer than its parent, clamped) into the parent's interval.
	ClockSkew Problem = "clock-skew"
)

// Warning is one problem in one trace, and what was done about it.
type Warning struct {
	TraceID string  `json:"traceID"`
	SpanID  string  `json:"spanID,omitempty"`
	Problem Problem `json:"problem"`
	Message string  `json:"message"`
}

// String renders the warning with its trace and span.
func (w Warning) String() string {
	if w.SpanID == "" {
		return fmt.Sprintf("trace %s: %s", w.TraceID, w.Message)
	}
	return fmt.Sprintf("trace %s span %s: %s", w.TraceID, w.SpanID, w.Message)
}

// Trace is one request's spans, repaired into a tree under Root: every span's
// parent is in the trace, and every synchronous child lies within its parent's
// interval.
type Trace struct {
	ID    string
	Spans []Span
	// Root indexes the root span.
	Root int
	// Parent indexes each span's parent, -1 for the root.
	Parent []int
	// Children of span i are kids[kidStart[i]:kidStart[i+1]], latest end first.
	kids     []int
	kidStart []int
}

// Children returns the indexes of span i's children, the latest to end first
// (ties: the earliest to start first).
func (t *Trace) Children(i int) []int { return t.kids[t.kidStart[i]:t.kidStart[i+1]] }

// Set is the traces read from one or more sources.
type Set struct {
	Traces []Trace
	// Spans counts the spans read, before repairs.
	Spans int
	// Warnings lists every problem found and what was done about it.
	Warnings []Warning
}

// Assemble groups spans into traces by trace id and repairs each one: duplicate
// span ids (the first is kept), parent cycles (cut at the earliest span), missing
// parents (the orphan is attached to the innermost span enclosing it in time, at
// worst the root; without a root the longest orphan becomes the root), spans
// without parent besides the root (left out) and clock skew (children moved into
// their parent's interval). Problems are recorded
// as warnings; a trace is only dropped when it has no usable span.
func Assemble(spans []Span, warnings []Warning) *Set {
	set := &Set{Spans: len(spans), Warnings: warnings}
	// Group by trace, keeping first-seen order, with one copy of the spans.
	byTrace := make(map[string]int)
	group := make([]int, len(spans))
	var counts []int
	for i := range spans {
		g, ok := byTrace[spans[i].TraceID]
		if !ok {
			g = len(counts)
			byTrace[spans[i].TraceID] = g
			counts = append(counts, 0)
		}
		group[i] = g
		counts[g]++
	}
	offsets := make([]int, len(counts)+1)
	for g, n := range counts {
		offsets[g+1] = offsets[g] + n
	}
	sorted := make([]Span, len(spans))
	fill := append([]int(nil), offsets[:len(counts)]...)
	for i := range spans {
		sorted[fill[group[i]]] = spans[i]
		fill[group[i]]++
	}
	set.Traces = make([]Trace, 0, len(counts))
	for g := range counts {
		// build reorders and compacts its spans in place.
		t, ok := build(sorted[offsets[g]:offsets[g+1]:offsets[g+1]], &set.Warnings)
		if ok {
			set.Traces = append(set.Traces, t)
		}
	}
	return set
}

// Parent states while assembling.
const (
	noParent      = -1 // a root
	missingParent = -2 // the parent is not in the trace (or its link was cut)
)

// skewTolerance is how far a child may stick out of its parent before it is
// reported: Jaeger and Zipkin truncate start and duration to microseconds
// separately, so an end can be 1µs late without any clock being wrong.
const skewTolerance = int64(time.Microsecond)

// warnFunc records a problem of the trace being built.
type warnFunc func(span string, p Problem, format string, args ...any)

// build repairs one trace's spans into a tree. ok is false when nothing is usable.
func build(spans []Span, warns *[]Warning) (Trace, bool) {
	tid := spans[0].TraceID
	warn := func(span string, p Problem, format string, args ...any) {
		*warns = append(*warns, Warning{TraceID: tid, SpanID: span, Problem: p, Message: fmt.Sprintf(format, args...)})
	}
	spans, ids := dedupe(spans, warn)
	if len(spans) == 0 {
		return Trace{}, false
	}
	parent := make([]int, len(spans))
	for i := range spans {
		switch p, ok := ids[spans[i].ParentID]; {
		case spans[i].ParentID == "":
			parent[i] = noParent
		case ok:
			parent[i] = p
		default:
			parent[i] = missingParent
		}
	}
	cutCycles(spans, parent, warn)
	root := chooseRoot(spans, parent, ids, warn)
	var orphans []int
	for i := range spans {
		switch {
		case i == root:
		case parent[i] == noParent:
			warn(spans[i].SpanID, ExtraRoot, "a second span without parent (%s %q); left out with its children", spans[i].Service, spans[i].Operation)
		case parent[i] == missingParent:
			orphans = append(orphans, i)
		}
	}
	adopt(spans, parent, root, orphans, ids, warn)
	t := fromRoot(tid, spans, parent, root)
	fixSkew(&t, warn)
	t.indexChildren()
	return t, true
}

// dedupe keeps the first span with each id, and indexes the spans kept by id.
func dedupe(spans []Span, warn warnFunc) (kept []Span, ids map[string]int) {
	ids = make(map[string]int, len(spans))
	kept = spans[:0]
	for _, s := range spans {
		if _, dup := ids[s.SpanID]; dup {
			warn(s.SpanID, DuplicateSpan, "span id used more than once; kept the first (%s %q)", kept[ids[s.SpanID]].Service, kept[ids[s.SpanID]].Operation)
			continue
		}
		ids[s.SpanID] = len(kept)
		kept = append(kept, s)
	}
	return kept, ids
}

// chooseRoot picks the root, the longest parentless span or, without one,
// the longest orphan, and makes it parentless.
func chooseRoot(spans []Span, parent []int, ids map[string]int, warn warnFunc) int {
	root := -1
	for _, want := range []int{noParent, missingParent} {
		for i := range spans {
			if parent[i] == want && (root < 0 || longer(&spans[i], &spans[root])) {
				root = i
			}
		}
		if root >= 0 {
			break
		}
	}
	if _, cut := ids[spans[root].ParentID]; parent[root] == missingParent && !cut {
		warn(spans[root].SpanID, MissingParent, "the root span is missing (parent %s not in the trace); this span is used as root", spans[root].ParentID)
	}
	parent[root] = noParent
	return root
}

// fromRoot keeps what hangs from the root, parents before children, with
// the parent indexes renumbered.
func fromRoot(tid string, spans []Span, parent []int, root int) Trace {
	n := len(spans)
	childCount := make([]int, n+1)
	for i := range spans {
		if parent[i] >= 0 {
			childCount[parent[i]]++
		}
	}
	start := make([]int, n+1)
	for i := range n {
		start[i+1] = start[i] + childCount[i]
	}
	fill := append([]int(nil), start[:n]...)
	kids := make([]int, start[n])
	for i := range spans {
		if p := parent[i]; p >= 0 {
			kids[fill[p]] = i
			fill[p]++
		}
	}
	order := make([]int, 0, n)
	order = append(order, root)
	for k := 0; k < len(order); k++ {
		order = append(order, kids[start[order[k]]:start[order[k]+1]]...)
	}
	newIndex := make([]int, n)
	for i := range newIndex {
		newIndex[i] = -1
	}
	for k, i := range order {
		newIndex[i] = k
	}
	t := Trace{ID: tid, Spans: make([]Span, len(order)), Parent: make([]int, len(order)), Root: 0}
	for k, i := range order {
		t.Spans[k] = spans[i]
		if parent[i] >= 0 {
			t.Parent[k] = newIndex[parent[i]]
		} else {
			t.Parent[k] = noParent
		}
	}
	return t
}

// indexChildren lists each span's children, sorted for the critical-path
// walk: latest end first.
func (t *Trace) indexChildren() {
	m := len(t.Spans)
	t.kidStart = make([]int, m+1)
	for k := 1; k < m; k++ {
		t.kidStart[t.Parent[k]+1]++
	}
	for k := range m {
		t.kidStart[k+1] += t.kidStart[k]
	}
	t.kids = make([]int, m-1)
	pos := append([]int(nil), t.kidStart[:m]...)
	for k := 1; k < m; k++ {
		p := t.Parent[k]
		t.kids[pos[p]] = k
		pos[p]++
	}
	for k := range m {
		slices.SortFunc(t.Children(k), func(a, b int) int {
			sa, sb := &t.Spans[a], &t.Spans[b]
			return cmp.Or(cmp.Compare(sb.End(), sa.End()), cmp.Compare(sa.StartUnixNano, sb.StartUnixNano), cmp.Compare(a, b))
		})
	}
}

// maxAdoptWork bounds the search for foster parents (orphans × spans); beyond it
// orphans are attached to the root.
const maxAdoptWork = 10_000_000

// adopt attaches each orphan (a span whose parent is missing or was cut) to the
// innermost span of the root's tree that encloses it in time, or to the root: the
// missing parent was most likely a client span inside that interval.
func adopt(spans []Span, parent []int, root int, orphans []int, ids map[string]int, warn warnFunc) {
	if len(orphans) == 0 {
		return
	}
	// top of each span's chain: the root, an orphan, or an extra root.
	top := make([]int, len(spans))
	for i := range top {
		top[i] = -1
	}
	var chain []int
	for i := range spans {
		chain = chain[:0]
		j := i
		for top[j] < 0 && parent[j] >= 0 {
			chain = append(chain, j)
			j = parent[j]
		}
		t := j
		if top[j] >= 0 {
			t = top[j]
		}
		top[j] = t
		for _, k := range chain {
			top[k] = t
		}
	}
	inTree := make([]bool, len(spans))
	for i := range spans {
		inTree[i] = top[i] == root
	}
	slices.SortFunc(orphans, func(a, b int) int {
		return cmp.Or(cmp.Compare(spans[a].StartUnixNano, spans[b].StartUnixNano), cmp.Compare(a, b))
	})
	search := len(orphans)*len(spans) <= maxAdoptWork
	for _, o := range orphans {
		foster := root
		if search {
			so := &spans[o]
			for i := range spans {
				si := &spans[i]
				if inTree[i] && si.StartUnixNano <= so.StartUnixNano && si.End() >= so.End() && si.Duration < spans[foster].Duration {
					foster = i
				}
			}
		}
		parent[o] = foster
		if _, cut := ids[spans[o].ParentID]; !cut && spans[o].ParentID != "" {
			warn(spans[o].SpanID, MissingParent, "parent %s is not in the trace; attached to %s (%s %q), the innermost span around it",
				spans[o].ParentID, spans[foster].SpanID, spans[foster].Service, spans[foster].Operation)
		}
		for i := range spans {
			if top[i] == o {
				inTree[i] = true
			}
		}
	}
}

// longer orders root candidates: the longest, then the earliest.
func longer(a, b *Span) bool {
	if a.Duration != b.Duration {
		return a.Duration > b.Duration
	}
	return a.StartUnixNano < b.StartUnixNano
}

// cutCycles finds loops of parent references and cuts each at its earliest span,
// which then counts as having a missing parent.
func cutCycles(spans []Span, parent []int, warn warnFunc) {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, len(spans))
	var path []int
	for i := range spans {
		if state[i] != unseen {
			continue
		}
		path = path[:0]
		j := i
		for j >= 0 && state[j] == unseen {
			state[j] = onPath
			path = append(path, j)
			j = parent[j]
		}
		if j >= 0 && state[j] == onPath {
			// path[at:] is the loop.
			at := slices.Index(path, j)
			loop := path[at:]
			cut := loop[0]
			ids := make([]string, len(loop))
			for k, s := range loop {
				ids[k] = spans[s].SpanID
				if spans[s].StartUnixNano < spans[cut].StartUnixNano {
					cut = s
				}
			}
			parent[cut] = missingParent
			warn(spans[cut].SpanID, Cycle, "parent references form a cycle (%v); cut above this span, which is then attached like a span whose parent is missing", ids)
		}
		for _, k := range path {
			state[k] = done
		}
	}
}

// fixSkew moves every synchronous child into its parent's interval, top down, so
// that a child's children move with it. A child longer than its parent is clamped.
func fixSkew(t *Trace, warn warnFunc) {
	shift := make([]int64, len(t.Spans))
	for k := 1; k < len(t.Spans); k++ { // parents come before children
		p := t.Parent[k]
		s, ps := &t.Spans[k], &t.Spans[p]
		shift[k] = shift[p]
		s.StartUnixNano += shift[k]
		if s.Async() {
			continue
		}
		early, late := ps.StartUnixNano-s.StartUnixNano, s.End()-ps.End()
		if early <= 0 && late <= 0 {
			continue
		}
		if s.Duration > ps.Duration {
			if early > skewTolerance || late > skewTolerance {
				warn(s.SpanID, ClockSkew, "lasts %s, longer than its parent %s (%s); clamped to the parent's interval", s.Duration, ps.SpanID, ps.Duration)
			}
			shift[k] += ps.StartUnixNano - s.StartUnixNano
			s.StartUnixNano, s.Duration = ps.StartUnixNano, ps.Duration
			continue
		}
		delta := early
		what := "starts %s before"
		if early <= 0 {
			delta, what = -late, "ends %s after"
		}
		if early > skewTolerance || late > skewTolerance {
			warn(s.SpanID, ClockSkew, what+" its parent %s; moved into the parent's interval", time.Duration(max(early, late)), ps.SpanID)
		}
		s.StartUnixNano += delta
		shift[k] += delta
	}
}
