// Package cluster assembles the call graph of a live cluster: the topology read by
// pkg/kube, the per-edge policy of pkg/mesh and the observed traffic of
// pkg/telemetry become one callgraph.Graph, with every guess reported as a
// message. Collect does the reading (choosing and falling back between telemetry
// sources); Build is the pure assembly, testable without a cluster.
package cluster

import (
	"fmt"
	"maps"
	"slices"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/mesh"
	"github.com/meshinsight/kubectl-meshinsight/pkg/telemetry"
)

// Input is what Build assembles.
type Input struct {
	// Name labels the graph (e.g. the namespace or "all-namespaces").
	Name     string
	Topology *kube.Topology
	// Mesh may be nil (Istio not installed): Istio's defaults apply.
	Mesh *mesh.Config
	// Traffic may be nil: edges then come from the mesh configuration, with
	// default rates, and are reported as assumed.
	Traffic *telemetry.Traffic
}

// Build assembles the graph. It never fails: what it cannot place it reports.
// Waypoints, gateways, ztunnel and istiod are proxies or the control plane,
// never workloads of the graph: the waypoints are listed with their
// replicas, and the nodes (one ztunnel each) are counted.
func Build(in Input) (*callgraph.Graph, []diag.Message) {
	b := &builder{in: in, g: &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
		Metadata: callgraph.Metadata{Name: in.Name}}, index: map[string]int{}, services: map[string]mesh.Service{},
		roles: map[string]kube.Role{}, kubeWorkloads: map[string]kube.Workload{}, kubeServices: map[string]kube.Service{}}
	b.notes.AddAll(in.Topology.Messages)
	ztunnels := 0
	for _, w := range in.Topology.Workloads {
		b.roles[w.ID()] = w.Role
		b.kubeWorkloads[w.ID()] = w
		if w.Role == kube.RoleZtunnel {
			ztunnels += w.Replicas
		}
		if w.Role == kube.RoleApplication {
			b.addWorkload(w)
		}
	}
	b.addMeshFacts(ztunnels)
	for _, s := range in.Topology.Services {
		ms := meshService(s)
		b.services[s.ID()] = ms
		b.kubeServices[s.ID()] = s
		b.serviceList = append(b.serviceList, ms)
	}
	if in.Traffic != nil {
		b.notes.AddAll(b.aboutCalls(in.Traffic.Messages))
		calls, external := b.joinCalls(in.Traffic.Edges)
		for _, t := range calls {
			b.addObserved(t)
		}
		for _, id := range slices.Sorted(maps.Keys(external)) {
			ns, name := splitID(id)
			b.addExternal(b.workload(ns, name, dataplane.Sidecar), external[id])
		}
		if len(in.Traffic.Edges) == 0 {
			b.notes.Add(diag.New(diag.TelemetryIncomplete, string(in.Traffic.Source), "no traffic observed in the window; the graph has no edges"))
		}
	} else {
		b.addCandidates()
	}
	b.finishEntries()
	b.addProxyConfigs()
	return b.g, b.notes.Sorted()
}

// addMeshFacts lists the waypoints with their replicas and sets the node
// count: the ztunnel pods found, else the cluster's nodes.
func (b *builder) addMeshFacts(ztunnels int) {
	for _, w := range b.in.Topology.Waypoints {
		cw := callgraph.Waypoint{Name: w.Name, Namespace: w.Namespace}
		if w.Replicas > 0 {
			r := w.Replicas
			cw.Replicas = &r
		}
		b.g.Waypoints = append(b.g.Waypoints, cw)
	}
	nodes := ztunnels
	if nodes == 0 {
		nodes = len(b.in.Topology.Nodes)
	}
	if nodes > 0 {
		b.g.Nodes = &nodes
	}
}

