package predict

import (
	"fmt"
	"sort"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// ZtunnelOwner names the ztunnels in the proxies table: Istio's ztunnel
// DaemonSet, one pod per node.
const ZtunnelOwner = "istio-system/ztunnel"

// proxyRow is one proxy deployment that CPU is charged to.
type proxyRow struct {
	owner    string
	kind     ProxyKind
	mode     dataplane.Mode
	replicas int
	limit    int
	rps      float64 // total through all replicas, filled by Predict
	factor   float64
	latency  float64          // added-p50 rate factor
	prof     *profile.Profile // the default, or its node type's
	// workload is the index of a sidecar's workload, -1 for other proxies.
	workload int32
	// threads is the sidecar's worker threads from the graph
	// (proxyConcurrency), 0 when not given.
	threads int
}

// proxyTable assigns traversals to proxies: each workload's sidecar, the
// ztunnels (one per node, shared by every ambient workload), and each
// waypoint.
type proxyTable struct {
	graph *callgraph.Resolved
	prof  *profile.Profile
	// nodeProfiles are per-node-type profiles (Options.NodeProfiles).
	nodeProfiles map[string]*profile.Profile
	// nodeTypesUsed and nodeTypesMissing collect, for the notes, the node
	// types whose profile was used and those without one.
	nodeTypesUsed, nodeTypesMissing map[string][]string
	rows                            []proxyRow
	// sidecars is the row of each workload's sidecar, or -1 before it is
	// first used; profiles is each workload's profile, nil before it is
	// first needed.
	sidecars []int32
	profiles []*profile.Profile
	// ztunnel is the row of the ztunnels, or -1.
	ztunnel   int32
	waypoints map[string]int32
	// noMemory leaves memory out (Options.NoMemory).
	noMemory bool
}

func newProxyTable(g *callgraph.Resolved, p *profile.Profile) *proxyTable {
	pt := &proxyTable{graph: g, prof: p, sidecars: make([]int32, len(g.Workloads)), profiles: make([]*profile.Profile, len(g.Workloads)),
		ztunnel: -1, waypoints: map[string]int32{}}
	for i := range pt.sidecars {
		pt.sidecars[i] = -1
	}
	return pt
}

func (pt *proxyTable) add(r proxyRow) int32 {
	if r.prof == nil {
		r.prof = pt.prof
	}
	if r.kind != KindSidecar {
		r.workload = -1
	}
	pt.rows = append(pt.rows, r)
	return int32(len(pt.rows) - 1)
}

// sidecar returns the row of workload i's sidecars.
func (pt *proxyTable) sidecar(i int, w *callgraph.ResolvedWorkload) int32 {
	if row := pt.sidecars[i]; row >= 0 {
		return row
	}
	r := proxyRow{owner: w.ID(), kind: KindSidecar, mode: dataplane.Sidecar, replicas: w.Replicas, prof: pt.workloadProfile(i, w),
		workload: int32(i)}
	if w.ProxyCPULimitMillicores != nil {
		r.limit = *w.ProxyCPULimitMillicores
	}
	if w.ProxyConcurrency != nil {
		r.threads = *w.ProxyConcurrency // Istio's 0 means "one per core": unknown here
	}
	pt.sidecars[i] = pt.add(r)
	return pt.sidecars[i]
}

// ztunnelShare returns the workload whose pods' share of the ztunnels a
// crossing is, having looked up its profile (its node type's).
func (pt *proxyTable) ztunnelShare(i int, w *callgraph.ResolvedWorkload) int32 {
	pt.workloadProfile(i, w)
	return int32(i)
}

// ztunnelRow returns the row of the ztunnels: one per node, so as many
// replicas as the graph has nodes.
func (pt *proxyTable) ztunnelRow(g *callgraph.Resolved, notes *diag.List) int32 {
	if pt.ztunnel < 0 {
		pt.ztunnel = pt.add(proxyRow{owner: ZtunnelOwner, kind: KindZtunnel, mode: dataplane.Ambient, replicas: max(g.Nodes, 1)})
		if g.NodesDefaulted {
			notes.Add(diag.New(diag.DefaultUsed, "ztunnel", "nodes not set; assuming %d (as many as the largest workload has replicas), one ztunnel each: set nodes: N in the graph",
				max(g.Nodes, 1)))
		}
	}
	return pt.ztunnel
}

// waypoint returns the row of waypoint id.
func (pt *proxyTable) waypoint(g *callgraph.Resolved, id string, notes *diag.List) int32 {
	if row, ok := pt.waypoints[id]; ok {
		return row
	}
	replicas, listed := g.WaypointReplicas(id)
	if !listed {
		notes.Add(diag.New(diag.DefaultUsed, id, "waypoint not listed under waypoints; assuming %d replica", replicas))
	}
	row := pt.add(proxyRow{owner: id, kind: KindWaypoint, mode: dataplane.Waypoint, replicas: replicas})
	pt.waypoints[id] = row
	return row
}

// workloadProfile is the profile for the proxies serving workload i's pods
// (its sidecar, its crossings of the node's ztunnel): its node type's, else
// the default.
func (pt *proxyTable) workloadProfile(i int, w *callgraph.ResolvedWorkload) *profile.Profile {
	if p := pt.profiles[i]; p != nil {
		return p
	}
	pt.profiles[i] = pt.nodeProfile(*w)
	return pt.profiles[i]
}

// nodeProfile is the profile of a workload's node type, else the default.
func (pt *proxyTable) nodeProfile(w callgraph.ResolvedWorkload) *profile.Profile {
	if len(pt.nodeProfiles) == 0 || w.NodeType == "" {
		return pt.prof
	}
	if pt.nodeTypesUsed == nil {
		pt.nodeTypesUsed, pt.nodeTypesMissing = map[string][]string{}, map[string][]string{}
	}
	if p, ok := pt.nodeProfiles[w.NodeType]; ok {
		pt.nodeTypesUsed[w.NodeType] = append(pt.nodeTypesUsed[w.NodeType], w.ID())
		return p
	}
	pt.nodeTypesMissing[w.NodeType] = append(pt.nodeTypesMissing[w.NodeType], w.ID())
	return pt.prof
}

// noteNodeTypes says which workloads used which node type's profile.
func (pt *proxyTable) noteNodeTypes(notes *diag.List) {
	for _, nt := range sortedKeys(pt.nodeTypesUsed) {
		ws := pt.nodeTypesUsed[nt]
		notes.Add(diag.New(diag.NodeTypeProfile, "node type "+nt, "profile %q (measured on %s) used for %d workload(s): %s",
			pt.nodeProfiles[nt].Metadata.Name, nt, len(ws), abbreviate(ws)))
	}
	for _, nt := range sortedKeys(pt.nodeTypesMissing) {
		ws := pt.nodeTypesMissing[nt]
		notes.Add(diag.New(diag.NodeTypeProfile, "node type "+nt, "no profile for node type %s; the default profile %q used for %d workload(s): %s",
			nt, pt.prof.Metadata.Name, len(ws), abbreviate(ws)))
	}
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// abbreviate lists up to three names and counts the rest.
func abbreviate(names []string) string {
	if len(names) <= 3 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:3], ", "), len(names)-3)
}

