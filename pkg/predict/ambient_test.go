package predict

import (
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// withWaypoint returns testProfile plus waypoint models equal to the
// sidecar's (parsing: base + 5·mTLS + 2 µs/KiB, CPU twice that), a tracing
// feature of 4 µs / 20 CPU-µs and a wasm filter of 7 µs / 30 CPU-µs.
func withWaypoint(t *testing.T) *profile.Profile {
	t.Helper()
	p := testProfile(t)
	for _, m := range p.Models {
		if m.Mode == dataplane.Sidecar {
			m.Mode = dataplane.Waypoint
			p.Models = append(p.Models, m)
		}
	}
	p.Features = []profile.Feature{
		{Name: "wasm", LatencyP50Micros: profile.Linear{Intercept: 7}, LatencyP99Micros: profile.Linear{Intercept: 7}, CPUMicrosPerRequest: profile.Linear{Intercept: 30}},
		{Name: "tracing", LatencyP50Micros: profile.Linear{Intercept: 4}, LatencyP99Micros: profile.Linear{Intercept: 4}, CPUMicrosPerRequest: profile.Linear{Intercept: 20}},
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func graphOf(nodes *int, waypoints []callgraph.Waypoint, workloads []callgraph.Workload, edges ...callgraph.Edge) *callgraph.Graph {
	return &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind, Nodes: nodes, Waypoints: waypoints, Workloads: workloads, Edges: edges}
}

// emptyHTTP is an HTTP edge of empty messages at 100 req/s.
func emptyHTTP(from, to string) callgraph.Edge {
	return callgraph.Edge{From: from, To: to, Protocol: dataplane.HTTP, RequestsPerSecond: ptr(100.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)}
}

func proxy(t *testing.T, sc *Scenario, kind ProxyKind, owner string) ProxyResult {
	t.Helper()
	for _, p := range sc.Proxies {
		if p.Kind == kind && p.Workload == owner {
			return p
		}
	}
	t.Fatalf("no %s proxy %s among %+v", kind, owner, sc.Proxies)
	return ProxyResult{}
}

// TestWaypointIsOnTheServerSideOnly: a waypoint bound to api's Service
// serves calls to api; api's own calls leave through its node's ztunnel
// (issue 17: the mode was applied in both directions).
func TestWaypointIsOnTheServerSideOnly(t *testing.T) {
	g := graphOf(nil, []callgraph.Waypoint{{Name: "wp", Namespace: "shop", Replicas: ptr(2)}}, []callgraph.Workload{
		{Name: "front", Namespace: "shop", Mode: dataplane.Ambient},
		{Name: "api", Namespace: "shop", Mode: dataplane.Ambient, Waypoint: "wp"},
		{Name: "store", Namespace: "shop", Mode: dataplane.Ambient}},
		emptyHTTP("front", "api"), emptyHTTP("api", "store"))
	sc, _ := run(t, g, withWaypoint(t))
	in, out := sc.Edges[0], sc.Edges[1]
	if in.ClientMode != dataplane.Ambient || in.ServerMode != dataplane.Waypoint || in.Waypoint != "shop/wp" {
		t.Errorf("front -> api = %s -> %s via %q, want ambient -> waypoint via shop/wp", in.ClientMode, in.ServerMode, in.Waypoint)
	}
	if out.ClientMode != dataplane.Ambient || out.ServerMode != dataplane.Ambient || out.Waypoint != "" {
		t.Errorf("api -> store = %s -> %s via %q, want ambient -> ambient without waypoint", out.ClientMode, out.ServerMode, out.Waypoint)
	}
	// front -> api: two ztunnel crossings (3 µs each way) and the waypoint's
	// two legs (http mTLS: 15 µs each way); api -> store: the ztunnels only.
	near(t, "front -> api p50", in.LatencyP50Micros, 2*2*3+2*2*15)
	near(t, "api -> store p50", out.LatencyP50Micros, 2*2*3)
	wp := proxy(t, sc, KindWaypoint, "shop/wp")
	if wp.Replicas != 2 {
		t.Errorf("waypoint replicas = %d, want the graph's 2", wp.Replicas)
	}
	near(t, "waypoint rate per replica (each request once)", wp.RequestsPerSecondPerReplica, 50)
}

// TestMixedSidecarAndAmbientCrossings: calls between sidecar and ambient
// workloads cross the client's outbound proxy and the server's inbound one,
// over HBONE (mTLS) both ways.
func TestMixedSidecarAndAmbientCrossings(t *testing.T) {
	g := graphOf(ptr(1), nil, []callgraph.Workload{
		{Name: "web", Mode: dataplane.Sidecar}, {Name: "cart", Mode: dataplane.Ambient}, {Name: "pay", Mode: dataplane.Sidecar}},
		emptyHTTP("web", "cart"), emptyHTTP("cart", "pay"))
	sc, _ := run(t, g, testProfile(t))
	// sidecar out (http mTLS 15 µs each way) + ztunnel in (3 µs each way).
	for i, want := range []struct {
		client, server dataplane.Mode
		p50            float64
	}{{dataplane.Sidecar, dataplane.Ambient, 2*15 + 2*3}, {dataplane.Ambient, dataplane.Sidecar, 2*3 + 2*15}} {
		e := sc.Edges[i]
		if e.ClientMode != want.client || e.ServerMode != want.server || !e.MTLS {
			t.Errorf("%s = %s -> %s mtls %v", e.Name(), e.ClientMode, e.ServerMode, e.MTLS)
		}
		near(t, e.Name()+" p50", e.LatencyP50Micros, want.p50)
	}
	if p := proxy(t, sc, KindZtunnel, ZtunnelOwner); p.Replicas != 1 {
		t.Errorf("ztunnel = %+v", p)
	}
	proxy(t, sc, KindSidecar, "default/web")
	proxy(t, sc, KindSidecar, "default/pay")
}

// TestZtunnelsCountedPerNode: one ztunnel per node carries every ambient
// workload's crossings, and its memory per node is in the totals (issue
// 14 item 8).
func TestZtunnelsCountedPerNode(t *testing.T) {
	ref := reference(t)
	workloads := []callgraph.Workload{{Name: "a", Mode: dataplane.Ambient, Replicas: ptr(3)}, {Name: "b", Mode: dataplane.Ambient}}
	sc, notes := run(t, graphOf(ptr(4), nil, workloads, emptyHTTP("a", "b")), ref)
	z := proxy(t, sc, KindZtunnel, ZtunnelOwner)
	if z.Replicas != 4 || len(sc.Proxies) != 1 {
		t.Errorf("proxies = %+v, want one ztunnel per node (4)", sc.Proxies)
	}
	near(t, "ztunnel memory", z.MemoryMiB, 4*12)
	near(t, "total memory", sc.Totals.MemoryMiB, 4*12)
	near(t, "rate per ztunnel", z.RequestsPerSecondPerReplica, 2*100/4.0) // two crossings per call
	near(t, "ztunnel cpu", z.CPUMillicores, sc.Totals.CPUMillicores)
	if diag.Has(notes, diag.ProxyMemoryUnknown, "") {
		t.Errorf("ztunnel memory reported missing: %v", notes)
	}

	// Without nodes: as many as the largest workload has replicas, said so.
	sc, notes = run(t, graphOf(nil, nil, workloads, emptyHTTP("a", "b")), ref)
	near(t, "default ztunnel memory", sc.Totals.MemoryMiB, 3*12)
	if !diag.Has(notes, diag.DefaultUsed, "ztunnel") {
		t.Errorf("the default node count is not reported: %v", notes)
	}
}

// TestWhatIfAmbientShowsZtunnelMemory is issue 14 item 8: moving sidecars
// to ambient trades their memory for one ztunnel per node, not for nothing.
func TestWhatIfAmbientShowsZtunnelMemory(t *testing.T) {
	g := graphOf(ptr(3), nil, []callgraph.Workload{{Name: "a", Replicas: ptr(2)}, {Name: "b"}}, emptyHTTP("a", "b"))
	r := resolved(t, g)
	ref := reference(t)
	report, err := Run(Input{Graph: r, Profile: ref, WhatIf: []WhatIf{mustWhatIf(t, "mode=ambient")}})
	if err != nil {
		t.Fatal(err)
	}
	// Each sidecar sees both workloads' Services (the default): 2 clusters
	// and 3 endpoints at the reference's Envoy bounds over its 14.2 MiB base.
	perSidecar := (62914560.0 - 1000*42000 - 2000*3000 + 2*42000 + 3*3000) / (1 << 20)
	near(t, "baseline memory (3 sidecars)", report.Baseline.Totals.MemoryMiB, 3*perSidecar)
	near(t, "ambient memory (3 nodes' ztunnels)", report.Variant.Totals.MemoryMiB, 3*12)
}

// TestMeasuredProfileBorrowsAmbientModels is issue 13 item 1: a measured
// profile without ztunnel (or waypoint) models predicts with the reference
// profile's, scaled by the ratio of its sidecar models to the reference's,
// and says so; it never predicts zero for a proxy that exists.
func TestMeasuredProfileBorrowsAmbientModels(t *testing.T) {
	measured := testProfile(t)
	var kept []profile.Model
	for _, m := range measured.Models {
		if m.Mode == dataplane.Sidecar {
			kept = append(kept, m)
		}
	}
	measured.Models = kept
	ref := reference(t)
	g := graphOf(ptr(1), nil, []callgraph.Workload{{Name: "a", Mode: dataplane.Ambient}, {Name: "b", Mode: dataplane.Ambient, Waypoint: "wp"}},
		callgraph.Edge{From: "a", To: "b", Protocol: dataplane.HTTP, RequestsPerSecond: ptr(1000.0), RequestBytes: ptr(1024.0), ResponseBytes: ptr(1024.0)})
	got, notes := run(t, g, measured)
	want, _ := run(t, g, ref)

	// The rule, worked out here from the models: Σ measured ÷ Σ reference
	// sidecar latency p50 at 1 KiB, over the tcp keys for the ztunnels and
	// the L7 keys for the waypoint.
	ratio := func(l7 bool) float64 {
		idx := profile.NewIndex(ref)
		var mine, theirs float64
		for _, m := range measured.Models {
			if m.Protocol.L7() == l7 && idx.Has(m.Key) {
				mine += m.LatencyP50Micros.At(1024)
			}
		}
		for _, m := range ref.Models {
			if m.Mode == dataplane.Sidecar && m.Protocol.L7() == l7 && profile.NewIndex(measured).Has(m.Key) {
				theirs += m.LatencyP50Micros.At(1024)
			}
		}
		return mine / theirs
	}
	var refZtunnel, refWaypoint float64
	for _, side := range []profile.Side{profile.Outbound, profile.Inbound} {
		for _, dir := range []profile.Direction{profile.Request, profile.Response} {
			for _, m := range profile.NewIndex(ref).Models(profile.Key{Mode: dataplane.Ambient, Protocol: dataplane.TCP, MTLS: true, Side: side, Direction: dir}) {
				refZtunnel += m.LatencyP50Micros.At(1024)
			}
			for _, m := range profile.NewIndex(ref).Models(profile.Key{Mode: dataplane.Waypoint, Protocol: dataplane.HTTP, MTLS: true, Side: side, Direction: dir}) {
				refWaypoint += m.LatencyP50Micros.At(1024)
			}
		}
	}
	near(t, "reference p50 (ztunnels + waypoint)", want.Edges[0].LatencyP50Micros, refZtunnel+refWaypoint)
	near(t, "borrowed p50", got.Edges[0].LatencyP50Micros, ratio(false)*refZtunnel+ratio(true)*refWaypoint)
	if !(got.Edges[0].CPUMillicores > 0) {
		t.Errorf("borrowed models predict no CPU: %+v", got.Edges[0])
	}
	for _, kind := range []string{"ztunnel proxy", "waypoint proxy"} {
		found := false
		for _, n := range notes {
			found = found || n.Code == diag.ProfileFallback && n.Subject == kind && strings.Contains(n.Message, "reference profile") &&
				strings.Contains(n.Message, "scaled by")
		}
		if !found {
			t.Errorf("no note says the %s models are the reference's, scaled: %v", kind, notes)
		}
	}

	// Nothing to scale by: an error that names the missing models.
	onlyWaypoint := withWaypoint(t)
	kept = nil
	for _, m := range onlyWaypoint.Models {
		if m.Mode == dataplane.Waypoint {
			kept = append(kept, m)
		}
	}
	onlyWaypoint.Models = kept
	r := resolved(t, g)
	var n diag.List
	if _, err := Predict(r, onlyWaypoint, Options{}, &n); err == nil || !strings.Contains(err.Error(), "no ambient (ztunnel) models") {
		t.Errorf("err = %v, want one naming the missing ambient (ztunnel) models", err)
	}
}

// TestWaypointChargesFeaturesOnce is issue 13 item 4: mirroring at the one
// L7 proxy that routes the call, filters and tracing once at the waypoint,
// not on each of its legs.
func TestWaypointChargesFeaturesOnce(t *testing.T) {
	p := withWaypoint(t)
	e := emptyHTTP("client", "server")
	e.Filters = []string{"wasm"}
	e.TracingSamplingPercent = ptr(50.0)
	e.MirrorPercent = ptr(50.0)
	for _, c := range []struct {
		name     string
		client   dataplane.Mode
		p50, cpu float64 // latency in µs; CPU in CPU-µs per request
	}{
		// ztunnel out 6 µs/12; waypoint in 30/60 + wasm 7/30 + tracing ½·(4/20);
		// waypoint out 30 µs, 60 × (1 + ½ mirrored); ztunnel in 6/12.
		{"ambient client: the waypoint routes", dataplane.Ambient, 6 + 30 + 7 + 2 + 30 + 6, 12 + 60 + 30 + 10 + 90 + 12},
		// sidecar out 30 µs, 60 × 1.5 mirrored + tracing 2/10; waypoint in
		// 30/60 + wasm + tracing; waypoint out 30/60; ztunnel in 6/12.
		{"sidecar client: its sidecar routes", dataplane.Sidecar, 30 + 2 + 30 + 7 + 2 + 30 + 6, 90 + 10 + 60 + 30 + 10 + 60 + 12},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := graphOf(ptr(1), nil, []callgraph.Workload{{Name: "client", Mode: c.client}, {Name: "server", Mode: dataplane.Ambient, Waypoint: "wp"}}, e)
			sc, _ := run(t, g, p)
			near(t, "p50", sc.Edges[0].LatencyP50Micros, c.p50)
			near(t, "cpu", sc.Edges[0].CPUMillicores, 100*c.cpu/1000)
		})
	}
}

