package predict

import (
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// TestEdgeHandComputed checks one edge per protocol, mTLS on and off, against
// figures worked out by hand from testProfile.
func TestEdgeHandComputed(t *testing.T) {
	const rps, reqBytes, respBytes = 200.0, 1024.0, 3072.0 // 1 KiB and 3 KiB
	for _, proto := range dataplane.Protocols {
		for _, mtls := range []bool{false, true} {
			t.Run(string(proto)+map[bool]string{true: "/mtls", false: "/plaintext"}[mtls], func(t *testing.T) {
				base := protoBase[proto]
				extra := 0.0
				if mtls {
					extra = 5
				}
				// Per side: request (1 KiB) + response (3 KiB); two sides.
				wantP50 := 2 * ((base + extra + 2*1) + (base + extra + 2*3))
				wantP99 := 2 * wantP50
				cpuPerRequest := 2 * ((2*base + 2*extra + 4*1) + (2*base + 2*extra + 4*3)) // CPU-µs
				wantMillicores := rps * cpuPerRequest / 1000                               // µs/s → millicores
				g := twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, callgraph.Edge{
					Protocol: dataplane.Protocol(proto), MTLS: ptr(mtls), RequestsPerSecond: ptr(rps),
					RequestBytes: ptr(reqBytes), ResponseBytes: ptr(respBytes)})
				sc, notes := run(t, g, testProfile(t))
				e := sc.Edges[0]
				near(t, "p50", e.LatencyP50Micros, wantP50)
				near(t, "p99", e.LatencyP99Micros, wantP99)
				near(t, "cpu", e.CPUMillicores, wantMillicores)
				if e.TopComponent != string(profile.Parsing) || e.MTLS != mtls || e.Protocol != proto {
					t.Errorf("edge = %+v", e)
				}
				// Both proxies carry half the CPU each.
				if len(sc.Proxies) != 2 {
					t.Fatalf("proxies = %+v", sc.Proxies)
				}
				for _, p := range sc.Proxies {
					near(t, p.Workload+" cpu", p.CPUMillicores, wantMillicores/2)
					near(t, p.Workload+" rps", p.RequestsPerSecondPerReplica, rps)
				}
				near(t, "total cpu", sc.Totals.CPUMillicores, wantMillicores)
				for _, n := range notes {
					if n.Code == diag.ProfileFallback {
						t.Errorf("unexpected fallback: %v", n)
					}
				}
			})
		}
	}
}

func TestMillicoresFromRate(t *testing.T) {
	for _, c := range []struct{ rps, cpuMicros, want float64 }{
		{1000, 1000, 1000}, // 1000 req/s × 1 ms of CPU = 1 core = 1000m
		{1, 1, 0.001},
		{100, 400, 40}, // a sidecar pair at 100 req/s and 400 CPU-µs per request
		{0, 500, 0},
	} {
		near(t, "millicores", MillicoresFromRate(c.rps, c.cpuMicros), c.want)
	}
}

func TestModesAndUnmeshedSides(t *testing.T) {
	e := callgraph.Edge{Protocol: dataplane.HTTP, RequestsPerSecond: ptr(100.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)}
	p := testProfile(t)
	cases := []struct {
		client, server dataplane.Mode
		wantP50        float64
		wantMTLS       bool
	}{
		{dataplane.Sidecar, dataplane.Sidecar, 2 * 2 * (10 + 5), true}, // auto mTLS
		{dataplane.Sidecar, dataplane.None, 2 * 10, false},             // outbound only, plaintext
		{dataplane.None, dataplane.Sidecar, 2 * 10, false},
		{dataplane.None, dataplane.None, 0, false},
		{dataplane.Ambient, dataplane.Ambient, 2 * 2 * 3, true}, // ztunnel is tcp-only: 3 µs per direction
	}
	for _, c := range cases {
		sc, _ := run(t, twoWorkloads(c.client, c.server, e), p)
		got := sc.Edges[0]
		near(t, string(c.client)+"->"+string(c.server)+" p50", got.LatencyP50Micros, c.wantP50)
		if got.MTLS != c.wantMTLS {
			t.Errorf("%s->%s mtls = %v, want %v", c.client, c.server, got.MTLS, c.wantMTLS)
		}
	}
}

