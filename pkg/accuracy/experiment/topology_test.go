package experiment

import (
	"maps"
	"math"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

func TestTopologyValidate(t *testing.T) {
	c := func(from, to string, proto dataplane.Protocol) Call { return Call{From: from, To: to, Protocol: proto} }
	tests := map[string]struct {
		top  Topology
		want string // substring of the error; empty for valid
	}{
		"tree":            {DefaultTopology(), ""},
		"diamond":         {DiamondTopology(), ""},
		"two callers":     {Topology{Entry: "e", Calls: []Call{c("e", "a", "http"), c("a", "b", "tcp"), c("a", "c", "tcp"), c("c", "b", "tcp")}}, ""},
		"entry called":    {Topology{Entry: "e", Calls: []Call{c("e", "a", "http"), c("a", "e", "http")}}, "nothing may call the entry"},
		"two entry calls": {Topology{Entry: "e", Calls: []Call{c("e", "a", "http"), c("e", "b", "http")}}, "makes 2 calls"},
		"grpc":            {Topology{Entry: "e", Calls: []Call{c("e", "a", "grpc")}}, `protocol "grpc"`},
		"unreachable":     {Topology{Entry: "e", Calls: []Call{c("e", "a", "http"), c("x", "y", "http")}}, "not reachable"},
		"cycle":           {Topology{Entry: "e", Calls: []Call{c("e", "a", "http"), c("b", "c", "http"), c("c", "b", "http")}}, "cycle"},
		"reachable cycle": {Topology{Entry: "e", Calls: []Call{c("e", "a", "http"), c("a", "b", "http"), c("b", "a", "http")}}, "a, b on a call cycle"},
		"self call":       {Topology{Entry: "e", Calls: []Call{c("e", "a", "http"), c("a", "a", "http")}}, "cannot call itself"},
		"twice":           {Topology{Entry: "e", Calls: []Call{c("e", "a", "http"), c("a", "b", "http"), c("a", "b", "http")}}, "listed twice"},
		"protocols disagree": {Topology{Entry: "e", Calls: []Call{c("e", "a", "http"), c("a", "b", "tcp"), c("a", "c", "tcp"), c("c", "b", "http")}},
			"same protocol and mTLS"},
		"mTLS disagrees": {Topology{Entry: "e", Calls: []Call{c("e", "a", "http"), c("a", "b", "tcp"), c("a", "c", "tcp"),
			{From: "c", To: "b", Protocol: "tcp", MTLS: true}}}, "same protocol and mTLS"},
	}
	for name, tt := range tests {
		err := tt.top.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Validate = %v, want valid", name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Validate = %v, want %q", name, err, tt.want)
		}
	}
}

func TestVisits(t *testing.T) {
	c := func(from, to string) Call { return Call{From: from, To: to, Protocol: "tcp"} }
	tests := map[string]struct {
		top  Topology
		want map[string]int
	}{
		"tree":    {DefaultTopology(), map[string]int{"client": 1, "front": 1, "orders": 1, "cache": 1, "db": 1}},
		"diamond": {DiamondTopology(), map[string]int{"client": 1, "gateway": 1, "users": 1, "catalog": 1, "search": 1, "store": 2}},
		// Calls listed callee first: the order must come from the graph.
		"nested joins": {Topology{Entry: "e", Calls: []Call{c("c", "d"), c("b", "d"), c("a", "c"), c("a", "b"), c("b", "c"), c("e", "a")}},
			map[string]int{"e": 1, "a": 1, "b": 1, "c": 2, "d": 3}},
	}
	for name, tt := range tests {
		if err := tt.top.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := tt.top.Visits(); !maps.Equal(got, tt.want) {
			t.Errorf("%s: visits %v, want %v", name, got, tt.want)
		}
	}
}

func TestDiamondTopology(t *testing.T) {
	top := DiamondTopology()
	variants := map[[2]any]bool{}
	callers := map[string]int{}
	fanOut := map[string]int{}
	for _, c := range top.Calls {
		variants[[2]any{c.Protocol, c.MTLS}] = true
		callers[c.To]++
		fanOut[c.From]++
	}
	if len(variants) != 4 {
		t.Errorf("variants %v: want http and tcp each with and without mTLS", variants)
	}
	if callers["store"] != 2 || fanOut["gateway"] != 3 {
		t.Errorf("callers %v, fan-out %v: want a join at store and a fan-out of 3 at gateway", callers, fanOut)
	}
	// It must not be the default topology's shape under other names.
	if len(top.Pods()) == len(DefaultTopology().Pods()) && len(top.Calls) == len(DefaultTopology().Calls) {
		t.Errorf("diamond %+v has the default topology's size", top)
	}
}

