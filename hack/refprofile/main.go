// Command refprofile writes the embedded reference profile
// (pkg/profile/reference.json) from published figures. Every number below cites its
// source; every split that no source publishes is an assumption, named A1…A6 and
// recorded in the profile's provenance so that predictions can say what they rest on.
//
//	go run ./hack/refprofile > pkg/profile/reference.json
package main

import (
	"fmt"
	"os"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

func main() {
	b, err := profile.Marshal(build())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(b)
}

// Source IDs.
const (
	srcIstio120   = "istio-1.20-perf"
	srcIstio122   = "istio-1.22-perf"
	srcIstio124   = "istio-1.24-perf"
	srcIssue15335 = "istio-issue-15335"
	srcZhu        = "zhu-socc23"
	srcEnvoyMem   = "envoy-memory-tests"
)

// Published figures.
const (
	// Sidecar pair (client + server sidecar), Istio 1.20, 1 KB, 1k rps, mTLS, HTTP/1.1.
	sidecarPairP90Micros = 228.0 // srcIstio120: +0.228 ms p90
	sidecarPairP99Micros = 298.0 // srcIstio120: +0.298 ms p99
	// Two ztunnels (ambient), Istio 1.22.
	ztunnelPairP90Micros = 170.0 // srcIstio122: +0.17 ms p90
	ztunnelPairP99Micros = 200.0 // srcIstio122: +0.20 ms p99
	// Proxy CPU at 1k rps, 1 KB, Istio 1.24: vCPU at 1000 req/s = 1000 CPU-µs per
	// second per 1000 requests, i.e. vCPU × 1000 CPU-µs per request.
	sidecarCPUMicrosPerRequest  = 0.20 * 1e6 / 1000 // srcIstio124: 0.20 vCPU
	waypointCPUMicrosPerRequest = 0.25 * 1e6 / 1000 // srcIstio124: 0.25 vCPU
	ztunnelCPUMicrosPerRequest  = 0.06 * 1e6 / 1000 // srcIstio124: 0.06 vCPU
	sidecarMemoryMiB            = 60.0              // srcIstio124: 60 MB (2 workers)
	ztunnelMemoryMiB            = 12.0              // srcIstio124: 12 MB
	// Message size of the published runs (A4 treats it as 1 KiB each way).
	publishedBytes = 1024.0
	// Envoy's memory tests bound the bytes one more cluster and one more
	// host (endpoint) cost (srcEnvoyMem: EXPECT_MEMORY_LE(m_per_cluster,
	// 42000), EXPECT_MEMORY_LE(m_per_host, 3000); exact values measured in
	// 2021: 40,577 and 1,380).
	envoyClusterBytes  = 42000.0
	envoyEndpointBytes = 3000.0
	// Istio's load-test mesh: 1000 services and 2000 pods (srcIstio124).
	// A7 takes it as the configuration the published sidecar memory was
	// measured with: a cluster per service (one port each) and an endpoint
	// per pod.
	loadTestClusters  = 1000
	loadTestEndpoints = 2000
)

// sidecarBaseBytes is what A7 leaves of the published 60 MB (read as MiB,
// as the flat figure always was) once the load-test mesh's clusters and
// endpoints are taken out at Envoy's bounds: 62,914,560 − 42,000,000 −
// 6,000,000 = 14,914,560 B (14.2 MiB). It holds the two worker threads the
// figure was measured with.
const sidecarBaseBytes = sidecarMemoryMiB*profile.MiB - loadTestClusters*envoyClusterBytes - loadTestEndpoints*envoyEndpointBytes

// sidecarVCPUAtRate is sidecar CPU at 1k…5k qps (srcIssue15335).
var sidecarVCPUAtRate = []struct{ rps, vcpu float64 }{
	{1000, 0.18}, {2000, 0.30}, {3000, 0.40}, {4000, 0.43}, {5000, 0.45},
}

// Assumptions, recorded in the profile's method text.
const assumptions = `Reference profile from published Istio figures; not measured on your platform. ` +
	`A1: component shares of a sidecar's cost (HTTP with mTLS: parsing 30%, TLS 15%, socket write 12%, filters 10%, ` +
	`socket read 8%, loopback 8%, other proxy 8%, epoll 6%, netfilter 3%) are our estimates guided by Zhu et al. ` +
	`(parsing dominates HTTP; loopback IPC and socket writes dominate TCP), applied alike to latency and CPU; ` +
	`TCP drops parsing and most filters (63% of HTTP); plaintext drops the TLS share. ` +
	`A2: each proxy's latency is split equally over its two sides and two directions; CPU equally over directions. ` +
	`A3: no p50 is published; p50 is set to the published p90 (an upper bound). ` +
	`A4: byte-driven components (socket read/write, loopback, TLS) are half fixed, half proportional to size at the published 1 KiB. ` +
	`A5: a waypoint's latency equals one sidecar's (half a sidecar pair); its rate factor follows the sidecar's (both Envoy). ` +
	`A6: HTTP/2 and gRPC cost as HTTP/1.1 (no published split). ` +
	`A7: the published sidecar memory (60 MB, 2 worker threads) was measured with the configuration of Istio's load-test mesh ` +
	`(1000 services with one port each, 2000 pods: 1000 clusters, 2000 endpoints); Envoy's memory-test bounds per cluster ` +
	`(42,000 B) and per endpoint (3,000 B) are taken out of it to leave the base (14.2 MiB); per-thread memory is not published ` +
	`and stays in the base.`

// share is a component's part of a proxy's cost.
type share struct {
	c     profile.Component
	frac  float64
	bytes bool // scales with message size (A4)
}

// sidecarShares is A1 for an L7 Envoy proxy carrying HTTP with mTLS.
var sidecarShares = []share{
	{profile.Parsing, 0.30, false},
	{profile.TLS, 0.15, true},
	{profile.SocketWrite, 0.12, true},
	{profile.Filters, 0.10, false},
	{profile.SocketRead, 0.08, true},
	{profile.Loopback, 0.08, true},
	{profile.ProxyOther, 0.08, false},
	{profile.Epoll, 0.06, false},
	{profile.Netfilter, 0.03, false},
}

// ztunnelShares is A1 for ztunnel (L4, HBONE mTLS, no loopback hop).
var ztunnelShares = []share{
	{profile.TLS, 0.25, true},
	{profile.SocketWrite, 0.20, true},
	{profile.ProxyOther, 0.20, false},
	{profile.SocketRead, 0.15, true},
	{profile.Netfilter, 0.10, false},
	{profile.Epoll, 0.10, false},
}

// sharesFor adapts A1 to a protocol and mTLS setting: TCP has no parsing and keeps
// 3 of the 10 filter points (stats only); plaintext has no TLS.
func sharesFor(base []share, protocol dataplane.Protocol, mtls bool) []share {
	var out []share
	for _, s := range base {
		switch {
		case s.c == profile.TLS && !mtls:
			continue
		case s.c == profile.Parsing && protocol == dataplane.TCP:
			continue
		case s.c == profile.Filters && protocol == dataplane.TCP:
			s.frac = 0.03
		}
		out = append(out, s)
	}
	return out
}

// proxyCost is one proxy's published whole cost per request (both directions).
type proxyCost struct {
	mode                dataplane.Mode
	latencyP50Micros    float64 // both sides' share of this proxy: see traversals
	latencyP99Micros    float64
	cpuMicrosPerRequest float64
	sides               []profile.Side
	protocols           []dataplane.Protocol
	shares              []share
	latencySrc, cpuSrc  string
	mtlsModes           []bool
}

func build() *profile.Profile {
	p := &profile.Profile{
		APIVersion: profile.APIVersion,
		Kind:       profile.Kind,
		Metadata:   profile.Metadata{Name: profile.ReferenceName, Reference: true},
		Provenance: profile.Provenance{
			Platform: profile.Platform{Mesh: "istio", MeshVersion: "1.20-1.24 (published figures)", Proxy: "envoy, ztunnel"},
			Method:   assumptions,
			// Larger messages are A4's extrapolation: predict says so.
			MaxBytes: publishedBytes,
			Sources: []profile.Source{
				{ID: srcIstio120, Citation: "istio.io, Performance and Scalability (Istio 1.20)", Figure: "sidecar pair, 1 KB, 1k rps, mTLS: +0.228 ms p90, +0.298 ms p99"},
				{ID: srcIstio122, Citation: "istio.io, Performance and Scalability (Istio 1.22)", Figure: "two ztunnels: +0.17 ms p90, +0.20 ms p99"},
				{ID: srcIstio124, Citation: "istio.io, Performance and Scalability (Istio 1.24)", Figure: "at 1k rps, 1 KB: sidecar 0.20 vCPU / 60 MB (2 worker threads); waypoint 0.25 vCPU; ztunnel 0.06 vCPU / 12 MB; load-test mesh of 1000 services and 2000 pods"},
				{ID: srcIssue15335, Citation: "istio/istio.io issue 15335", Figure: "sidecar 0.18, 0.30, 0.40, 0.43, 0.45 vCPU at 1k…5k qps"},
				{ID: srcZhu, Citation: "Zhu et al., Dissecting Overheads of Service Mesh Sidecars, SoCC'23", Figure: "HTTP: parsing dominates; TCP: loopback IPC and socket writes dominate"},
				{ID: srcEnvoyMem, Citation: "envoyproxy/envoy, test/integration/stats_integration_test.cc (MemoryLargeClusterSize, MemoryLargeHostSizeWithStats)",
					Figure: "at most 42,000 B per cluster (40,577 B measured in 2021) and 3,000 B per host (1,380 B measured)"},
			},
		},
	}
	all := dataplane.Protocols
	both := []profile.Side{profile.Outbound, profile.Inbound}
	costs := []proxyCost{
		{ // One sidecar is half of the published pair.
			mode: dataplane.Sidecar, latencyP50Micros: sidecarPairP90Micros / 2, latencyP99Micros: sidecarPairP99Micros / 2,
			cpuMicrosPerRequest: sidecarCPUMicrosPerRequest, sides: both, protocols: all, shares: sidecarShares,
			latencySrc: srcIstio120, cpuSrc: srcIstio124, mtlsModes: []bool{true, false},
		},
		{ // ztunnel is L4: only tcp models; predict maps every protocol to tcp for it.
			mode: dataplane.Ambient, latencyP50Micros: ztunnelPairP90Micros / 2, latencyP99Micros: ztunnelPairP99Micros / 2,
			cpuMicrosPerRequest: ztunnelCPUMicrosPerRequest, sides: both, protocols: []dataplane.Protocol{dataplane.TCP}, shares: ztunnelShares,
			latencySrc: srcIstio122, cpuSrc: srcIstio124, mtlsModes: []bool{true, false},
		},
		{ // A waypoint is one Envoy with an inbound and an outbound leg (A5).
			mode: dataplane.Waypoint, latencyP50Micros: sidecarPairP90Micros / 2, latencyP99Micros: sidecarPairP99Micros / 2,
			cpuMicrosPerRequest: waypointCPUMicrosPerRequest, sides: both, protocols: all, shares: sidecarShares,
			latencySrc: srcIstio120, cpuSrc: srcIstio124, mtlsModes: []bool{true},
		},
	}
	for _, pc := range costs {
		for _, proto := range pc.protocols {
			for _, mtls := range pc.mtlsModes {
				for _, side := range pc.sides {
					for _, dir := range []profile.Direction{profile.Request, profile.Response} {
						p.Models = append(p.Models, traversalModels(pc, proto, mtls, side, dir)...)
					}
				}
			}
		}
	}
	var pts []profile.RatePoint
	base := sidecarVCPUAtRate[0]
	for _, r := range sidecarVCPUAtRate {
		// CPU per request relative to 1k rps: (vcpu/rps) / (vcpu0/rps0).
		pts = append(pts, profile.RatePoint{RequestsPerSecond: r.rps, Factor: round((r.vcpu / r.rps) / (base.vcpu / base.rps))})
	}
	p.RateFactors = []profile.RateCurve{
		{Mode: dataplane.Sidecar, Points: pts, Source: srcIssue15335},
		{Mode: dataplane.Waypoint, Points: pts, Source: srcIssue15335},
	}
	p.Proxies = []profile.ProxyCost{
		{Mode: dataplane.Sidecar, MemoryMiB: sidecarMemoryMiB, Source: srcIstio124, Memory: &profile.MemoryModel{
			BaseBytes: sidecarBaseBytes, PerClusterBytes: envoyClusterBytes, PerEndpointBytes: envoyEndpointBytes, Source: srcEnvoyMem,
			Note: fmt.Sprintf("per cluster and per endpoint: Envoy's memory-test bounds (%s); base: %s's 60 MB less %d clusters and %d endpoints at those bounds (A7)",
				srcEnvoyMem, srcIstio124, loadTestClusters, loadTestEndpoints)}},
		{Mode: dataplane.Ambient, MemoryMiB: ztunnelMemoryMiB, PerNode: true, Source: srcIstio124},
	}
	// The published sidecar figures were taken at 1k rps through sidecars
	// with 2 worker threads.
	p.OperatingPoint = &profile.OperatingPoint{RequestsPerSecond: 1000, ProxyThreads: 2, Source: srcIstio124}
	return p
}

// traversalModels splits one proxy's cost into the models of one side and direction.
func traversalModels(pc proxyCost, proto dataplane.Protocol, mtls bool, side profile.Side, dir profile.Direction) []profile.Model {
	// A2: latency over 2 sides × 2 directions of the pair's proxies means each
	// proxy's half is split again over its own 2 directions; CPU per proxy is split
	// over directions and, since one proxy plays one side per call, not over sides
	// — except the waypoint, whose one proxy plays both sides.
	latDiv, cpuDiv := 2.0, 2.0
	if pc.mode == dataplane.Waypoint {
		latDiv, cpuDiv = 4, 4
	}
	var out []profile.Model
	for _, s := range sharesFor(pc.shares, proto, mtls) {
		m := profile.Model{
			Key:                 profile.Key{Mode: pc.mode, Protocol: proto, MTLS: mtls, Side: side, Direction: dir},
			Component:           s.c,
			LatencyP50Micros:    split(pc.latencyP50Micros/latDiv*s.frac, s.bytes),
			LatencyP99Micros:    split(pc.latencyP99Micros/latDiv*s.frac, s.bytes),
			CPUMicrosPerRequest: split(pc.cpuMicrosPerRequest/cpuDiv*s.frac, s.bytes),
			Source:              pc.latencySrc,
			Note:                fmt.Sprintf("share %.0f%% (A1); CPU from %s", s.frac*100, pc.cpuSrc),
		}
		out = append(out, m)
	}
	return out
}

// split turns a value measured at publishedBytes into a linear model (A4).
func split(v float64, bytes bool) profile.Linear {
	if !bytes {
		return profile.Linear{Intercept: round(v)}
	}
	return profile.Linear{Intercept: round(v / 2), PerKiB: round(v / 2 * 1024 / publishedBytes)}
}

// round keeps the JSON readable: 4 significant decimals are far below the figures'
// precision.
func round(v float64) float64 {
	const k = 1e4
	if v < 0 {
		return -round(-v)
	}
	return float64(int64(v*k+0.5)) / k
}