// traversals lists the proxies call e crosses, in order: the client's
// outbound path (its sidecar or its node's ztunnel), the waypoint of the
// server's Service if the call crosses one (its two legs), then the
// server's inbound path (sidecar or ztunnel). A workload's own waypoint is
// never on its outbound path: waypoints serve traffic to their workloads.
//
// Each crossing says what it is charged besides the proxying: the L7 proxy
// that routes the call (the client's sidecar, else the waypoint) retries
// and mirrors, so crossings before it carry each request once; the server's
// L7 proxy (its sidecar, else the waypoint, once) runs the server-side
// filters; every L7 proxy (not every leg) records a span when tracing.
// It appends to ts (a call crosses at most four proxy legs), so that
// callers can reuse one backing array for every edge.
func (pt *proxyTable) traversals(ts []traversal, g *callgraph.Resolved, e *callgraph.ResolvedEdge, notes *diag.List) []traversal {
	client, server := &g.Workloads[e.FromIndex], &g.Workloads[e.ToIndex]
	wp := g.EdgeWaypoint(e)
	waypointRoutes := wp != "" && client.Outbound != dataplane.Sidecar
	if t, ok := pt.ownLeg(g, e.FromIndex, client, client.Outbound, profile.Outbound, notes); ok {
		// The client's sidecar routes; with a waypoint routing, retries
		// happen after the client's ztunnel.
		t.mirror = t.mode == dataplane.Sidecar
		t.once = t.mode == dataplane.Ambient && waypointRoutes
		ts = append(ts, t)
	}
	if wp != "" {
		row := pt.waypoint(g, wp, notes)
		ts = append(ts,
			traversal{mode: dataplane.Waypoint, side: profile.Inbound, proxy: row, workload: -1, once: waypointRoutes, features: true, traces: true},
			traversal{mode: dataplane.Waypoint, side: profile.Outbound, proxy: row, workload: -1, mirror: waypointRoutes})
	}
	if t, ok := pt.ownLeg(g, e.ToIndex, server, server.Inbound, profile.Inbound, notes); ok {
		t.features = t.mode == dataplane.Sidecar
		ts = append(ts, t)
	}
	return ts
}

// ownLeg is the crossing, on side, of the proxy that captures workload i's
// own traffic in mode: its sidecar (which records a span) or the node's
// ztunnel; ok is false when nothing captures it.
func (pt *proxyTable) ownLeg(g *callgraph.Resolved, i int, w *callgraph.ResolvedWorkload, mode dataplane.Mode, side profile.Side, notes *diag.List) (t traversal, ok bool) {
	switch mode {
	case dataplane.Sidecar:
		return traversal{mode: dataplane.Sidecar, side: side, proxy: pt.sidecar(i, w), workload: -1, traces: true}, true
	case dataplane.Ambient:
		return traversal{mode: dataplane.Ambient, side: side, proxy: pt.ztunnelRow(g, notes), workload: pt.ztunnelShare(i, w)}, true
	}
	return traversal{}, false
}

