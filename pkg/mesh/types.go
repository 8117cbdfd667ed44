package mesh

import (
	"strings"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// DefaultRootNamespace is Istio's default configuration root namespace: policies
// without a selector there apply mesh-wide.
const DefaultRootNamespace = "istio-system"

// DefaultClusterDomain is the DNS suffix of Service host names.
const DefaultClusterDomain = "cluster.local"

// Workload is a set of pods that share a pod template, as the policy model needs it.
type Workload struct {
	Namespace, Name string
	// Labels are the pod template's labels; workload selectors match on them.
	Labels map[string]string
	// Mode is the workload's data plane. Empty means sidecar, the call-graph default.
	Mode dataplane.Mode
	// ServiceAccount is the pods' service account ("default" when empty); it makes
	// the workload's SPIFFE identity.
	ServiceAccount string
	// Waypoint is "namespace/name" of the waypoint serving the workload (mode
	// waypoint), so that policies attached to that waypoint Gateway apply. Optional.
	Waypoint string
	// ReadyPods counts its ready pods: the endpoints it gives each cluster
	// of a Service that selects it. Only Visibility uses it.
	ReadyPods int
}

// ID is the workload's "namespace/name".
func (w Workload) ID() string { return w.Namespace + "/" + w.Name }

func (w Workload) mode() dataplane.Mode {
	if w.Mode == "" {
		return callgraph.DefaultMode
	}
	return w.Mode
}

func (w Workload) serviceAccount() string {
	if w.ServiceAccount == "" {
		return "default"
	}
	return w.ServiceAccount
}

// Service is a Kubernetes Service.
type Service struct {
	Namespace, Name string
	Ports           []Port
	// Selector picks the workloads behind the service (pod labels, same namespace).
	// Only CandidateEdges and Visibility use it.
	Selector map[string]string
	// ExportTo is the service's networking.istio.io/exportTo annotation, split
	// at commas: the namespaces whose proxies see it ("*" all, "." its own,
	// "~" none). Empty means every namespace (Istio's default).
	ExportTo []string
}

// ID is the service's "namespace/name".
func (s Service) ID() string { return s.Namespace + "/" + s.Name }

// Host is the service's fully qualified host name, name.namespace.svc.cluster.local.
func (s Service) Host() string {
	return s.Name + "." + s.Namespace + ".svc." + DefaultClusterDomain
}

// selects reports whether the service's selector picks the workload.
func (s Service) selects(w Workload) bool {
	return w.Namespace == s.Namespace && len(s.Selector) > 0 && labelsMatch(s.Selector, w.Labels)
}

// Port is one port of a Service.
type Port struct {
	Name string
	Port int32
	// TargetPort is the container port, as a number or a port name; empty means Port.
	TargetPort string
	// AppProtocol is the port's appProtocol field, if set.
	AppProtocol string
	// Protocol is the transport: TCP (default), UDP or SCTP.
	Protocol string
}

// ProtocolSource says how the protocol of a port was decided.
type ProtocolSource string

// Protocol sources.
const (
	// ProtocolFromAppProtocol means the port's appProtocol named it.
	ProtocolFromAppProtocol ProtocolSource = "appProtocol"
	// ProtocolFromPortName means the port name's <protocol>[-suffix] prefix named it.
	ProtocolFromPortName ProtocolSource = "port name"
	// ProtocolFromWellKnownPort means Istio treats the port number (25, 53, 3306,
	// 27017) as TCP rather than sniffing it.
	ProtocolFromWellKnownPort ProtocolSource = "well-known port"
	// ProtocolSniffed means Istio detects the protocol from the first bytes of each
	// connection; the model assumes http.
	ProtocolSniffed ProtocolSource = "sniffed"
	// ProtocolNotProxied means the port carries UDP or SCTP, which Istio's proxies
	// do not intercept: the edge has no mesh overhead.
	ProtocolNotProxied ProtocolSource = "not proxied"
)

// Proxied reports whether traffic decided by this source passes the proxies.
func (s ProtocolSource) Proxied() bool { return s != ProtocolNotProxied }

// EdgePolicy is what Istio's configuration does to calls from one workload to a
// service port served by another, in plain terms.
type EdgePolicy struct {
	// Protocol is the protocol the proxies treat the traffic as.
	Protocol       dataplane.Protocol
	ProtocolSource ProtocolSource
	// MTLS is true when the call travels over Istio mutual TLS (or HBONE).
	MTLS bool
	// MTLSReason names what decided MTLS, e.g. "PeerAuthentication bookinfo/default
	// STRICT", "DestinationRule bookinfo/ratings DISABLE", "auto mTLS",
	// "ambient (HBONE)", "client not meshed".
	MTLSReason string
	// Retries is the retry policy of the L7 proxy that routes the call (the
	// client's sidecar, or the server's waypoint), or nil when no L7 proxy routes
	// it. Without a VirtualService retry policy it is Istio's default: 2 attempts.
	Retries *callgraph.Retries
	// RetriesReason names where Retries came from.
	RetriesReason string
	// MirrorPercent is the share (0..100) of requests mirrored elsewhere.
	MirrorPercent float64
	// FaultDelay is an injected fixed delay, applied to FaultDelayPercent (0..100)
	// of the requests.
	FaultDelay        time.Duration
	FaultDelayPercent float64
	// Timeout is the route's request timeout; 0 means none (Istio's default).
	Timeout time.Duration
	// TracingSamplingPercent is the Telemetry random sampling percentage that
	// applies to the server, or nil when no Telemetry sets one (the mesh default).
	TracingSamplingPercent *float64
	// AccessLogging is true when a Telemetry enables access logs for the server.
	AccessLogging bool
	// MetricsEnabled is false when a Telemetry disables the server's metrics.
	MetricsEnabled bool
	// Filters name the EnvoyFilters and WasmPlugins on the server's inbound path:
	// "wasm:<name>", "lua:<name>" or "envoyfilter:<name>". FilterKind gives the
	// part before the colon.
	Filters []string
	// EgressAllowed is false when the client's Sidecar resource does not import
	// the service's host.
	EgressAllowed bool
	// Messages explain assumptions and problems found for this edge.
	Messages []diag.Message
}

// FilterKind returns the kind of a filter named in EdgePolicy.Filters: "wasm",
// "lua" or "envoyfilter", the names profiles cost features by.
func FilterKind(filter string) string {
	kind, _, _ := strings.Cut(filter, ":")
	return kind
}

// CandidateEdge is a call the configuration suggests exists, for graphs built
// without traffic telemetry.
type CandidateEdge struct {
	// From and To are the client and server workloads, "namespace/name".
	From, To string
	// Service is the "namespace/name" of the service called, when known.
	Service string
	// Reason names the resources that suggest the edge.
	Reason string
}
