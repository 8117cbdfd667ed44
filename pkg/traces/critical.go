package traces

// CriticalPath returns the spans that determine how long span from (e.g. the
// trace's Root) took, parents before the children they waited for, children in
// the order they ran.
//
// It walks back from the span's end as CRISP does: the child that finished last
// before the current point is on the path, the walk continues from that child's
// start, and each child taken is walked the same way. Of children running in
// parallel only the one that ended last counts; the others overlap it and are
// passed over. Asynchronous children (FOLLOWS_FROM, message consumers) are never on
// the path. Assemble has already moved skewed children into their parents'
// intervals.
func (t *Trace) CriticalPath(from int) []int {
	if from < 0 || from >= len(t.Spans) {
		return nil
	}
	var out, scratch []int
	t.walk(from, &out, &scratch)
	return out
}

// walk appends span i and its critical descendants. scratch is a shared stack
// of the children picked at each level.
func (t *Trace) walk(i int, out, scratch *[]int) {
	*out = append(*out, i)
	first := len(*scratch)
	begin := t.Spans[i].StartUnixNano
	cur := t.Spans[i].End()
	for _, c := range t.Children(i) { // latest end first
		if cur <= begin {
			break
		}
		s := &t.Spans[c]
		if s.Async() || s.End() > cur {
			continue // not waited for, or overlapping the child already taken
		}
		*scratch = append(*scratch, c)
		cur = s.StartUnixNano
	}
	// Picked latest first; walk them in the order they ran.
	for k := len(*scratch) - 1; k >= first; k-- {
		t.walk((*scratch)[k], out, scratch)
	}
	*scratch = (*scratch)[:first]
}

// callee returns the service that span i serves for a caller in another service,
// and that caller: a synchronous span whose parent is in another service is the
// server side of a call from the parent's service.
func (t *Trace) callee(i int) (from, to string, ok bool) {
	p := t.Parent[i]
	if p < 0 {
		return "", "", false
	}
	s, ps := &t.Spans[i], &t.Spans[p]
	if s.Async() || s.Service == ps.Service {
		return "", "", false
	}
	return ps.Service, s.Service, true
}

// peerCall returns the service a client span calls when no span of that service
// answers it (an uninstrumented server named by peer.service or a remote endpoint).
func (t *Trace) peerCall(i int) (from, to string, ok bool) {
	s := &t.Spans[i]
	if s.Kind != KindClient || s.Peer == "" || s.Peer == s.Service {
		return "", "", false
	}
	for _, c := range t.Children(i) {
		if cs := &t.Spans[c]; !cs.Async() && cs.Service != s.Service {
			return "", "", false
		}
	}
	return s.Service, s.Peer, true
}