func TestMTLSImpossibleIsReported(t *testing.T) {
	g := twoWorkloads(dataplane.Sidecar, dataplane.None, callgraph.Edge{MTLS: ptr(true)})
	sc, notes := run(t, g, testProfile(t))
	if sc.Edges[0].MTLS {
		t.Error("mTLS on with an unmeshed server")
	}
	if !diag.Has(notes, diag.MTLSImpossible, "") {
		t.Errorf("no %s in %v", diag.MTLSImpossible, notes)
	}
}

func TestRetriesAndMirrorMultiplyCPU(t *testing.T) {
	p := testProfile(t)
	plain := plainEdge("", "", 100, 0, 0)
	base, _ := run(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, plain), p)

	retried := plain
	retried.Retries = &callgraph.Retries{Attempts: 2, FailureRate: ptr(0.5)} // 1 + 0.5 + 0.25 tries
	sc, _ := run(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, retried), p)
	near(t, "retried cpu", sc.Edges[0].CPUMillicores, base.Edges[0].CPUMillicores*1.75)
	near(t, "retried p50", sc.Edges[0].LatencyP50Micros, base.Edges[0].LatencyP50Micros*1.75)

	mirrored := plain
	mirrored.MirrorPercent = ptr(50.0) // half the requests also leave the client's proxy again
	sc, _ = run(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, mirrored), p)
	near(t, "mirrored cpu", sc.Edges[0].CPUMillicores, base.Edges[0].CPUMillicores*(1+0.5*0.5))
	near(t, "mirrored p50", sc.Edges[0].LatencyP50Micros, base.Edges[0].LatencyP50Micros)
}

func TestRateFactorScalesCPUNotLatency(t *testing.T) {
	p := testProfile(t)
	p.RateFactors = []profile.RateCurve{{Mode: "sidecar", Points: []profile.RatePoint{{RequestsPerSecond: 100, Factor: 1}, {RequestsPerSecond: 300, Factor: 0.5}}}}
	e := plainEdge("", "", 200, 0, 0) // halfway: factor 0.75
	sc, _ := run(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, e), p)
	wantCPU := 200 * (2 * 2 * 20) / 1000.0 * 0.75
	near(t, "cpu at 200 rps", sc.Edges[0].CPUMillicores, wantCPU)
	near(t, "p50 at 200 rps", sc.Edges[0].LatencyP50Micros, 2*2*10)

	// Two replicas halve the per-replica rate: factor back to 1.
	g := twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, e)
	g.Workloads[0].Replicas, g.Workloads[1].Replicas = ptr(2), ptr(2)
	sc, _ = run(t, g, p)
	near(t, "cpu with 2 replicas", sc.Edges[0].CPUMillicores, 200*(2*2*20)/1000.0)
}

func TestLatencyRateFactorScalesP50Only(t *testing.T) {
	p := testProfile(t)
	p.LatencyRateFactors = []profile.RateCurve{{Mode: "sidecar", Points: []profile.RatePoint{{RequestsPerSecond: 100, Factor: 1}, {RequestsPerSecond: 300, Factor: 0.6}}}}
	e := plainEdge("", "", 200, 0, 0) // halfway: factor 0.8
	sc, _ := run(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, e), p)
	near(t, "p50 at 200 rps", sc.Edges[0].LatencyP50Micros, 2*2*10*0.8)
	near(t, "p99 at 200 rps", sc.Edges[0].LatencyP99Micros, 2*2*20)
	near(t, "cpu at 200 rps", sc.Edges[0].CPUMillicores, 200*(2*2*20)/1000.0)

	// The factor follows each proxy's own rate: two server replicas put the
	// server's sidecar at 100 rps (factor 1), the client's stays at 0.8.
	g := twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, e)
	g.Workloads[1].Replicas = ptr(2)
	sc, _ = run(t, g, p)
	near(t, "p50 with 2 server replicas", sc.Edges[0].LatencyP50Micros, 2*10*0.8+2*10*1)
}

