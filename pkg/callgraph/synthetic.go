package callgraph

import (
	"fmt"
	"math/rand/v2"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

// Synthetic returns a deterministic layered call graph for benchmarks: workloads
// spread over namespaces of 200 and over 10 layers, each edge calling from one layer
// to a later one (so the graph is acyclic), with mixed modes, protocols, mTLS,
// rates and sizes.
func Synthetic(workloads, edges int, seed uint64) *Graph {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &Graph{APIVersion: APIVersion, Kind: Kind, Metadata: Metadata{Name: fmt.Sprintf("synthetic-%dw-%de", workloads, edges)}}
	g.Workloads = make([]Workload, workloads)
	modes := []dataplane.Mode{dataplane.Sidecar, dataplane.Sidecar, dataplane.Sidecar, dataplane.Ambient, dataplane.Waypoint, dataplane.None}
	const layers = 10
	for i := range g.Workloads {
		replicas := 1 + rng.IntN(4)
		g.Workloads[i] = Workload{
			Name:      fmt.Sprintf("w%d", i),
			Namespace: fmt.Sprintf("ns%d", i/200),
			Mode:      modes[rng.IntN(len(modes))],
			Replicas:  &replicas,
			Entry:     i%layers == 0 && i < workloads/layers,
		}
	}
	protocols := []dataplane.Protocol{dataplane.HTTP, dataplane.HTTP, dataplane.GRPC, dataplane.HTTP2, dataplane.TCP}
	g.Edges = make([]Edge, edges)
	for i := range g.Edges {
		from := rng.IntN(workloads)
		layer := from % layers
		to := from
		if layer < layers-1 {
			// Same layer position + a later layer offset keeps edges acyclic.
			to = (from/layers)*layers + layer + 1 + rng.IntN(layers-layer-1)
			if to >= workloads {
				to = layer + 1
			}
		} else {
			from--
		}
		mtls := rng.IntN(4) != 0
		rps := 1 + rng.Float64()*500
		req, resp := 64+rng.Float64()*2048, 64+rng.Float64()*16384
		g.Edges[i] = Edge{
			From: g.Workloads[from].Namespace + "/" + g.Workloads[from].Name, To: g.Workloads[to].Namespace + "/" + g.Workloads[to].Name,
			Protocol: protocols[rng.IntN(len(protocols))], MTLS: &mtls,
			RequestsPerSecond: &rps, RequestBytes: &req, ResponseBytes: &resp,
		}
	}
	return g
}
