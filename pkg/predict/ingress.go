package predict

import (
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// withIngress returns g with the requests that enter it from outside made
// into calls, so that the entry's inbound proxy is costed like any other:
// for every workload with requestsPerSecond > 0, an edge at that rate from
// callgraph.Outside of its namespace (unmeshed, so plaintext and no outbound
// proxy), http with the default sizes, each assumption noted. The rate moves
// from the workload to the edge, which then counts as the requests it
// serves. ingress gives, per workload, the index of its ingress edge or -1
// (nil without any); the graph's own edges keep their indexes, the first n.
func withIngress(g *callgraph.Resolved, notes *diag.List) (aug *callgraph.Resolved, ingress []int, n int) {
	n = len(g.Edges)
	outside := map[string]int{}
	for i, w := range g.Workloads {
		if w.RequestsPerSecond == nil {
			continue
		}
		if aug == nil {
			aug = g.Clone()
			ingress = make([]int, len(g.Workloads), len(g.Workloads)+1)
			for j := range ingress {
				ingress[j] = -1
			}
		}
		rate := *w.RequestsPerSecond
		aug.Workloads[i].RequestsPerSecond = nil
		if rate <= 0 {
			notes.Add(diag.New(diag.DefaultUsed, w.ID(),
				"requestsPerSecond is 0: no request enters from outside, so its busiest call counts as one call per request"))
			continue
		}
		from, ok := outside[w.Namespace]
		if !ok {
			from = len(aug.Workloads)
			outside[w.Namespace] = from
			aug.Workloads = append(aug.Workloads, callgraph.Outside(w.Namespace))
			ingress = append(ingress, -1)
		}
		e := callgraph.ResolvedEdge{
			Edge:      callgraph.Edge{From: aug.Workloads[from].ID(), To: w.ID(), Protocol: callgraph.DefaultProtocol},
			FromIndex: from, ToIndex: i, RequestsPerSecond: rate,
			RequestBytes: callgraph.DefaultRequestBytes, ResponseBytes: callgraph.DefaultResponseBytes,
			ExpectedTries: 1, TracingFraction: -1,
		}
		ingress[i] = len(aug.Edges)
		aug.Edges = append(aug.Edges, e)
		if w.Mode != dataplane.None {
			notes.Add(diag.New(diag.DefaultUsed, e.Name(),
				"requests from outside the graph: protocol %s, plaintext, %.0f B requests and %.0f B responses assumed (add the caller, e.g. the ingress gateway, to the graph to set them)",
				e.Protocol, e.RequestBytes, e.ResponseBytes))
		}
	}
	if aug == nil {
		return g, nil, n
	}
	return aug, ingress, n
}
