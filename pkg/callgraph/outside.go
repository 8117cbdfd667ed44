package callgraph

import "github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"

// OutsideName names the client of the requests that enter a graph from
// outside it (a workload's requestsPerSecond): an unmeshed caller such as a
// user or a gateway the graph does not model.
const OutsideName = "(outside)"

// Outside returns the unmeshed client of the requests entering namespace ns
// from outside the graph, to stand at the far end of those requests when the
// model costs them. It is never part of a graph read from a file.
func Outside(ns string) ResolvedWorkload {
	return ResolvedWorkload{Workload: Workload{Name: OutsideName, Namespace: ns, Mode: dataplane.None}, Replicas: 1, id: ns + "/" + OutsideName}
}