func TestProfileFallbackIsReported(t *testing.T) {
	p := testProfile(t)
	var kept []profile.Model
	for _, m := range p.Models {
		if m.Protocol != "grpc" {
			kept = append(kept, m)
		}
	}
	p.Models = kept
	g := twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, callgraph.Edge{Protocol: dataplane.GRPC, MTLS: ptr(false), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)})
	sc, notes := run(t, g, p)
	near(t, "grpc falls back to http2", sc.Edges[0].LatencyP50Micros, 2*2*protoBase["http2"])
	if !diag.Has(notes, diag.ProfileFallback, "") {
		t.Errorf("no fallback note in %v", notes)
	}
}

func TestFeaturesAtServerProxy(t *testing.T) {
	p := testProfile(t)
	p.Features = []profile.Feature{{Name: "wasm", LatencyP50Micros: profile.Linear{Intercept: 7}, LatencyP99Micros: profile.Linear{Intercept: 9}, CPUMicrosPerRequest: profile.Linear{Intercept: 30}}}
	e := plainEdge("", "", 100, 0, 0)
	e.Filters = []string{"wasm", "lua"}
	sc, notes := run(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, e), p)
	near(t, "p50 with wasm", sc.Edges[0].LatencyP50Micros, 2*2*10+7)
	near(t, "cpu with wasm", sc.Edges[0].CPUMillicores, 100*(2*2*20+30)/1000.0)
	if !diag.Has(notes, diag.FeatureNotProfiled, "") {
		t.Errorf("lua has no cost but was not reported: %v", notes)
	}
	_, notes = run(t, twoWorkloads(dataplane.Sidecar, dataplane.Ambient, e), p)
	if !diag.Has(notes, diag.L7FeatureWithoutProxy, "") {
		t.Errorf("filters on an ambient server without waypoint not reported: %v", notes)
	}
}

func TestSpeedupsDivideComponents(t *testing.T) {
	p := testProfile(t)
	r := resolved(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, callgraph.Edge{MTLS: ptr(false), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)}))
	var notes diag.List
	sc, err := Predict(r, p, Options{Speedups: map[profile.Component]float64{profile.Parsing: 4}}, &notes)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "p50 with parsing 4x faster", sc.Edges[0].LatencyP50Micros, 2*2*10/4.0)
	if _, err := Predict(r, p, Options{Speedups: map[profile.Component]float64{profile.Parsing: 0}}, &notes); err == nil {
		t.Error("zero speed-up accepted")
	}
}

func TestReferenceProfileReproducesPublishedFigures(t *testing.T) {
	ref := reference(t)
	// Istio 1.20: sidecar pair, 1 KB, 1k rps, mTLS, HTTP/1.1: +0.228 ms p90 (our p50,
	// assumption A3) and +0.298 ms p99; Istio 1.24: 0.20 vCPU per sidecar at 1k rps.
	e := callgraph.Edge{Protocol: dataplane.HTTP, MTLS: ptr(true), RequestsPerSecond: ptr(1000.0), RequestBytes: ptr(1024.0), ResponseBytes: ptr(1024.0)}
	// 60 MB per sidecar of Istio's load-test mesh: 1000 Services of one port
	// and 2000 pods (assumption A7), with two worker threads.
	g := twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, e)
	for i := range g.Workloads {
		g.Workloads[i].ProxyConfig = &callgraph.ProxyConfig{Services: 1000, Clusters: 1000, Endpoints: 2000}
		g.Workloads[i].ProxyConcurrency = ptr(2)
	}
	sc, _ := run(t, g, ref)
	near(t, "p50", sc.Edges[0].LatencyP50Micros, 228)
	near(t, "p99", sc.Edges[0].LatencyP99Micros, 298)
	for _, p := range sc.Proxies {
		near(t, p.Workload+" millicores", p.CPUMillicores, 200)
		near(t, p.Workload+" memory", p.MemoryMiB, 60)
	}
	// Istio 1.22: two ztunnels +0.17 ms p90.
	sc, _ = run(t, twoWorkloads(dataplane.Ambient, dataplane.Ambient, e), ref)
	near(t, "ambient p50", sc.Edges[0].LatencyP50Micros, 170)
	near(t, "ambient millicores", sc.Edges[0].CPUMillicores, 2*60)
}

