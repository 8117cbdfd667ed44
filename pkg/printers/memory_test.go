package printers

import (
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// scopeReport is --what-if scope=observed on two sidecars: web calls api,
// api calls nothing; each saw 40 Services before.
func scopeReport() *predict.Report {
	edge := predict.EdgeResult{From: "shop/web", To: "shop/api", Protocol: "http", MTLS: true, ClientMode: "sidecar", ServerMode: "sidecar",
		RequestsPerSecond: 100, RequestBytes: 512, ResponseBytes: 1024, LatencyP50Micros: 200, LatencyP99Micros: 260, CPUMillicores: 40,
		TopComponent: "parsing", Components: []predict.ComponentCost{{Component: "parsing", LatencyP50Micros: 200, LatencyP99Micros: 260, CPUMillicores: 40}}}
	all := &callgraph.ProxyConfig{Services: 40, Clusters: 52, Endpoints: 160, Listeners: 20, Routes: 45}
	sidecar := func(name string, replicas int, perReplica float64, cfg *callgraph.ProxyConfig) predict.ProxyResult {
		return predict.ProxyResult{Workload: "shop/" + name, Kind: predict.KindSidecar, Replicas: replicas, RequestsPerSecondPerReplica: 100 / float64(replicas),
			RateFactor: 1, CPUMillicores: 20, MemoryMiB: perReplica * float64(replicas), MemoryMiBPerReplica: perReplica, ProxyConfig: cfg}
	}
	path := []predict.PathResult{{Entry: "shop/web", LatencyP50Micros: 200, LatencyP99Micros: 260, Calls: 1, CriticalPath: []string{"shop/web", "shop/api"}}}
	base := predict.Scenario{Edges: []predict.EdgeResult{edge},
		Proxies: []predict.ProxyResult{sidecar("api", 3, 17.1, all), sidecar("web", 2, 17.1, all)}, Paths: path,
		Totals: predict.Totals{Edges: 1, Workloads: 2, RequestsPerSecond: 100, CPUMillicores: 40, MemoryMiB: 85.5,
			MaxPathLatencyP50Micros: 200, MaxPathLatencyP99Micros: 260, TopComponent: "parsing"}}
	variant := base
	variant.Proxies = []predict.ProxyResult{sidecar("api", 3, 14.2, &callgraph.ProxyConfig{}),
		sidecar("web", 2, 14.3, &callgraph.ProxyConfig{Services: 1, Clusters: 1, Endpoints: 3, Listeners: 1, Routes: 1})}
	variant.Totals.MemoryMiB = 3*14.2 + 2*14.3
	return &predict.Report{APIVersion: predict.ReportAPIVersion, Kind: predict.ReportKind, Graph: "shop",
		Profile: predict.ProfileInfo{Name: "reference-istio-published", Source: "embedded", Reference: true},
		FanOut:  predict.Sequential, WhatIf: []string{"scope=observed"}, Baseline: base, Variant: &variant}
}
