package callgraph

import (
	"fmt"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// Documented defaults for optional fields. Every use of one is reported as an
// assumption by Resolve.
const (
	DefaultNamespace         = "default"
	DefaultMode              = dataplane.Sidecar
	DefaultProtocol          = dataplane.HTTP
	DefaultRequestsPerSecond = 100.0
	DefaultRequestBytes      = 512.0
	DefaultResponseBytes     = 1024.0
	DefaultReplicas          = 1
	// DefaultWaypointName is the waypoint of a workload in mode waypoint
	// that names none: Istio's default name for a namespace's waypoint.
	DefaultWaypointName = "waypoint"
)

// NoWaypoint, as an edge's waypoint, says the call crosses no waypoint even
// though its server workload has one.
const NoWaypoint = "none"

// ResolvedEdge is an edge with every default applied and references resolved to
// workload indexes in the graph.
type ResolvedEdge struct {
	Edge
	FromIndex, ToIndex int
	// MTLSRequested is the edge's mTLS setting after defaults; mTLS is only in
	// effect when both sides are meshed as well.
	MTLSRequested bool
	// MTLSExplicit is true when the file set mtls; otherwise MTLSRequested follows
	// auto mTLS (on between meshed workloads).
	MTLSExplicit      bool
	RequestsPerSecond float64
	RequestBytes      float64
	ResponseBytes     float64
	// ExpectedTries is the mean number of tries per request (retries).
	ExpectedTries float64
	// MirrorFraction is MirrorPercent/100.
	MirrorFraction float64
	// TracingFraction is TracingSamplingPercent/100, or -1 when unset.
	TracingFraction float64
	// WaypointOverride is the edge's own waypoint: "" (the server's),
	// NoWaypoint, or a waypoint's "namespace/name". Resolved.EdgeWaypoint
	// says which waypoint the call crosses.
	WaypointOverride string
}

// ResolvedWorkload is a workload with defaults applied. Mode is Waypoint
// exactly when the workload is ambient and has a waypoint.
type ResolvedWorkload struct {
	Workload
	Replicas int
	// Outbound is the path of the calls the workload makes, Inbound that of
	// the calls it receives after any waypoint: sidecar, ambient or none.
	Outbound, Inbound dataplane.Mode
	// WaypointID is the "namespace/name" of the waypoint calls to the
	// workload cross, or "".
	WaypointID string
	// Config is what its sidecar is configured with: its proxyConfig, else
	// every Service of the graph (ConfigDefaulted).
	Config          ProxyConfig
	ConfigDefaulted bool
	// noWaypoint is set by SetMode(Ambient): no call to the workload crosses
	// a waypoint, whatever its edges say.
	noWaypoint bool
	id         string
}

// SetMode moves the workload to data-plane mode m on both its paths, as a
// what-if does: Waypoint keeps the workload's waypoint (or gives it the
// namespace's default one), Ambient removes every waypoint in front of it.
func (w *ResolvedWorkload) SetMode(m dataplane.Mode) {
	w.Mode, w.Outbound, w.Inbound = m, m.Capture(), m.Capture()
	w.noWaypoint = m == dataplane.Ambient
	switch m {
	case dataplane.Waypoint:
		if w.WaypointID == "" {
			w.WaypointID = w.Namespace + "/" + DefaultWaypointName
		}
	case dataplane.Ambient:
		w.WaypointID = ""
	}
}

// ID is the workload's "namespace/name", computed once.
func (w ResolvedWorkload) ID() string { return w.id }

// Resolved is a graph ready for the model: defaults applied, references checked.
type Resolved struct {
	Source    *Graph
	Workloads []ResolvedWorkload
	Edges     []ResolvedEdge
	// Entries are indexes of entry-point workloads.
	Entries []int
	// Assumptions lists every default that was used.
	Assumptions []diag.Message
	// Nodes is the number of nodes, one ztunnel each; NodesDefaulted is true
	// when the graph did not say (the default is reported by the predictor,
	// only when a ztunnel is used).
	Nodes          int
	NodesDefaulted bool
	// Services are the graph's Services (ServicesListed), or one per
	// workload when it lists none; IstioNamespace is the graph's.
	Services       []ResolvedService
	ServicesListed bool
	IstioNamespace string
	// waypointReplicas holds the replicas of the listed waypoints by ID.
	waypointReplicas map[string]int
}

// WaypointReplicas returns the replicas of waypoint id ("namespace/name") and
// whether the graph lists it; an unlisted waypoint has DefaultReplicas.
func (r *Resolved) WaypointReplicas(id string) (int, bool) {
	n, ok := r.waypointReplicas[id]
	if !ok {
		return DefaultReplicas, false
	}
	return n, true
}

// EdgeWaypoint is the "namespace/name" of the waypoint call e crosses, or
// "": a waypoint stands in front of an ambient server only, and only a
// meshed client (sidecar or ztunnel) sends to it.
func (r *Resolved) EdgeWaypoint(e *ResolvedEdge) string {
	client, server := &r.Workloads[e.FromIndex], &r.Workloads[e.ToIndex]
	if server.Inbound != dataplane.Ambient || !client.Outbound.Meshed() || server.noWaypoint {
		return ""
	}
	switch e.WaypointOverride {
	case "":
		return server.WaypointID
	case NoWaypoint:
		return ""
	}
	return e.WaypointOverride
}

// WorkloadIndex maps "namespace/name" to a workload index.
func (r *Resolved) WorkloadIndex() map[string]int {
	idx := make(map[string]int, len(r.Workloads))
	for i, w := range r.Workloads {
		idx[w.ID()] = i
	}
	return idx
}

// Resolve validates g and applies defaults. It does not modify g.
func Resolve(g *Graph) (*Resolved, error) {
	if err := Validate(g); err != nil {
		return nil, err
	}
	r := &Resolved{Source: g, Workloads: make([]ResolvedWorkload, len(g.Workloads)), Edges: make([]ResolvedEdge, len(g.Edges))}
	var notes diag.List
	// subject is a func so that names are only built for the rare defaults.
	defaulted := func(subject func() string, field string, value any) {
		notes.Add(diag.New(diag.DefaultUsed, subject(), "%s not set; using default %v", field, value))
	}
	hasEntry := false
	for i, w := range g.Workloads {
		rw := ResolvedWorkload{Workload: w, Replicas: DefaultReplicas}
		if rw.Namespace == "" {
			rw.Namespace = DefaultNamespace
		}
		rw.id = rw.Namespace + "/" + rw.Name
		if rw.Mode == "" {
			rw.Mode = DefaultMode
			defaulted(rw.ID, "mode", DefaultMode)
		}
		resolveWaypoint(&rw, defaulted)
		if w.Replicas != nil {
			rw.Replicas = *w.Replicas
		}
		r.Nodes = max(r.Nodes, rw.Replicas)
		hasEntry = hasEntry || w.Entry
		r.Workloads[i] = rw
	}
	r.NodesDefaulted = g.Nodes == nil
	if g.Nodes != nil {
		r.Nodes = *g.Nodes
	}
	r.waypointReplicas = make(map[string]int, len(g.Waypoints))
	for _, w := range g.Waypoints {
		r.waypointReplicas[w.ID()] = DefaultReplicas
		if w.Replicas != nil {
			r.waypointReplicas[w.ID()] = *w.Replicas
		}
	}
	refs := newRefIndex(g.Workloads)
	incoming := make([]bool, len(g.Workloads))
	for i, e := range g.Edges {
		r.Edges[i] = resolveEdge(e, refs, r.Workloads, defaulted, &notes)
		incoming[r.Edges[i].ToIndex] = true
	}
	outgoing := make([]bool, len(g.Workloads))
	for _, e := range r.Edges {
		outgoing[e.FromIndex] = true
	}
	for i, w := range r.Workloads {
		// Marked entries, plus every caller that nothing calls.
		if w.Entry || (!incoming[i] && (outgoing[i] || !hasEntry)) {
			r.Entries = append(r.Entries, i)
		}
	}
	r.resolveConfigs(g)
	r.Assumptions = notes.Sorted()
	return r, nil
}

// resolveWaypoint sets a workload's paths and waypoint from its mode,
// outbound and waypoint fields: an ambient workload with a waypoint is in
// mode waypoint, and one in mode waypoint without one gets its namespace's
// default waypoint.
func resolveWaypoint(w *ResolvedWorkload, defaulted defaultedFunc) {
	if w.Waypoint != "" {
		w.WaypointID = qualify(w.Waypoint, w.Namespace)
		if w.Mode == dataplane.Ambient {
			w.Mode = dataplane.Waypoint
		}
	} else if w.Mode == dataplane.Waypoint {
		w.WaypointID = w.Namespace + "/" + DefaultWaypointName
		defaulted(w.ID, "waypoint", fmt.Sprintf("%s (the namespace's waypoint)", w.WaypointID))
	}
	w.Inbound = w.Mode.Capture()
	w.Outbound = w.Inbound
	if w.Workload.Outbound != "" {
		w.Outbound = w.Workload.Outbound
	}
}

// qualify turns a reference "name" into "namespace/name" in ns.
func qualify(ref, ns string) string {
	if strings.Contains(ref, "/") {
		return ref
	}
	return ns + "/" + ref
}

// defaultedFunc notes that field of subject was not set and value is used.
type defaultedFunc func(subject func() string, field string, value any)

// resolveEdge applies an edge's defaults; its ends are looked up in refs
// among the resolved workloads.
func resolveEdge(e Edge, refs refIndex, workloads []ResolvedWorkload, defaulted defaultedFunc, notes *diag.List) ResolvedEdge {
	from, _ := refs.lookup(e.From)
	to, _ := refs.lookup(e.To)
	re := ResolvedEdge{Edge: e, FromIndex: from, ToIndex: to, ExpectedTries: 1, TracingFraction: -1}
	subject := e.Name
	if re.Protocol == "" {
		re.Protocol = DefaultProtocol
		defaulted(subject, "protocol", DefaultProtocol)
	}
	bothMeshed := workloads[from].Outbound.Meshed() && workloads[to].Inbound.Meshed()
	if e.MTLS != nil {
		re.MTLSRequested, re.MTLSExplicit = *e.MTLS, true
	} else {
		re.MTLSRequested = bothMeshed
		if bothMeshed {
			defaulted(subject, "mtls", "true (auto mTLS between meshed workloads)")
		}
	}
	re.RequestBytes = valueOr(e.RequestBytes, DefaultRequestBytes, subject, "requestBytes", defaulted)
	re.ResponseBytes = valueOr(e.ResponseBytes, DefaultResponseBytes, subject, "responseBytes", defaulted)
	switch {
	case e.RequestsPerSecond != nil:
		re.RequestsPerSecond = *e.RequestsPerSecond
	case re.Protocol == dataplane.TCP && e.BytesPerSecond != nil && re.RequestBytes+re.ResponseBytes > 0:
		re.RequestsPerSecond = *e.BytesPerSecond / (re.RequestBytes + re.ResponseBytes)
		notes.Add(diag.New(diag.DefaultUsed, subject(),
			"requestsPerSecond derived from bytesPerSecond / (requestBytes + responseBytes) = %.4g", re.RequestsPerSecond))
	default:
		re.RequestsPerSecond = DefaultRequestsPerSecond
		defaulted(subject, "requestsPerSecond", DefaultRequestsPerSecond)
	}
	if e.Retries != nil {
		re.ExpectedTries = e.Retries.ExpectedTries()
		if e.Retries.FailureRate == nil && e.Retries.Attempts > 0 {
			defaulted(subject, "retries.failureRate", "0 (retries never trigger)")
		}
	}
	if e.MirrorPercent != nil {
		re.MirrorFraction = *e.MirrorPercent / 100
	}
	if e.TracingSamplingPercent != nil {
		re.TracingFraction = *e.TracingSamplingPercent / 100
	}
	if e.Waypoint != "" {
		re.WaypointOverride = NoWaypoint
		if e.Waypoint != NoWaypoint {
			re.WaypointOverride = qualify(e.Waypoint, workloads[to].Namespace)
		}
	}
	return re
}

func valueOr(v *float64, def float64, subject func() string, field string, defaulted func(func() string, string, any)) float64 {
	if v != nil {
		return *v
	}
	defaulted(subject, field, def)
	return def
}

// Clone returns a copy of r whose workload and edge slices can be changed freely.
func (r *Resolved) Clone() *Resolved {
	c := *r
	c.Workloads = append([]ResolvedWorkload(nil), r.Workloads...)
	c.Edges = append([]ResolvedEdge(nil), r.Edges...)
	c.Entries = append([]int(nil), r.Entries...)
	return &c
}
