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
}

// proxyTable assigns traversals to proxies: a workload's sidecar or its share of the
// node's ztunnel, and one waypoint per namespace.
type proxyTable struct {
	prof *profile.Profile
	// nodeProfiles are per-node-type profiles (Options.NodeProfiles).
	nodeProfiles map[string]*profile.Profile
	// nodeTypesUsed and nodeTypesMissing collect, for the notes, the node
	// types whose profile was used and those without one.
	nodeTypesUsed, nodeTypesMissing map[string][]string
	rows                            []proxyRow
	// byWorkload is the row of each workload's own proxy (sidecar or ztunnel
	// share), or -1 before it is first used.
	byWorkload []int
	waypoints  map[string]int
}

func newProxyTable(g *callgraph.Resolved, p *profile.Profile) *proxyTable {
	pt := &proxyTable{prof: p, byWorkload: make([]int, len(g.Workloads)), waypoints: map[string]int{}}
	for i := range pt.byWorkload {
		pt.byWorkload[i] = -1
	}
	return pt
}

func (pt *proxyTable) add(r proxyRow) int {
	if r.prof == nil {
		r.prof = pt.prof
	}
	pt.rows = append(pt.rows, r)
	return len(pt.rows) - 1
}

// workloadProxy returns the proxy row serving the pods of workload i.
func (pt *proxyTable) workloadProxy(i int, w callgraph.ResolvedWorkload) int {
	if row := pt.byWorkload[i]; row >= 0 {
		return row
	}
	r := proxyRow{owner: w.ID(), kind: KindZtunnel, mode: dataplane.Ambient, replicas: w.Replicas, prof: pt.nodeProfile(w)}
	if w.Mode == dataplane.Sidecar {
		r.kind, r.mode = KindSidecar, dataplane.Sidecar
		if w.ProxyCPULimitMillicores != nil {
			r.limit = *w.ProxyCPULimitMillicores
		}
	}
	pt.byWorkload[i] = pt.add(r)
	return pt.byWorkload[i]
}

// nodeProfile is the profile for a workload's own proxy: its node type's,
// else the default.
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

// waypoint returns the row of the waypoint serving namespace ns.
func (pt *proxyTable) waypoint(ns string) int {
	if row, ok := pt.waypoints[ns]; ok {
		return row
	}
	row := pt.add(proxyRow{owner: ns + "/waypoint", kind: KindWaypoint, mode: dataplane.Waypoint, replicas: 1})
	pt.waypoints[ns] = row
	return row
}

// traversals lists the proxies a call from client to server crosses:
// the client's outbound proxy, then a waypoint if the server has one, then the
// server's inbound proxy.
// It appends to ts (a call crosses at most four proxy legs), so that callers can
// reuse one backing array for every edge.
func (pt *proxyTable) traversals(ts []traversal, e *callgraph.ResolvedEdge, client, server callgraph.ResolvedWorkload) []traversal {
	clientProxy := func() int { return pt.workloadProxy(e.FromIndex, client) }
	serverProxy := func() int { return pt.workloadProxy(e.ToIndex, server) }
	switch client.Mode {
	case dataplane.Sidecar:
		ts = append(ts, traversal{mode: dataplane.Sidecar, side: profile.Outbound, proxy: clientProxy(), l7: true})
	case dataplane.Ambient, dataplane.Waypoint:
		// The client's own waypoint is not on its outbound path: waypoints serve
		// traffic to their workloads.
		ts = append(ts, traversal{mode: dataplane.Ambient, side: profile.Outbound, proxy: clientProxy()})
	}
	switch server.Mode {
	case dataplane.Sidecar:
		ts = append(ts, traversal{mode: dataplane.Sidecar, side: profile.Inbound, proxy: serverProxy(), l7: true})
	case dataplane.Waypoint:
		wp := pt.waypoint(server.Namespace)
		ts = append(ts,
			traversal{mode: dataplane.Waypoint, side: profile.Inbound, proxy: wp, l7: true},
			traversal{mode: dataplane.Waypoint, side: profile.Outbound, proxy: wp, l7: true},
			traversal{mode: dataplane.Ambient, side: profile.Inbound, proxy: serverProxy()})
	case dataplane.Ambient:
		ts = append(ts, traversal{mode: dataplane.Ambient, side: profile.Inbound, proxy: serverProxy()})
	}
	return ts
}

// finishRates computes each proxy's per-replica rate and rate factor. A waypoint's
// two legs count one request once. Proxies whose rate lies outside the profile's
// measured range are reported together, one message per mode.
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

// perReplica is the request rate one instance of the proxy handles.
func (pt *proxyTable) perReplica(r *proxyRow) float64 {
	rps := r.rps
	if r.kind == KindWaypoint {
		rps /= 2
	}
	return rps / float64(r.replicas)
}

// results turns rows and their accumulated costs into ProxyResults.
func (pt *proxyTable) results(c []costs, notes *diag.List) []ProxyResult {
	out := make([]ProxyResult, len(pt.rows))
	perNodeNoted := false
	for i, r := range pt.rows {
		res := ProxyResult{Workload: r.owner, Kind: r.kind, Replicas: r.replicas, RateFactor: r.factor, CPULimitMillicores: r.limit}
		res.RequestsPerSecondPerReplica = pt.perReplica(&r)
		_, _, res.CPUMillicores = c[i].total()
		if pc, ok := r.prof.ProxyCost(r.mode); ok {
			if !pc.PerNode {
				res.MemoryMiB = pc.MemoryMiB * float64(r.replicas)
			} else if !perNodeNoted {
				perNodeNoted = true
				notes.Add(diag.New(diag.PerNodeProxy, string(r.kind), "%s memory (%.0f MiB per node) is not in the totals", r.kind, pc.MemoryMiB))
			}
		}
		if r.limit > 0 && res.CPUMillicores/float64(r.replicas) > float64(r.limit) {
			res.OverLimit = true
		}
		out[i] = res
	}
	sortProxies(out)
	return out
}