// TestEdgeWaypointOverridesAndUnmeshedClients: an edge names its own
// waypoint or none; a client without a proxy never reaches a waypoint.
func TestEdgeWaypointOverridesAndUnmeshedClients(t *testing.T) {
	other, none, plain := emptyHTTP("a", "s"), emptyHTTP("b", "s"), emptyHTTP("c", "s")
	other.Waypoint, none.Waypoint = "ops/admin-wp", callgraph.NoWaypoint
	g := graphOf(ptr(1), nil, []callgraph.Workload{{Name: "a", Mode: dataplane.Ambient}, {Name: "b", Mode: dataplane.Sidecar},
		{Name: "c", Mode: dataplane.None}, {Name: "s", Mode: dataplane.Waypoint}}, other, none, plain)
	sc, notes := run(t, g, withWaypoint(t))
	for i, want := range []string{"ops/admin-wp", "", ""} {
		if got := sc.Edges[i].Waypoint; got != want {
			t.Errorf("%s crosses waypoint %q, want %q", sc.Edges[i].Name(), got, want)
		}
	}
	r := resolved(t, g)
	if !diag.Has(r.Assumptions, diag.DefaultUsed, "default/s") || !diag.Has(notes, diag.DefaultUsed, "ops/admin-wp") {
		t.Errorf("the default waypoint and replicas are not reported: %v %v", r.Assumptions, notes)
	}

	// mode=ambient takes every waypoint away, mode=waypoint gives one back.
	var n diag.List
	v := Apply(r, []WhatIf{mustWhatIf(t, "mode=ambient,workload=s")}, &n)
	if wp := v.EdgeWaypoint(&v.Edges[0]); wp != "" {
		t.Errorf("after mode=ambient the call still crosses %q", wp)
	}
	v = Apply(r, []WhatIf{mustWhatIf(t, "mode=waypoint,workload=a")}, &n)
	if v.Workloads[0].WaypointID != "default/waypoint" || v.Workloads[0].Outbound != dataplane.Ambient {
		t.Errorf("mode=waypoint: %+v", v.Workloads[0])
	}
}
