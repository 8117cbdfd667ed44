package predict

import (
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// memoryModel is a round model for the tests: 10 MiB + 1 MiB per cluster
// + 0.5 MiB per endpoint + 2 MiB per worker thread.
var memoryModel = profile.MemoryModel{BaseBytes: 10 * profile.MiB, PerClusterBytes: profile.MiB, PerEndpointBytes: profile.MiB / 2,
	PerWorkerThreadBytes: 2 * profile.MiB}

func withMemory(t *testing.T, p *profile.Profile, m profile.MemoryModel) *profile.Profile {
	t.Helper()
	p.Proxies = []profile.ProxyCost{{Mode: dataplane.Sidecar, MemoryMiB: 99, Memory: &m}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// scopeGraph: shop/web calls shop/api (through Service api), api calls
// data/db (mode none); ops/job calls nothing. Every sidecar sees every
// Service (their footprints sum to 7 clusters and 12 endpoints).
func scopeGraph() *callgraph.Graph {
	all := &callgraph.ProxyConfig{Services: 5, Clusters: 7, Endpoints: 12}
	return &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
		Workloads: []callgraph.Workload{
			{Name: "web", Namespace: "shop", Replicas: ptr(2), ProxyConfig: all, ProxyConcurrency: ptr(1)},
			{Name: "api", Namespace: "shop", ProxyConfig: all, ProxyConcurrency: ptr(1)},
			{Name: "db", Namespace: "data", Mode: dataplane.None},
			{Name: "job", Namespace: "ops", ProxyConfig: all, ProxyConcurrency: ptr(1)},
		},
		Edges: []callgraph.Edge{
			{From: "shop/web", To: "shop/api", Service: "api"},
			{From: "shop/api", To: "data/db"},
		},
		Services: []callgraph.Service{
			{Name: "web", Namespace: "shop", Workloads: []string{"web"}, Clusters: 1, Endpoints: 2},
			{Name: "api", Namespace: "shop", Workloads: []string{"api"}, Clusters: 2, Endpoints: 2},
			{Name: "db", Namespace: "data", Workloads: []string{"db"}, Clusters: 1, Endpoints: 1},
			{Name: "job", Namespace: "ops", Workloads: []string{"job"}, Clusters: 1, Endpoints: 1},
			{Name: "istiod", Namespace: "istio-system", Clusters: 2, Endpoints: 6},
		},
	}
}

func TestScopeWhatIfs(t *testing.T) {
	p := withMemory(t, testProfile(t), memoryModel)
	mib := func(c, e int) float64 { return 10 + float64(c) + float64(e)/2 + 2 }
	cases := []struct {
		whatIf string
		// clusters and endpoints per sidecar workload in the variant.
		want map[string][2]int
	}{
		// Observed: web calls Service api, api calls db (its Service, by
		// selector), job calls nothing.
		{"scope=observed", map[string][2]int{"shop/web": {2, 2}, "shop/api": {1, 1}, "ops/job": {0, 0}}},
		// Namespace: shop's two Services and istio-system's, or ops's one.
		{"scope=namespace", map[string][2]int{"shop/web": {5, 10}, "shop/api": {5, 10}, "ops/job": {3, 7}}},
		// Only the selected workload changes.
		{"scope=observed,workload=shop/web", map[string][2]int{"shop/web": {2, 2}, "shop/api": {7, 12}, "ops/job": {7, 12}}},
	}
	for _, c := range cases {
		t.Run(c.whatIf, func(t *testing.T) {
			r := resolved(t, scopeGraph())
			report, err := Run(Input{Graph: r, Profile: p, WhatIf: []WhatIf{mustWhatIf(t, c.whatIf)}})
			if err != nil {
				t.Fatal(err)
			}
			var base, variant float64
			for _, px := range report.Baseline.Proxies {
				near(t, px.Workload+" baseline per replica", px.MemoryMiBPerReplica, mib(7, 12))
				near(t, px.Workload+" baseline", px.MemoryMiB, float64(px.Replicas)*mib(7, 12))
				base += px.MemoryMiB
			}
			for _, px := range report.Variant.Proxies {
				w, ok := c.want[px.Workload]
				if !ok {
					t.Errorf("unexpected proxy %s", px.Workload)
					continue
				}
				if px.ProxyConfig == nil || px.ProxyConfig.Clusters != w[0] || px.ProxyConfig.Endpoints != w[1] {
					t.Errorf("%s: config %+v, want %d clusters and %d endpoints", px.Workload, px.ProxyConfig, w[0], w[1])
				}
				near(t, px.Workload+" variant per replica", px.MemoryMiBPerReplica, mib(w[0], w[1]))
				variant += px.MemoryMiB
			}
			near(t, "baseline total", report.Baseline.Totals.MemoryMiB, base)
			near(t, "variant total", report.Variant.Totals.MemoryMiB, variant)
			if !(variant < base) {
				t.Errorf("narrower scope saves nothing: %v → %v MiB", base, variant)
			}
		})
	}
}

// TestSidecarMemoryDefaults: without proxyConfig or proxyConcurrency, a
// sidecar sees every Service of the graph and runs Istio's two worker
// threads, both reported; a profile without memory uses the reference's
// model, said so.
func TestSidecarMemoryDefaults(t *testing.T) {
	g := scopeGraph()
	for i := range g.Workloads {
		g.Workloads[i].ProxyConfig, g.Workloads[i].ProxyConcurrency = nil, nil
	}
	sc, notes := run(t, g, withMemory(t, testProfile(t), memoryModel))
	for _, px := range sc.Proxies {
		// 7 clusters, 12 endpoints (the services listed), 2 threads.
		near(t, px.Workload, px.MemoryMiBPerReplica, 10+7+6+2*2)
	}
	for _, want := range []string{"proxyConfig not set for 3 sidecar workload(s); each is taken to see the 5 services listed: 7 clusters, 12 endpoints",
		"proxyConcurrency not set for 3 sidecar workload(s); their memory assumes 2 worker threads"} {
		if !diag.Has(notes, diag.DefaultUsed, want) {
			t.Errorf("no note %q in %v", want, notes)
		}
	}

	sc, notes = run(t, scopeGraph(), testProfile(t))
	ref := reference(t)
	m, _ := ref.ProxyMemory(dataplane.Sidecar)
	near(t, "reference model", sc.Proxies[0].MemoryMiBPerReplica, m.MiB(profile.MemoryConfig{Clusters: 7, Endpoints: 12, WorkerThreads: 1}))
	if !diag.Has(notes, diag.ProxyMemoryUnknown, "the reference profile's (reference-istio-published) sidecar memory model (14.2 MiB + 42000 B per cluster + 3000 B per endpoint) is used") {
		t.Errorf("the reference's model is not reported: %v", notes)
	}
}
