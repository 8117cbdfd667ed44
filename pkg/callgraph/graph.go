// Package callgraph defines the call graph that predictions run on: workloads, their
// data-plane mode, and the edges between them with rates, message sizes, protocol and
// mesh features. It also reads and writes the call-graph file format
// (apiVersion meshinsight.dev/v1, kind CallGraph). It knows nothing of Kubernetes
// clients: builders for live clusters live elsewhere and produce a Graph.
package callgraph

import (
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

// APIVersion and Kind identify the call-graph file format.
const (
	APIVersion = "meshinsight.dev/v1"
	Kind       = "CallGraph"
)

// Graph is a call graph: workloads and the calls between them.
type Graph struct {
	APIVersion string   `json:"apiVersion" yaml:"apiVersion"`
	Kind       string   `json:"kind" yaml:"kind"`
	Metadata   Metadata `json:"metadata,omitzero" yaml:"metadata,omitempty"`
	// Nodes is the number of nodes the mesh runs on: ambient mode runs one
	// ztunnel on each. Default: as many as the largest workload has replicas.
	Nodes *int `json:"nodes,omitempty" yaml:"nodes,omitempty"`
	// Waypoints are waypoint proxies (Gateways of class istio-waypoint) that
	// workloads and edges name, with their replicas; a waypoint named but not
	// listed has one replica.
	Waypoints []Waypoint `json:"waypoints,omitempty" yaml:"waypoints,omitempty"`
	// IstioNamespace is Istio's root namespace, which a sidecar scoped to
	// its namespace still sees (--what-if scope=namespace). Default
	// istio-system.
	IstioNamespace string     `json:"istioNamespace,omitempty" yaml:"istioNamespace,omitempty"`
	Workloads      []Workload `json:"workloads" yaml:"workloads"`
	Edges          []Edge     `json:"edges" yaml:"edges"`
	// Services are the mesh's Services and what each adds to a sidecar's
	// configuration. Default: every workload is one Service with one port.
	Services []Service `json:"services,omitempty" yaml:"services,omitempty"`
}

// Waypoint is a waypoint proxy deployment: an L7 proxy that calls to the
// ambient workloads behind it cross, shared by all of them.
type Waypoint struct {
	// Name is unique within its namespace.
	Name string `json:"name" yaml:"name"`
	// Namespace defaults to "default".
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Replicas is the number of waypoint pods; its rate is per replica. Default 1.
	Replicas *int `json:"replicas,omitempty" yaml:"replicas,omitempty"`
}

// ID is the waypoint's unique key, "namespace/name".
func (w Waypoint) ID() string {
	ns := w.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	return ns + "/" + w.Name
}

// Metadata names and describes a graph.
type Metadata struct {
	Name        string `json:"name,omitempty" yaml:"name,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// Workload is a deployable unit whose pods share a data-plane mode.
type Workload struct {
	// Name is unique within its namespace.
	Name string `json:"name" yaml:"name"`
	// Namespace defaults to "default".
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Mode is the data plane of the workload's pods, on both its outbound
	// and inbound paths: sidecar, ambient (the node's ztunnel) or none;
	// waypoint means ambient with a waypoint in front of the workload (the
	// one Waypoint names, else one named "waypoint" in its namespace).
	// Default sidecar.
	Mode dataplane.Mode `json:"mode,omitempty" yaml:"mode,omitempty"`
	// Outbound is the path of the calls the workload makes, when it differs
	// from Mode (e.g. a sidecar whose outbound capture is turned off):
	// sidecar, ambient or none. A waypoint is never on it.
	Outbound dataplane.Mode `json:"outbound,omitempty" yaml:"outbound,omitempty"`
	// Waypoint names the waypoint that calls to this ambient workload cross
	// ("name" in its namespace, or "namespace/name"): its Service's, its
	// namespace's or, for calls addressed to its pods, its own. Edges may
	// name another.
	Waypoint string `json:"waypoint,omitempty" yaml:"waypoint,omitempty"`
	// Replicas is the number of pods; rates per proxy are divided by it. Default 1.
	Replicas *int `json:"replicas,omitempty" yaml:"replicas,omitempty"`
	// Entry marks an entry point for end-to-end paths, in addition to the workloads
	// that call others but are called by none.
	Entry bool `json:"entry,omitempty" yaml:"entry,omitempty"`
	// RequestsPerSecond is the rate of requests reaching the workload from outside
	// the graph (for entry points). It sets how many calls per request each of its
	// edges makes; without it, an entry's busiest edge counts as one call per request.
	RequestsPerSecond *float64 `json:"requestsPerSecond,omitempty" yaml:"requestsPerSecond,omitempty"`
	// ProxyConcurrency is the proxy's worker thread count (informational).
	ProxyConcurrency *int `json:"proxyConcurrency,omitempty" yaml:"proxyConcurrency,omitempty"`
	// ProxyCPULimitMillicores is the proxy container's CPU limit; a prediction above it
	// is flagged.
	ProxyCPULimitMillicores *int `json:"proxyCPULimitMillicores,omitempty" yaml:"proxyCPULimitMillicores,omitempty"`
	// NodeType names the node type the pods run on, to select a per-node-type profile.
	NodeType string `json:"nodeType,omitempty" yaml:"nodeType,omitempty"`
	// ProxyConfig is what the workload's sidecar is configured with (its
	// memory grows with it). Default: every Service of the graph.
	ProxyConfig *ProxyConfig `json:"proxyConfig,omitempty" yaml:"proxyConfig,omitempty"`
}

// ID is the workload's unique key, "namespace/name".
func (w Workload) ID() string { return w.Namespace + "/" + w.Name }

// Retries describes a retry policy and how often it triggers.
type Retries struct {
	// Attempts is the maximum number of retries after the first try.
	Attempts int `json:"attempts" yaml:"attempts"`
	// FailureRate is the fraction (0..1) of tries that fail and are retried. Default 0.
	FailureRate *float64 `json:"failureRate,omitempty" yaml:"failureRate,omitempty"`
}

// ExpectedTries is the mean number of tries per request: Σ_{i=0..Attempts} f^i.
func (r Retries) ExpectedTries() float64 {
	f := 0.0
	if r.FailureRate != nil {
		f = *r.FailureRate
	}
	tries, term := 0.0, 1.0
	for i := 0; i <= r.Attempts; i++ {
		tries += term
		term *= f
	}
	return tries
}

// Edge is a call from one workload to another.
type Edge struct {
	// From and To reference workloads as "name" (namespace default) or "namespace/name".
	From string `json:"from" yaml:"from"`
	To   string `json:"to" yaml:"to"`
	// Protocol defaults to http.
	Protocol dataplane.Protocol `json:"protocol,omitempty" yaml:"protocol,omitempty"`
	// Waypoint names the waypoint this call crosses when it differs from the
	// server workload's (the call's Service has another one): "name" in the
	// server's namespace, "namespace/name", or "none".
	Waypoint string `json:"waypoint,omitempty" yaml:"waypoint,omitempty"`
	// MTLS defaults to true when both sides are meshed (Istio's auto mTLS).
	MTLS *bool `json:"mtls,omitempty" yaml:"mtls,omitempty"`
	// RequestsPerSecond is the call rate (for tcp: messages, i.e. request/response
	// exchanges, per second). Default 100, or derived from BytesPerSecond for tcp.
	RequestsPerSecond *float64 `json:"requestsPerSecond,omitempty" yaml:"requestsPerSecond,omitempty"`
	// RequestBytes and ResponseBytes are mean message sizes. Defaults 512 and 1024.
	RequestBytes  *float64 `json:"requestBytes,omitempty" yaml:"requestBytes,omitempty"`
	ResponseBytes *float64 `json:"responseBytes,omitempty" yaml:"responseBytes,omitempty"`
	// BytesPerSecond (tcp only) is the total throughput in both directions.
	BytesPerSecond *float64 `json:"bytesPerSecond,omitempty" yaml:"bytesPerSecond,omitempty"`
	// ConnectionsPerSecond (tcp only) is the rate of new connections.
	ConnectionsPerSecond *float64 `json:"connectionsPerSecond,omitempty" yaml:"connectionsPerSecond,omitempty"`
	// Retries is the retry policy applied by the client's proxy.
	Retries *Retries `json:"retries,omitempty" yaml:"retries,omitempty"`
	// MirrorPercent is the share (0..100) of requests mirrored to a shadow service.
	MirrorPercent *float64 `json:"mirrorPercent,omitempty" yaml:"mirrorPercent,omitempty"`
	// Filters are extra proxy features on the server side: wasm, lua, ratelimit,
	// ext-authz, fault, or any name the profile has a feature cost for.
	Filters []string `json:"filters,omitempty" yaml:"filters,omitempty"`
	// TracingSamplingPercent is the share (0..100) of requests traced. Default: none
	// beyond what the profile measured.
	TracingSamplingPercent *float64 `json:"tracingSamplingPercent,omitempty" yaml:"tracingSamplingPercent,omitempty"`
	// Service is the Service called ("name" in the server's namespace or
	// "namespace/name"), what a sidecar scoped to the calls observed
	// imports. Default: the Services that select the server.
	Service string `json:"service,omitempty" yaml:"service,omitempty"`
}

// Name renders the edge as "from->to".
func (e Edge) Name() string { return e.From + "->" + e.To }