// builder assembles one graph. Workloads and services are converted to the
// mesh package's types once, as they are added, not once per edge.
type builder struct {
	in    Input
	g     *callgraph.Graph
	index map[string]int // workload ID → index in g.Workloads
	// workloads holds each graph workload as the policy model sees it, by
	// index in g.Workloads.
	workloads []mesh.Workload
	// services and serviceList hold the discovered Services, by ID and in
	// discovery order.
	services    map[string]mesh.Service
	serviceList []mesh.Service
	external    map[int]float64 // requests per second from outside the mesh, per workload
	// roles, kubeWorkloads and kubeServices index the topology by ID, proxies
	// and control plane included.
	roles         map[string]kube.Role
	kubeWorkloads map[string]kube.Workload
	kubeServices  map[string]kube.Service
	notes         diag.List
}

func (b *builder) addWorkload(w kube.Workload) int {
	replicas := max(w.Replicas, 1)
	cw := callgraph.Workload{Name: w.Name, Namespace: w.Namespace, Mode: w.DataPlane.Mode, Replicas: &replicas,
		ProxyConcurrency: w.DataPlane.ProxyConcurrency, ProxyCPULimitMillicores: w.DataPlane.ProxyCPULimitMillicores}
	if w.DataPlane.Waypoint != "" {
		cw.Mode, cw.Waypoint = dataplane.Ambient, shortRef(w.DataPlane.Waypoint, w.Namespace)
	}
	if len(w.NodeTypes) > 0 {
		cw.NodeType = w.NodeTypes[0]
	}
	b.g.Workloads = append(b.g.Workloads, cw)
	b.workloads = append(b.workloads, meshWorkload(w))
	b.index[w.ID()] = len(b.g.Workloads) - 1
	return len(b.g.Workloads) - 1
}

// shortRef writes "namespace/name" as "name" when it is in namespace ns.
func shortRef(id, ns string) string {
	if n, name := splitID(id); n == ns {
		return name
	}
	return id
}

// edgeWaypoint is the waypoint a call to service svc served by workload
// to crosses: the Service's, or for a headless Service (its clients address
// the pods) or a Service without one, the pods' own.
func (b *builder) edgeWaypoint(to string, svc kube.Service, known bool) string {
	w := b.kubeWorkloads[to]
	if w.DataPlane.Mode.Capture() != dataplane.Ambient {
		return ""
	}
	if known && !svc.Headless && svc.Waypoint != "" {
		return svc.Waypoint
	}
	if !known {
		return w.DataPlane.Waypoint
	}
	return w.DataPlane.WorkloadWaypoint
}

// addExternal records requests entering the mesh at workload i.
func (b *builder) addExternal(i int, rps float64) {
	if b.external == nil {
		b.external = map[int]float64{}
	}
	b.external[i] += rps
}

// workload finds a workload by namespace and name, adding a stub for one outside
// the discovered namespaces.
func (b *builder) workload(ns, name string, mode dataplane.Mode) int {
	if i, ok := b.index[ns+"/"+name]; ok {
		return i
	}
	b.notes.Add(diag.New(diag.OutsideTopology, ns+"/"+name, "workload is outside the discovered namespaces; assumed %s with 1 replica", mode))
	return b.addWorkload(kube.Workload{Kind: "Unknown", Name: name, Namespace: ns, Replicas: 1, DataPlane: kube.DataPlane{Mode: mode}})
}

func meshWorkload(w kube.Workload) mesh.Workload {
	return mesh.Workload{Namespace: w.Namespace, Name: w.Name, Labels: w.Labels, Mode: w.DataPlane.Mode,
		ServiceAccount: w.ServiceAccount, Waypoint: w.DataPlane.Waypoint, ReadyPods: w.ReadyPods()}
}

func meshService(s kube.Service) mesh.Service {
	out := mesh.Service{Namespace: s.Namespace, Name: s.Name, Selector: s.Selector, ExportTo: s.ExportTo}
	for _, p := range s.Ports {
		out.Ports = append(out.Ports, mesh.Port{Name: p.Name, Port: p.Port, TargetPort: p.TargetPort, AppProtocol: p.AppProtocol, Protocol: p.Protocol})
	}
	return out
}

// observedProtocol maps Istio's request_protocol label to ours.
func observedProtocol(p string) (dataplane.Protocol, bool) {
	switch p {
	case "http":
		return dataplane.HTTP, true
	case "grpc":
		return dataplane.GRPC, true
	case "tcp":
		return dataplane.TCP, true
	case "http2", "h2", "h2c":
		return dataplane.HTTP2, true
	}
	return "", false
}