// crossingProfile is the profile that costs crossing t: its proxy row's,
// or, for a ztunnel crossing, that of the workload's node type.
func (pt *proxyTable) crossingProfile(t traversal) *profile.Profile {
	if t.workload >= 0 {
		return pt.profiles[t.workload]
	}
	return pt.rows[t.proxy].prof
}

// finishRates computes each proxy's per-replica rate and rate factor.
// Proxies whose rate lies outside the profile's measured range are reported
// together, one message per mode.
func (pt *proxyTable) finishRates(notes *diag.List) {
	outside := map[dataplane.Mode][]string{}
	var order []dataplane.Mode
	for i := range pt.rows {
		r := &pt.rows[i]
		r.latency, _ = r.prof.LatencyRateFactor(r.mode, pt.perReplica(r))
		f, in := r.prof.RateFactor(r.mode, pt.perReplica(r))
		if !in && pt.perReplica(r) > 0 {
			if len(outside[r.mode]) == 0 {
				order = append(order, r.mode)
			}
			outside[r.mode] = append(outside[r.mode], fmt.Sprintf("%s (%.0f req/s)", r.owner, pt.perReplica(r)))
		}
		r.factor = f
	}
	for _, m := range order {
		names := outside[m]
		more := ""
		if len(names) > 3 {
			more = fmt.Sprintf(" and %d more", len(names)-3)
			names = names[:3]
		}
		notes.Add(diag.New(diag.RateOutsideProfile, string(m)+" proxies",
			"%s%s run at rates outside the profile's measured range; the nearest measured rate factor was used",
			strings.Join(names, ", "), more))
	}
}

// perReplica is the request rate one instance of the proxy handles. A
// waypoint's rate counts each request once, on the leg it forwards.
func (pt *proxyTable) perReplica(r *proxyRow) float64 {
	return r.rps / float64(r.replicas)
}

// results turns rows and their accumulated costs into ProxyResults. Every
// proxy's memory is per instance times its instances: replicas for
// sidecars and waypoints, nodes for ztunnels (see memoryTable).
func (pt *proxyTable) results(c []costs, notes *diag.List) []ProxyResult {
	out := make([]ProxyResult, len(pt.rows))
	mem := newMemoryTable(pt.graph)
	for i, r := range pt.rows {
		res := ProxyResult{Workload: r.owner, Kind: r.kind, Replicas: r.replicas, RateFactor: r.factor, CPULimitMillicores: r.limit}
		res.RequestsPerSecondPerReplica = pt.perReplica(&r)
		_, _, res.CPUMillicores = c[i].total()
		if _, _, cpu := c[i].ranges(); cpu != nil {
			res.Range = &Range{CPUMillicores: cpu}
		}
		if !pt.noMemory {
			res.MemoryMiBPerReplica, res.ProxyConfig = mem.perInstance(&r, notes)
		}
		res.MemoryMiB = res.MemoryMiBPerReplica * float64(r.replicas)
		if r.limit > 0 && res.CPUMillicores/float64(r.replicas) > float64(r.limit) {
			res.OverLimit = true
		}
		out[i] = res
	}
	if !pt.noMemory {
		mem.note(notes)
	}
	sortProxies(out)
	return out
}

// memoryCost is the memory figure of one instance of a kind of proxy: the
// profile's for the mode; for a waypoint without one, the profile's sidecar
// figure (both are Envoy); else the embedded reference profile's, in the
// same order. Any stand-in is reported; without any figure the memory is
// not counted (ok false), and that is reported too.
func memoryCost(p *profile.Profile, kind ProxyKind, mode dataplane.Mode, notes *diag.List) (cost profile.ProxyCost, ok bool) {
	candidates := []dataplane.Mode{mode}
	if mode == dataplane.Waypoint {
		candidates = append(candidates, dataplane.Sidecar)
	}
	profiles := []*profile.Profile{p}
	if !p.Metadata.Reference {
		if ref, err := profile.Reference(); err == nil {
			profiles = append(profiles, ref)
		}
	}
	for _, from := range profiles {
		for _, m := range candidates {
			pc, ok := from.ProxyCost(m)
			if !ok {
				continue
			}
			if from != p || m != mode {
				figure := fmt.Sprintf("figure (%.0f MiB per instance)", pc.MemoryMiB)
				if pc.Memory != nil && kind == KindSidecar {
					figure = "memory model (" + describeMemoryModel(pc.Memory) + ")"
				}
				notes.Add(diag.New(diag.ProxyMemoryUnknown, string(kind), "profile %q has no memory figure for %s proxies; %s %s %s is used",
					p.Metadata.Name, kind, profileName(from, p), kindOfMode(m), figure))
			}
			return pc, true
		}
	}
	notes.Add(diag.New(diag.ProxyMemoryUnknown, string(kind), "profile %q has no memory figure for %s proxies; their memory is not in the totals", p.Metadata.Name, kind))
	return profile.ProxyCost{}, false
}

// profileName names from as the source of a figure used for p.
func profileName(from, p *profile.Profile) string {
	if from == p {
		return "its"
	}
	return fmt.Sprintf("the reference profile's (%s)", from.Metadata.Name)
}
