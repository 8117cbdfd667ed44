package predict

import (
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"math"
)

// ReportAPIVersion and ReportKind identify the machine-readable report.
const (
	ReportAPIVersion = "meshinsight.dev/v1alpha1"
	ReportKind       = "Prediction"
)

// Report is the result of a prediction: a baseline scenario and, with what-if
// changes, a variant, plus everything the figures rest on.
type Report struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Graph      string      `json:"graph,omitempty"`
	Profile    ProfileInfo `json:"profile"`
	// FanOut is how calls a workload makes for one request combine on a path.
	FanOut FanOut `json:"fanOut"`
	// WhatIf lists the changes the variant applies, as given.
	WhatIf   []string  `json:"whatIf,omitempty"`
	Baseline Scenario  `json:"baseline"`
	Variant  *Scenario `json:"variant,omitempty"`
	// Messages are the assumptions and warnings behind the figures.
	Messages []diag.Message `json:"messages,omitempty"`
}

// Header returns what the graph report shares with a TraceReport.
func (r *Report) Header() Header {
	return Header{Profile: r.Profile, WhatIf: r.WhatIf, Messages: r.Messages}
}

// Header is what every report says besides its figures: the profile that
// produced them, the changes its what-if variant applies, and the
// assumptions and warnings behind them. Report and TraceReport keep these
// fields where their JSON has always had them; Header gathers them for the
// parts of a rendering all reports share.
type Header struct {
	Profile ProfileInfo
	// WhatIf lists the variant's changes; nil without a variant.
	WhatIf   []string
	Messages []diag.Message
}

// ProfileInfo says which profile produced the figures.
type ProfileInfo struct {
	Name string `json:"name"`
	// Source is where it was loaded from: "embedded", a file path, or a ConfigMap.
	Source    string `json:"source"`
	Reference bool   `json:"reference,omitempty"`
}

// Scenario is the predicted overhead of one version of the graph.
type Scenario struct {
	Edges []EdgeResult `json:"edges"`
	// Ingress are the requests entering the graph from outside (a
	// workload's requestsPerSecond) as calls from an unmeshed client named
	// OutsideName in the workload's namespace: their crossing of the entry's
	// inbound proxy is in the proxies' CPU, the totals' CPU and the paths.
	Ingress []EdgeResult  `json:"ingress,omitempty"`
	Proxies []ProxyResult `json:"proxies"`
	Paths   []PathResult  `json:"paths"`
	Totals  Totals        `json:"totals"`
}

// EdgeResult is the overhead the mesh adds to one edge.
type EdgeResult struct {
	From     string             `json:"from"`
	To       string             `json:"to"`
	Protocol dataplane.Protocol `json:"protocol"`
	MTLS     bool               `json:"mtls"`
	// ClientMode is the client's outbound path (sidecar, ambient or none);
	// ServerMode the server's inbound path, or waypoint when the call
	// crosses a waypoint (named by Waypoint) before it.
	ClientMode dataplane.Mode `json:"clientMode"`
	ServerMode dataplane.Mode `json:"serverMode"`
	// Waypoint is the "namespace/name" of the waypoint the call crosses.
	Waypoint          string  `json:"waypoint,omitempty"`
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	RequestBytes      float64 `json:"requestBytes"`
	ResponseBytes     float64 `json:"responseBytes"`
	// LatencyP50Micros and LatencyP99Micros are added latency per request in µs.
	LatencyP50Micros float64 `json:"latencyP50Micros"`
	LatencyP99Micros float64 `json:"latencyP99Micros"`
	// CPUMillicores is the proxies' added CPU for this edge's traffic.
	CPUMillicores float64 `json:"cpuMillicores"`
	// Range holds the low–high range of each figure; nil when a model
	// behind them has no measured spread (MI0033).
	Range *Range `json:"range,omitempty"`
	// TopComponent is the component adding the most p50 latency.
	TopComponent string          `json:"topComponent,omitempty"`
	Components   []ComponentCost `json:"components"`
}

// Interval is the low–high range of one predicted figure: the models'
// relative bounds (profile.Range, a 90% interval from the profile's own
// spread) applied to each term and summed, terms taken as fully
// correlated, which is the wider, cautious choice.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// max is the interval of the larger of two figures (nil counts as absent).
func (i *Interval) max(o *Interval) *Interval {
	switch {
	case i == nil:
		return o
	case o == nil:
		return i
	}
	return &Interval{Low: math.Max(i.Low, o.Low), High: math.Max(i.High, o.High)}
}