// ingressP50 is what the requests from outside add at an entry's inbound
// sidecar with the test profile: http plaintext at the default sizes,
// (10 + 2×0.5) + (10 + 2×1) µs.
const ingressP50 = 23

func TestPathsFanOut(t *testing.T) {
	// a calls b and c once per request each; b calls d. Latencies come from the
	// test profile: every http plaintext edge with empty messages adds 40 µs.
	g := &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
		Workloads: []callgraph.Workload{{Name: "a", Mode: "sidecar", RequestsPerSecond: ptr(10.0)}, {Name: "b", Mode: "sidecar"}, {Name: "c", Mode: "sidecar"}, {Name: "d", Mode: "sidecar"}}}
	for _, ft := range [][2]string{{"a", "b"}, {"a", "c"}, {"b", "d"}} {
		g.Edges = append(g.Edges, callgraph.Edge{From: ft[0], To: ft[1], Protocol: dataplane.HTTP, MTLS: ptr(false), RequestsPerSecond: ptr(10.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)})
	}
	r := resolved(t, g)
	for _, c := range []struct {
		fan  FanOut
		want float64
	}{{Sequential, 3*40 + ingressP50}, {Parallel, 2*40 + ingressP50}} {
		var notes diag.List
		sc, err := Predict(r, testProfile(t), Options{FanOut: c.fan}, &notes)
		if err != nil {
			t.Fatal(err)
		}
		if len(sc.Paths) != 1 {
			t.Fatalf("paths = %+v", sc.Paths)
		}
		near(t, string(c.fan), sc.Paths[0].LatencyP50Micros, c.want)
		if got := strings.Join(sc.Paths[0].CriticalPath, " "); got != "default/a default/b default/d" {
			t.Errorf("%s critical path = %s", c.fan, got)
		}
	}
}

func TestPathsLoadBalancedAlternativesAverage(t *testing.T) {
	// a serves 90 req/s and spreads them over b (60) and c (30): one call per request.
	g := &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
		Workloads: []callgraph.Workload{{Name: "a", Mode: "sidecar", RequestsPerSecond: ptr(90.0)}, {Name: "b", Mode: "sidecar"}, {Name: "c", Mode: "none"}},
		Edges: []callgraph.Edge{
			{From: "a", To: "b", Protocol: dataplane.HTTP, MTLS: ptr(false), RequestsPerSecond: ptr(60.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)},
			{From: "a", To: "c", Protocol: dataplane.HTTP, RequestsPerSecond: ptr(30.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)},
		}}
	r := resolved(t, g)
	var notes diag.List
	sc, err := Predict(r, testProfile(t), Options{}, &notes)
	if err != nil {
		t.Fatal(err)
	}
	// 2/3 × 40 µs (both sidecars) + 1/3 × 20 µs (client sidecar only),
	// after a's inbound sidecar.
	near(t, "p50", sc.Paths[0].LatencyP50Micros, ingressP50+2.0/3*40+1.0/3*20)
	near(t, "calls", sc.Paths[0].Calls, 1)
}

