package predict

import (
	"math"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/traces"
)

// protoBase gives each protocol a distinct intercept so that a wrong lookup shows.
var protoBase = map[dataplane.Protocol]float64{dataplane.TCP: 4, dataplane.HTTP: 10, dataplane.HTTP2: 12, dataplane.GRPC: 14}

// testProfile has one component (parsing) per sidecar traversal:
// latency p50 = base + 5·mTLS + 2 µs/KiB, p99 = 2×p50,
// CPU = 2×base + 10·mTLS + 4 µs/KiB per request; and a ztunnel (tcp only) with a
// flat 3 µs / 6 CPU-µs.
func testProfile(t testing.TB) *profile.Profile {
	t.Helper()
	p := &profile.Profile{APIVersion: profile.APIVersion, Kind: profile.Kind, Metadata: profile.Metadata{Name: "test"}}
	for proto, base := range protoBase {
		for _, mtls := range []bool{false, true} {
			extra := 0.0
			if mtls {
				extra = 5
			}
			for _, side := range []profile.Side{profile.Outbound, profile.Inbound} {
				for _, dir := range []profile.Direction{profile.Request, profile.Response} {
					k := profile.Key{Mode: "sidecar", Protocol: proto, MTLS: mtls, Side: side, Direction: dir}
					p.Models = append(p.Models, profile.Model{Key: k, Component: profile.Parsing,
						LatencyP50Micros:    profile.Linear{Intercept: base + extra, PerKiB: 2},
						LatencyP99Micros:    profile.Linear{Intercept: 2 * (base + extra), PerKiB: 4},
						CPUMicrosPerRequest: profile.Linear{Intercept: 2*base + 2*extra, PerKiB: 4}})
					if proto == "tcp" {
						k.Mode = "ambient"
						p.Models = append(p.Models, profile.Model{Key: k, Component: profile.SocketWrite,
							LatencyP50Micros: profile.Linear{Intercept: 3}, LatencyP99Micros: profile.Linear{Intercept: 3},
							CPUMicrosPerRequest: profile.Linear{Intercept: 6}})
					}
				}
			}
		}
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// twoWorkloads is a graph of one edge e from "client" to "server".
func twoWorkloads(clientMode, serverMode dataplane.Mode, e callgraph.Edge) *callgraph.Graph {
	e.From, e.To = "client", "server"
	return &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
		Workloads: []callgraph.Workload{{Name: "client", Mode: clientMode}, {Name: "server", Mode: serverMode}},
		Edges:     []callgraph.Edge{e}}
}

// run predicts g with p and no options, failing the test on any error.
func run(t *testing.T, g *callgraph.Graph, p *profile.Profile) (*Scenario, []diag.Message) {
	t.Helper()
	var notes diag.List
	sc, err := Predict(resolved(t, g), p, Options{}, &notes)
	if err != nil {
		t.Fatal(err)
	}
	return sc, notes.Sorted()
}

// near fails the test if got is not approximately want.
func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if !approx(got, want) {
		t.Errorf("%s = %.6g, want %.6g", what, got, want)
	}
}

// resolved resolves g, failing the test if it is invalid.
func resolved(t *testing.T, g *callgraph.Graph) *callgraph.Resolved {
	t.Helper()
	r, err := callgraph.Resolve(g)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mustWhatIf parses s, failing the test if it is invalid.
func mustWhatIf(t *testing.T, s string) WhatIf {
	t.Helper()
	w, err := ParseWhatIf(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// reference is the embedded reference profile.
func reference(t *testing.T) *profile.Profile {
	t.Helper()
	p, err := profile.Reference()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// readSet reads the trace set at path.
func readSet(t *testing.T, path string) *traces.Set {
	t.Helper()
	set, err := traces.ReadPath(path)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// approx reports whether a is within a relative 1e-9 of b.
func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// plainEdge is an http plaintext edge between sidecars; with the test
// profile it adds 40 µs + 4 µs per KiB of request and of response, per call.
func plainEdge(from, to string, rps, reqBytes, respBytes float64) callgraph.Edge {
	return callgraph.Edge{From: from, To: to, Protocol: dataplane.HTTP, MTLS: ptr(false), RequestsPerSecond: ptr(rps),
		RequestBytes: ptr(reqBytes), ResponseBytes: ptr(respBytes)}
}