// Range holds the ranges of the figures beside it: an edge's or a path's
// latencies, a proxy's or an edge's CPU. A figure without one is absent.
type Range struct {
	LatencyP50Micros *Interval `json:"latencyP50Micros,omitempty"`
	LatencyP99Micros *Interval `json:"latencyP99Micros,omitempty"`
	CPUMillicores    *Interval `json:"cpuMillicores,omitempty"`
}

// Name renders the edge as "from->to".
func (e EdgeResult) Name() string { return e.From + "->" + e.To }

// ComponentCost is one component's part of an edge's or proxy's overhead.
type ComponentCost struct {
	Component        string  `json:"component"`
	LatencyP50Micros float64 `json:"latencyP50Micros"`
	LatencyP99Micros float64 `json:"latencyP99Micros"`
	CPUMillicores    float64 `json:"cpuMillicores"`
	// Range holds the low–high range of each figure; nil when a model the
	// component rests on has none.
	Range *Range `json:"range,omitempty"`
}

// ProxyKind is the kind of proxy instance CPU is charged to.
type ProxyKind string

// Proxy kinds.
const (
	KindSidecar  ProxyKind = "sidecar"
	KindZtunnel  ProxyKind = "ztunnel"
	KindWaypoint ProxyKind = "waypoint"
)

// ProxyResult is the predicted cost of one proxy deployment, all its
// instances: a workload's sidecars, a waypoint (named by its Gateway), or
// the ztunnels (one per node, Replicas is the node count).
type ProxyResult struct {
	Workload string    `json:"workload"`
	Kind     ProxyKind `json:"kind"`
	Replicas int       `json:"replicas"`
	// RequestsPerSecondPerReplica is the request rate one proxy instance handles,
	// which selects the rate factor.
	RequestsPerSecondPerReplica float64 `json:"requestsPerSecondPerReplica"`
	RateFactor                  float64 `json:"rateFactor"`
	CPUMillicores               float64 `json:"cpuMillicores"`
	// MemoryMiB is the proxies' memory, all instances; 0 when the profile
	// has no figure for their kind.
	MemoryMiB float64 `json:"memoryMiB"`
	// MemoryMiBPerReplica is one instance's memory: a sidecar's from its
	// configuration (ProxyConfig) when the profile has a memory model.
	MemoryMiBPerReplica float64 `json:"memoryMiBPerReplica,omitempty"`
	// ProxyConfig is the configuration a sidecar's memory was predicted
	// from.
	ProxyConfig *callgraph.ProxyConfig `json:"proxyConfig,omitempty"`
	// Range is the range of CPUMillicores; nil when unknown (MI0033).
	Range *Range `json:"range,omitempty"`
	// CPULimitMillicores is the limit of one proxy container, if known.
	CPULimitMillicores int `json:"cpuLimitMillicores,omitempty"`
	// OverLimit is true when one replica's predicted CPU exceeds its limit.
	OverLimit bool `json:"overLimit,omitempty"`
}

// PathResult is the added latency of a request entering at one entry point,
// through the entry's inbound proxy and every call it causes (combined per
// FanOut).
type PathResult struct {
	Entry            string  `json:"entry"`
	LatencyP50Micros float64 `json:"latencyP50Micros"`
	LatencyP99Micros float64 `json:"latencyP99Micros"`
	// CriticalPath is the chain of calls a request most often waits on
	// longest: from the entry, the call most likely to be the slowest (by
	// added p50) of the calls a workload makes for one request, each made by
	// its share of the requests; then the same from that call's server.
	CriticalPath []string `json:"criticalPath"`
	// Calls is the expected number of calls one request causes.
	Calls float64 `json:"calls"`
	// Range is the range of the latencies, from the edges' ranges
	// through the same fan-out; nil when an edge has none.
	Range *Range `json:"range,omitempty"`
}

// Totals sum a scenario.
type Totals struct {
	Edges             int     `json:"edges"`
	Workloads         int     `json:"workloads"`
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	CPUMillicores     float64 `json:"cpuMillicores"`
	MemoryMiB         float64 `json:"memoryMiB"`
	// MaxPathLatencyP50Micros is the largest added p50 over all entry points.
	MaxPathLatencyP50Micros float64 `json:"maxPathLatencyP50Micros"`
	MaxPathLatencyP99Micros float64 `json:"maxPathLatencyP99Micros"`
	// TopComponent adds the most CPU over the whole graph.
	TopComponent string `json:"topComponent,omitempty"`
	// Range holds the ranges of CPUMillicores and the largest path
	// latencies; nil when a figure behind them has none.
	Range *Range `json:"range,omitempty"`
}