// port picks the service port an observed edge used: the first whose configured
// protocol family matches what telemetry saw, else the first port.
func (b *builder) port(svc mesh.Service, observed dataplane.Protocol) mesh.Port {
	for _, p := range svc.Ports {
		proto, _, _ := b.in.Mesh.Protocol(svc, p)
		if proto.L7() == observed.L7() {
			return p
		}
	}
	return svc.Ports[0]
}

// addObserved turns one edge of observed traffic into a graph edge.
func (b *builder) addObserved(t telemetry.EdgeTraffic) {
	observed, known := observedProtocol(t.Protocol)
	if !known {
		observed = dataplane.TCP
	}
	// For workloads outside the topology, the reporter hints at the data plane:
	// only a sidecar reports as source; a waypoint reports for ambient workloads.
	clientMode, serverMode := dataplane.None, dataplane.Sidecar
	switch t.Reporter {
	case telemetry.ReporterSource:
		clientMode = dataplane.Sidecar
	case telemetry.ReporterWaypoint:
		clientMode, serverMode = dataplane.Ambient, dataplane.Waypoint
	}
	to := b.workload(t.DestinationNamespace, t.DestinationWorkload, serverMode)
	if t.SourceWorkload == "" || t.SourceWorkload == "unknown" {
		// Traffic from outside the mesh (ingress without identity, or clients
		// without a proxy): it makes the destination an entry point.
		b.addExternal(to, t.RequestsPerSecond)
		return
	}
	from := b.workload(t.SourceNamespace, t.SourceWorkload, clientMode)
	e := callgraph.Edge{From: b.g.Workloads[from].Namespace + "/" + b.g.Workloads[from].Name,
		To: b.g.Workloads[to].Namespace + "/" + b.g.Workloads[to].Name, Protocol: observed}

	svcID := t.DestinationNamespace + "/" + t.DestinationService
	server := b.edgeServer(&e, to, svcID)
	svc, ok := b.services[svcID]
	if ok {
		e.Service = svcID
	}
	if ok && len(svc.Ports) > 0 {
		port := b.port(svc, observed)
		pol := b.in.Mesh.Edge(b.workloads[from], server, svc, port)
		b.notes.AddAll(pol.Messages)
		if pol.ProtocolSource != mesh.ProtocolSniffed && pol.Protocol != "" {
			e.Protocol = pol.Protocol // configured protocol wins over what was sniffed
		}
		mtls := pol.MTLS
		e.MTLS = &mtls
		if t.ConnectionSecurity == "mutual_tls" && !mtls || t.ConnectionSecurity == "none" && mtls {
			b.notes.Add(diag.New(diag.TelemetryDisagrees, t.Name(), "configuration predicts mTLS %v (%s) but telemetry observed %s; using the configuration",
				mtls, pol.MTLSReason, t.ConnectionSecurity))
		}
		applyPolicy(&e, pol)
	} else {
		b.notes.Add(diag.New(diag.OutsideTopology, t.Name(), "service %s/%s not found; protocol and mTLS taken from telemetry", t.DestinationNamespace, t.DestinationService))
		mtls := t.ConnectionSecurity == "mutual_tls"
		e.MTLS = &mtls
	}
	b.observedRates(&e, t, observed)
	if t.HasSizes {
		req, resp := t.MeanRequestBytes, t.MeanResponseBytes
		e.RequestBytes, e.ResponseBytes = &req, &resp
	} else {
		b.notes.Add(diag.New(diag.TelemetryIncomplete, t.Name(), "no message sizes observed; default sizes used"))
	}
	b.g.Edges = append(b.g.Edges, e)
}

