package predict

import (
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

func sidecars(names ...string) []callgraph.Workload {
	ws := make([]callgraph.Workload, len(names))
	for i, n := range names {
		ws[i] = callgraph.Workload{Name: n, Mode: dataplane.Sidecar}
	}
	return ws
}

func predictGraph(t *testing.T, g *callgraph.Graph, fan FanOut) (*Scenario, []diag.Message) {
	t.Helper()
	g.APIVersion, g.Kind = callgraph.APIVersion, callgraph.Kind
	r := resolved(t, g)
	var notes diag.List
	sc, err := Predict(r, testProfile(t), Options{FanOut: fan}, &notes)
	if err != nil {
		t.Fatal(err)
	}
	return sc, notes.Sorted()
}

// Issue #13 item 2: a branch one request in a million takes must add a
// millionth of its latency to a parallel path, not all of it.
func TestParallelFanOutWeighsBranchesByShare(t *testing.T) {
	g := &callgraph.Graph{Workloads: sidecars("a", "b", "c"), Edges: []callgraph.Edge{
		plainEdge("a", "b", 100, 0, 0),
		plainEdge("a", "c", 1e-4, 0, 64<<10), // 1 call in 10⁶ requests, 64 KiB responses: 40 + 256 µs
	}}
	g.Workloads[0].Entry = true
	sc, _ := predictGraph(t, g, Parallel)
	const share = 1e-6
	want := 296*share + 40*(1-share)
	near(t, "parallel p50", sc.Paths[0].LatencyP50Micros, want)
	if got := strings.Join(sc.Paths[0].CriticalPath, " "); got != "default/a default/b" {
		t.Errorf("critical path = %s, want the branch nearly every request takes", got)
	}
}

// Issue #13 item 3: the critical path is the chain a request most often
// waits on longest, not the call with the largest weighted share: in a
// Bookinfo-like graph it goes through a reviews version that calls
// ratings, not to details.
func TestCriticalPathIsTheChainMostOftenSlowest(t *testing.T) {
	g := &callgraph.Graph{Workloads: sidecars("page", "details", "reviews-v1", "reviews-v2", "reviews-v3", "ratings"),
		Edges: []callgraph.Edge{
			plainEdge("page", "details", 100, 0, 0),           // 40 µs, every request
			plainEdge("page", "reviews-v1", 100.0/3, 0, 1024), // 44 µs, a third
			plainEdge("page", "reviews-v2", 100.0/3, 0, 1024), // 44 + 40 µs, a third
			plainEdge("page", "reviews-v3", 100.0/3, 0, 1024),
			plainEdge("reviews-v2", "ratings", 100.0/3, 0, 0),
			plainEdge("reviews-v3", "ratings", 100.0/3, 0, 0),
		}}
	g.Workloads[0].Entry = true
	for _, fan := range []FanOut{Sequential, Parallel} {
		sc, _ := predictGraph(t, g, fan)
		if got := strings.Join(sc.Paths[0].CriticalPath, " "); got != "default/page default/reviews-v2 default/ratings" {
			t.Errorf("%s: critical path = %s, want page > reviews-v2 > ratings", fan, got)
		}
	}
}

// Issue #13 item 7: an entry's external requests cross its inbound
// sidecar, which costs CPU and adds latency to the path.
func TestExternalRequestsAreCostedAtTheEntry(t *testing.T) {
	g := &callgraph.Graph{Workloads: sidecars("a", "b"), Edges: []callgraph.Edge{plainEdge("a", "b", 100, 0, 0)}}
	g.Workloads[0].RequestsPerSecond = ptr(100.0)
	sc, notes := predictGraph(t, g, Sequential)
	if len(sc.Ingress) != 1 || sc.Ingress[0].To != "default/a" || sc.Ingress[0].From != "default/"+callgraph.OutsideName {
		t.Fatalf("ingress = %+v", sc.Ingress)
	}
	// Inbound sidecar only, default sizes 512 B and 1 KiB: (10 + 1) + (10 + 2) µs.
	in := sc.Ingress[0]
	near(t, "ingress p50", in.LatencyP50Micros, 23)
	// CPU per request: (20 + 2) + (20 + 4) CPU-µs at 100 req/s.
	near(t, "ingress cpu", in.CPUMillicores, 100*46.0/1000)
	near(t, "path p50", sc.Paths[0].LatencyP50Micros, 40+23)
	var aCPU float64
	for _, p := range sc.Proxies {
		if p.Workload == "default/a" {
			aCPU = p.CPUMillicores
			near(t, "a rps", p.RequestsPerSecondPerReplica, 200) // 100 in, 100 out
		}
	}
	near(t, "a's sidecar cpu", aCPU, 100*(20+20)/1000.0+in.CPUMillicores)
	near(t, "total cpu", sc.Totals.CPUMillicores, sc.Edges[0].CPUMillicores+in.CPUMillicores)
	if sc.Totals.Edges != 1 || sc.Totals.Workloads != 2 || sc.Totals.RequestsPerSecond != 100 {
		t.Errorf("totals count the graph's own edges and workloads: %+v", sc.Totals)
	}
	if !diag.Has(notes, diag.DefaultUsed, "requests from outside the graph") {
		t.Errorf("the assumed protocol and sizes are not said: %v", notes)
	}
}

// Issue #13 item 7: an entry with requestsPerSecond: 0 weighs its calls by
// their rates like an entry without one, not each as one call per request.
func TestZeroExternalRateKeepsCallShares(t *testing.T) {
	g := &callgraph.Graph{Workloads: sidecars("a", "b", "c"), Edges: []callgraph.Edge{
		plainEdge("a", "b", 100, 0, 0),
		plainEdge("a", "c", 1, 0, 0),
	}}
	g.Workloads[0].RequestsPerSecond = ptr(0.0)
	sc, _ := predictGraph(t, g, Sequential)
	near(t, "path p50", sc.Paths[0].LatencyP50Micros, 40+0.01*40)
	near(t, "calls", sc.Paths[0].Calls, 1.01)
	if len(sc.Ingress) != 0 {
		t.Errorf("no request enters, yet ingress = %+v", sc.Ingress)
	}
}
