// Package kube reads a cluster's topology: namespaces, workloads (Deployments,
// StatefulSets, DaemonSets, Jobs, CronJobs and bare Pods, resolved from their pods'
// owner references), Services mapped to workloads by selector, each workload's data
// plane (Istio sidecar, ambient, waypoint or none) and node facts. It uses a
// constant number of LIST calls whatever the cluster's size. It knows nothing of
// Istio's custom resources beyond the waypoint Gateways that enrol workloads.
package kube

import (
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// Topology is what Discover found.
type Topology struct {
	Namespaces []Namespace
	Workloads  []Workload
	Services   []Service
	Waypoints  []Waypoint
	Nodes      []Node
	// Messages report what could not be read (e.g. nodes forbidden) and odd states.
	Messages []diag.Message
}

// Namespace is a namespace and its labels (injection and ambient enrolment).
type Namespace struct {
	Name   string
	Labels map[string]string
}

// Workload is a controller (or bare pod) and its pods.
type Workload struct {
	// Kind is Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet,
	// ReplicationController or Pod (bare pod).
	Kind      string
	Name      string
	Namespace string
	// Labels are the pod template's labels (a bare pod's own labels).
	Labels         map[string]string
	ServiceAccount string
	// Replicas is the number of pods found, or the desired count when none run.
	Replicas  int
	DataPlane DataPlane
	Pods      []Pod
	// NodeTypes are the distinct node types (instance-type label) of its pods.
	NodeTypes []string
	// Role is what the workload is when it is part of the mesh rather than an
	// application (RoleWaypoint, RoleGateway, RoleZtunnel, RoleControlPlane),
	// or RoleApplication.
	Role Role
}

// Role says whether a workload is an application or a part of the mesh.
type Role string

// Workload roles. Only applications are workloads of the call graph: the
// others are proxies or the control plane.
const (
	// RoleApplication is an application workload.
	RoleApplication Role = ""
	// RoleWaypoint is a waypoint proxy's Deployment (behind a Gateway of
	// class istio-waypoint).
	RoleWaypoint Role = "waypoint"
	// RoleGateway is another Gateway's Deployment (an ingress or egress
	// gateway deployed for a Gateway API Gateway).
	RoleGateway Role = "gateway"
	// RoleZtunnel is ztunnel's DaemonSet, the ambient node proxy.
	RoleZtunnel Role = "ztunnel"
	// RoleControlPlane is istiod.
	RoleControlPlane Role = "istiod"
)

// ID is "namespace/name".
func (w Workload) ID() string { return w.Namespace + "/" + w.Name }

// DataPlane is how a workload's traffic is proxied.
type DataPlane struct {
	Mode dataplane.Mode
	// Waypoint is "namespace/name" of the waypoint calls to the workload
	// cross (mode waypoint): its Services', else its own (WorkloadWaypoint).
	Waypoint string
	// WorkloadWaypoint is "namespace/name" of the waypoint of calls
	// addressed to its pods rather than to a Service (istio.io/use-waypoint
	// on the pod or namespace, for a waypoint for workload or all traffic).
	WorkloadWaypoint string
	// Native is true for a sidecar run as a native sidecar (init container with
	// restartPolicy Always).
	Native                  bool
	ProxyConcurrency        *int
	ProxyCPULimitMillicores *int
	ProxyImage              string
	Revision                string
	// Reason says what decided the mode, for messages.
	Reason string
}

// Pod is one pod of a workload.
type Pod struct {
	Name      string
	Namespace string
	IP        string
	Node      string
	Ready     bool
	// Sidecar is true when the pod runs an istio-proxy container.
	Sidecar bool
}

// Service is a Kubernetes Service and the workloads its selector picks.
type Service struct {
	Name      string
	Namespace string
	Selector  map[string]string
	Ports     []ServicePort
	// Workloads are IDs ("namespace/name") of the workloads behind it.
	Workloads []string
	// Waypoint is "namespace/name" of the waypoint that calls to the
	// service cross: istio.io/use-waypoint on the service, else on its
	// namespace, naming a waypoint for service or all traffic; "" for none.
	Waypoint string
	// Headless is true for a Service without a cluster IP: its clients
	// address the pods, so the pods' waypoint applies, not the service's.
	Headless bool
	Labels   map[string]string
	// ExportTo is its networking.istio.io/exportTo annotation split at
	// commas (the namespaces whose proxies see it); nil when unset.
	ExportTo []string
}

// ID is "namespace/name".
func (s Service) ID() string { return s.Namespace + "/" + s.Name }

// AnnotationExportTo limits the namespaces whose proxies see a Service.
const AnnotationExportTo = "networking.istio.io/exportTo"

// ReadyPods counts the workload's ready pods.
func (w Workload) ReadyPods() int {
	n := 0
	for _, p := range w.Pods {
		if p.Ready {
			n++
		}
	}
	return n
}

// ServicePort is one port of a Service.
type ServicePort struct {
	Name        string
	Port        int32
	TargetPort  string
	AppProtocol string
	// Protocol is the transport: TCP, UDP or SCTP.
	Protocol string
}

// Waypoint is a Gateway of class istio-waypoint.
type Waypoint struct {
	Name      string
	Namespace string
	// For is the gateway's istio.io/waypoint-for label (service, workload,
	// all, none); empty means service, Istio's default.
	For string
	// Replicas counts its Deployment's pods (the desired count when none
	// run); 0 when the Deployment was not found.
	Replicas int
}

// Waypoint traffic types: the values of istio.io/waypoint-for.
const (
	WaypointForService  = "service"
	WaypointForWorkload = "workload"
	WaypointForAll      = "all"
)

// Serves reports whether the waypoint takes traffic of the given type
// (WaypointForService or WaypointForWorkload).
func (w Waypoint) Serves(traffic string) bool {
	switch w.For {
	case "", WaypointForService:
		return traffic == WaypointForService
	case WaypointForAll:
		return true
	}
	return w.For == traffic
}

// ID is "namespace/name".
func (w Waypoint) ID() string { return w.Namespace + "/" + w.Name }

// Node holds the facts profiles are keyed by.
type Node struct {
	Name          string
	InstanceType  string
	KernelVersion string
	OS            string
	Arch          string
}

// NodeType is the key that selects a per-node-type profile: the instance-type
// label, or "unknown".
func (n Node) NodeType() string {
	if n.InstanceType == "" {
		return "unknown"
	}
	return n.InstanceType
}