// predictTopology predicts top at rate with the embedded reference profile,
// from the graph as the file format round-trips it.
func predictTopology(t *testing.T, top Topology, rate float64) *predict.Report {
	t.Helper()
	data, err := callgraph.Marshal(top.Graph(rate), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := callgraph.Parse("graph.yaml", data)
	if err != nil {
		t.Fatalf("the written graph does not parse: %v\n%s", err, data)
	}
	r, err := callgraph.Resolve(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Assumptions) != 0 {
		t.Errorf("the graph leaves defaults to assume: %v", r.Assumptions)
	}
	prof, err := profile.Reference()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := predict.Run(predict.Input{Graph: r, Profile: prof, FanOut: predict.Parallel})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestDiamondGraphPredicts checks that the predictor sees the diamond as the
// relays run it: the store's edges at twice the entry rate, each proxy's
// rate the sum of the edges it serves, and the path the slowest of the
// parallel branches, the store's cost counted in each branch through it.
func TestDiamondGraphPredicts(t *testing.T) {
	const rate = 100
	top := DiamondTopology()
	rep := predictTopology(t, top, rate)
	b := rep.Baseline
	if len(b.Edges) != 6 || len(b.Proxies) != 6 || len(b.Paths) != 1 {
		t.Fatalf("prediction: %d edges, %d proxies, %d paths", len(b.Edges), len(b.Proxies), len(b.Paths))
	}
	for _, e := range b.Edges {
		if e.RequestsPerSecond != rate {
			t.Errorf("%s: %g req/s, want %d (each caller serves one request per entry request)", e.Name(), e.RequestsPerSecond, rate)
		}
	}
	want := map[string]float64{"client": 100, "gateway": 400, "users": 200, "catalog": 200, "search": 100, "store": 200}
	for _, p := range b.Proxies {
		if w := want[strings.TrimPrefix(p.Workload, Namespace+"/")]; p.RequestsPerSecondPerReplica != w {
			t.Errorf("%s: %g req/s through its proxy, want %g", p.Workload, p.RequestsPerSecondPerReplica, w)
		}
	}
	e := map[string]float64{}
	for _, er := range b.Edges {
		e[er.Name()] = er.LatencyP50Micros
	}
	n := func(a, b string) string { return Namespace + "/" + a + "->" + Namespace + "/" + b }
	path := e[n("client", "gateway")] + max(e[n("gateway", "users")]+e[n("users", "store")],
		e[n("gateway", "catalog")]+e[n("catalog", "store")], e[n("gateway", "search")])
	if got := b.Paths[0].LatencyP50Micros; math.Abs(got-path) > 1e-9 {
		t.Errorf("path p50 %.1f µs, want the parallel fan-out's %.1f", got, path)
	}
	if got := b.Paths[0].Calls; got != 6 {
		t.Errorf("%g calls per entry request, want 6", got)
	}
}

func TestGraphRatesFollowVisits(t *testing.T) {
	// e → a → {b, c}, b → c, c → d: c serves two requests per entry
	// request, so c → d runs at twice the entry rate.
	c := func(from, to string) Call { return Call{From: from, To: to, Protocol: "tcp"} }
	top := Topology{Entry: "e", Calls: []Call{c("e", "a"), c("a", "b"), c("a", "c"), c("b", "c"), c("c", "d")}}
	g := top.Graph(50)
	got := map[string]float64{}
	for _, e := range g.Edges {
		got[e.Name()] = *e.RequestsPerSecond
	}
	n := func(a, b string) string { return Namespace + "/" + a + "->" + Namespace + "/" + b }
	want := map[string]float64{n("e", "a"): 50, n("a", "b"): 50, n("a", "c"): 50, n("b", "c"): 50, n("c", "d"): 100}
	if !maps.Equal(got, want) {
		t.Errorf("edge rates %v, want %v", got, want)
	}
}
