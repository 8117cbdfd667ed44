package callgraph

import (
	"cmp"
	"slices"
)

// Restrict keeps the workloads keep accepts and the edges between two of
// them, and returns the edges it left out (a call to or from a workload not
// kept). Waypoints, Services and the node count stay: they describe the
// mesh the kept workloads run in (what their sidecars see), not the
// selection; a Service only stops naming the workloads left out. An edge
// whose reference resolves to no workload is left out too.
func (g *Graph) Restrict(keep func(Workload) bool) (dropped []Edge) {
	refs := newRefIndex(g.Workloads)
	kept := make([]bool, len(g.Workloads))
	var workloads []Workload
	for i, w := range g.Workloads {
		if keep(w) {
			kept[i] = true
			workloads = append(workloads, w)
		}
	}
	in := func(ref string) bool {
		i, _ := refs.lookup(ref)
		return i >= 0 && kept[i]
	}
	var edges []Edge
	for _, e := range g.Edges {
		if in(e.From) && in(e.To) {
			edges = append(edges, e)
		} else {
			dropped = append(dropped, e)
		}
	}
	for i, svc := range g.Services {
		ns := cmp.Or(svc.Namespace, DefaultNamespace)
		g.Services[i].Workloads = slices.DeleteFunc(slices.Clone(svc.Workloads), func(w string) bool { return !in(ns + "/" + w) })
	}
	g.Workloads, g.Edges = workloads, edges
	return dropped
}