// edgeServer is the server workload as the policy model sees it for a call
// to Service svcID: behind the waypoint that call crosses. When that is not
// the workload's own waypoint, the edge names it (or none).
func (b *builder) edgeServer(e *callgraph.Edge, to int, svcID string) mesh.Workload {
	ksvc, known := b.kubeServices[svcID]
	server := b.workloads[to]
	if wp := b.edgeWaypoint(server.ID(), ksvc, known); wp != server.Waypoint {
		e.Waypoint = callgraph.NoWaypoint
		server.Mode, server.Waypoint = dataplane.Ambient, ""
		if wp != "" {
			e.Waypoint = shortRef(wp, server.Namespace)
			server.Mode, server.Waypoint = dataplane.Waypoint, wp
		}
	}
	return server
}

// observedRates sets an edge's rates from what telemetry observed: bytes
// and connections for TCP, requests for L7. An L7 call that only ztunnels
// saw gets a request rate from its bytes at the default sizes.
func (b *builder) observedRates(e *callgraph.Edge, t telemetry.EdgeTraffic, observed dataplane.Protocol) {
	if e.Protocol == dataplane.TCP {
		if bps := t.TCPSentBytesPerSecond + t.TCPReceivedBytesPerSecond; bps > 0 {
			e.BytesPerSecond = &bps
		}
		if c := t.TCPConnectionsOpenedPerSecond; c > 0 {
			e.ConnectionsPerSecond = &c
		}
		if t.RequestsPerSecond > 0 {
			r := t.RequestsPerSecond
			e.RequestsPerSecond = &r
		}
		return
	}
	r := t.RequestsPerSecond
	if r == 0 && observed == dataplane.TCP {
		r = (t.TCPSentBytesPerSecond + t.TCPReceivedBytesPerSecond) / (callgraph.DefaultRequestBytes + callgraph.DefaultResponseBytes)
		b.notes.Add(diag.New(diag.TelemetryIncomplete, t.Name(),
			"only L4 (ztunnel) telemetry for this %s call: requests per second derived from bytes per second with the default sizes", e.Protocol))
	}
	e.RequestsPerSecond = &r
}

// applyPolicy copies retries, mirroring, filters and tracing into an edge.
func applyPolicy(e *callgraph.Edge, pol mesh.EdgePolicy) {
	e.Retries = pol.Retries
	if pol.MirrorPercent > 0 {
		m := pol.MirrorPercent
		e.MirrorPercent = &m
	}
	for _, f := range pol.Filters {
		e.Filters = append(e.Filters, mesh.FilterKind(f))
	}
	e.TracingSamplingPercent = pol.TracingSamplingPercent
}

// addCandidates derives edges from configuration when no telemetry exists.
func (b *builder) addCandidates() {
	cands := b.in.Mesh.CandidateEdges(b.workloads, b.serviceList)
	b.notes.Add(diag.New(diag.TelemetryIncomplete, "telemetry",
		"no telemetry used: %d edges derived from AuthorizationPolicy, Sidecar and VirtualService configuration, with default rates and sizes", len(cands)))
	for _, c := range cands {
		from, okF := b.index[c.From]
		to, okT := b.index[c.To]
		svc, okS := b.services[c.Service]
		if !okF || !okT {
			continue
		}
		e := callgraph.Edge{From: c.From, To: c.To}
		if okS {
			e.Service = c.Service
		}
		if okS && len(svc.Ports) > 0 {
			pol := b.in.Mesh.Edge(b.workloads[from], b.workloads[to], svc, svc.Ports[0])
			b.notes.AddAll(pol.Messages)
			e.Protocol = pol.Protocol
			mtls := pol.MTLS
			e.MTLS = &mtls
			applyPolicy(&e, pol)
		}
		b.notes.Add(diag.New(diag.AssumedEdge, fmt.Sprintf("%s->%s", c.From, c.To), "edge assumed from %s", c.Reason))
		b.g.Edges = append(b.g.Edges, e)
	}
}

// finishEntries marks workloads that receive traffic from outside as entry
// points, with that rate.
func (b *builder) finishEntries() {
	for _, i := range slices.Sorted(maps.Keys(b.external)) {
		r := b.external[i]
		if r <= 0 {
			continue
		}
		b.g.Workloads[i].Entry = true
		b.g.Workloads[i].RequestsPerSecond = &r
	}
}