func TestCycleIsCutAndReported(t *testing.T) {
	g := &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
		Workloads: []callgraph.Workload{{Name: "a", Mode: "sidecar", Entry: true}, {Name: "b", Mode: "sidecar"}},
		Edges: []callgraph.Edge{
			{From: "a", To: "b", MTLS: ptr(false), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)},
			{From: "b", To: "a", MTLS: ptr(false), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)},
		}}
	sc, notes := run(t, g, testProfile(t))
	if !diag.Has(notes, diag.CycleInGraph, "") {
		t.Errorf("cycle not reported: %v", notes)
	}
	near(t, "p50", sc.Paths[0].LatencyP50Micros, 2*40)
}

func TestAmbientIsAlwaysMTLS(t *testing.T) {
	e := callgraph.Edge{MTLS: ptr(false), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)}
	for _, modes := range [][2]dataplane.Mode{{dataplane.Ambient, dataplane.Ambient}, {dataplane.Sidecar, dataplane.Waypoint}} {
		sc, notes := run(t, twoWorkloads(modes[0], modes[1], e), testProfile(t))
		if !sc.Edges[0].MTLS || !diag.Has(notes, diag.AmbientAlwaysMTLS, "") {
			t.Errorf("%v: mtls %v, notes %v", modes, sc.Edges[0].MTLS, notes)
		}
	}
	sc, notes := run(t, twoWorkloads(dataplane.Sidecar, dataplane.Sidecar, e), testProfile(t))
	if sc.Edges[0].MTLS || diag.Has(notes, diag.AmbientAlwaysMTLS, "") {
		t.Errorf("sidecar pair with mtls: false: %v %v", sc.Edges[0].MTLS, notes)
	}
}

// scaled returns a copy of p named name with every latency and CPU term
// multiplied by f.
func scaled(p *profile.Profile, name string, f float64) *profile.Profile {
	c := *p
	c.Metadata.Name = name
	c.Models = make([]profile.Model, len(p.Models))
	for i, m := range p.Models {
		for _, l := range []*profile.Linear{&m.LatencyP50Micros, &m.LatencyP99Micros, &m.CPUMicrosPerRequest} {
			l.Intercept *= f
			l.PerKiB *= f
		}
		c.Models[i] = m
	}
	return &c
}

func TestNodeTypeProfilesApplyPerWorkload(t *testing.T) {
	base := testProfile(t)
	big := scaled(base, "measured-on-big", 3)
	g := twoWorkloads(dataplane.Sidecar, dataplane.Sidecar,
		callgraph.Edge{MTLS: ptr(false), Protocol: "http", RequestsPerSecond: ptr(100.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)})
	g.Workloads[0].NodeType = "big"   // client's sidecar: the big profile
	g.Workloads[1].NodeType = "other" // server's: no profile for it, default
	r := resolved(t, g)
	var plain, typed diag.List
	want, err := Predict(r, base, Options{}, &plain)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Predict(r, base, Options{NodeProfiles: map[string]*profile.Profile{"big": big}}, &typed)
	if err != nil {
		t.Fatal(err)
	}
	// Symmetric test profile: each side contributes half; the client's
	// half is tripled, so the edge costs (1/2·3 + 1/2) = 2× the default.
	near(t, "p50", got.Edges[0].LatencyP50Micros, 2*want.Edges[0].LatencyP50Micros)
	near(t, "cpu", got.Edges[0].CPUMillicores, 2*want.Edges[0].CPUMillicores)
	var cpu = map[string]float64{}
	for _, p := range got.Proxies {
		cpu[p.Workload] = p.CPUMillicores
	}
	near(t, "client proxy cpu", cpu["default/client"], 3*cpu["default/server"])
	var used, missing bool
	for _, m := range typed.Sorted() {
		if m.Code != diag.NodeTypeProfile {
			continue
		}
		used = used || strings.Contains(m.Message, `"measured-on-big"`) && strings.Contains(m.Message, "default/client")
		missing = missing || strings.Contains(m.Message, "no profile for node type other") && strings.Contains(m.Message, "default/server")
	}
	if !used || !missing {
		t.Errorf("notes do not say which profile each node type used: %v", typed.Sorted())
	}
}
