package cluster

import (
	"fmt"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/telemetry"
)

// meshTopology: client and server in namespace mesh with the given data
// planes; with a waypoint, server's Service uses mesh/wp, whose Deployment
// (2 replicas) is there too, as are an ingress gateway and ztunnel's pods on
// three nodes.
func meshTopology(client, server dataplane.Mode) *kube.Topology {
	w := func(name string, mode dataplane.Mode) kube.Workload {
		dp := kube.DataPlane{Mode: mode}
		if mode == dataplane.Waypoint {
			dp.Waypoint = "mesh/wp"
		}
		return kube.Workload{Kind: "Deployment", Name: name, Namespace: "mesh", Labels: map[string]string{"app": name}, Replicas: 1, DataPlane: dp}
	}
	svc := kube.Service{Name: "server", Namespace: "mesh", Ports: []kube.ServicePort{{Name: "http", Port: 80}}, Workloads: []string{"mesh/server"}}
	if server == dataplane.Waypoint {
		svc.Waypoint = "mesh/wp"
	}
	ztunnel := kube.Workload{Kind: "DaemonSet", Name: "ztunnel", Namespace: "istio-system", Role: kube.RoleZtunnel, Replicas: 3,
		Pods: []kube.Pod{{Name: "z1"}, {Name: "z2"}, {Name: "z3"}}}
	return &kube.Topology{
		Workloads: []kube.Workload{w("client", client), w("server", server),
			{Kind: "Deployment", Name: "wp", Namespace: "mesh", Role: kube.RoleWaypoint, Replicas: 2},
			{Kind: "Deployment", Name: "ingress-istio", Namespace: "mesh", Role: kube.RoleGateway}, ztunnel},
		Services:  []kube.Service{svc},
		Waypoints: []kube.Waypoint{{Name: "wp", Namespace: "mesh", Replicas: 2}},
		Nodes:     []kube.Node{{Name: "n1"}, {Name: "n2"}},
	}
}

func report(src, dst, proto, reporter string) telemetry.EdgeTraffic {
	t := telemetry.EdgeTraffic{SourceWorkload: src, SourceNamespace: "mesh", DestinationWorkload: dst, DestinationNamespace: "mesh",
		DestinationService: "server", Protocol: proto, ConnectionSecurity: "mutual_tls", Reporter: reporter}
	if proto == "tcp" {
		t.TCPSentBytesPerSecond, t.TCPReceivedBytesPerSecond = 1500, 500
	} else {
		t.RequestsPerSecond, t.HasSizes, t.MeanRequestBytes, t.MeanResponseBytes = 50, true, 200, 1500
	}
	return t
}

// TestOneEdgePerCall is issue 17's "one edge per call": for every mix of
// data planes and of the reports Istio's proxies make of one call (L7 from a
// sidecar or the waypoint; L4 from the ztunnels, directly or as legs through
// the waypoint), the graph has exactly one edge client -> server, with the
// L7 figures whenever there are any.
func TestOneEdgePerCall(t *testing.T) {
	type shape struct {
		name   string
		direct bool // an L4 report client -> server
		l4     []telemetry.EdgeTraffic
	}
	l4Shapes := []shape{
		{"no L4", false, nil},
		{"L4 from the client's ztunnel", true, []telemetry.EdgeTraffic{report("client", "server", "tcp", telemetry.ReporterSource)}},
		{"L4 from the server's ztunnel", true, []telemetry.EdgeTraffic{report("client", "server", "tcp", telemetry.ReporterDestination)}},
		{"L4 legs through the waypoint", false, []telemetry.EdgeTraffic{
			report("client", "wp", "tcp", telemetry.ReporterSource), report("wp", "server", "tcp", telemetry.ReporterDestination)}},
		{"L4 direct and legs", true, []telemetry.EdgeTraffic{report("client", "server", "tcp", telemetry.ReporterSource),
			report("client", "wp", "tcp", telemetry.ReporterSource), report("wp", "server", "tcp", telemetry.ReporterDestination)}},
	}
	modes := []dataplane.Mode{dataplane.Sidecar, dataplane.Ambient, dataplane.Waypoint}
	for _, client := range modes[:2] {
		for _, server := range modes {
			for _, l7 := range []string{"", telemetry.ReporterSource, telemetry.ReporterDestination, telemetry.ReporterWaypoint} {
				for _, s := range l4Shapes {
					if l7 == "" && s.l4 == nil {
						continue
					}
					name := fmt.Sprintf("%s->%s/L7 %q/%s", client, server, l7, s.name)
					var edges []telemetry.EdgeTraffic
					if l7 != "" {
						edges = append(edges, report("client", "server", "http", l7))
					}
					edges = append(edges, s.l4...)
					g, msgs := Build(Input{Name: "mesh", Topology: meshTopology(client, server), Traffic: &telemetry.Traffic{Edges: edges}})
					if client == dataplane.Sidecar && server == dataplane.Sidecar && l7 != "" && s.direct {
						continue // two sidecars: a direct L4 report is a TCP port's call of its own (below)
					}
					if len(g.Edges) != 1 || g.Edges[0].From != "mesh/client" || g.Edges[0].To != "mesh/server" {
						t.Errorf("%s: edges %+v\n%v", name, g.Edges, msgs)
						continue
					}
					e := g.Edges[0]
					if l7 != "" && (*e.RequestsPerSecond != 50 || *e.RequestBytes != 200) {
						t.Errorf("%s: the L7 figures were not kept: %+v", name, e)
					}
					if l7 == "" && !(*e.RequestsPerSecond > 0) {
						t.Errorf("%s: an L4-only call has no rate: %+v", name, e)
					}
					if _, err := callgraph.Resolve(g); err != nil {
						t.Errorf("%s: %v", name, err)
					}
				}
			}
		}
	}
	// Two sidecars that report an HTTP and a TCP call to one Service make
	// two edges: the Service has an HTTP and a TCP port.
	g, _ := Build(Input{Name: "mesh", Topology: meshTopology(dataplane.Sidecar, dataplane.Sidecar), Traffic: &telemetry.Traffic{Edges: []telemetry.EdgeTraffic{
		report("client", "server", "http", telemetry.ReporterSource), report("client", "server", "tcp", telemetry.ReporterSource)}}})
	if len(g.Edges) != 2 {
		t.Errorf("sidecars' HTTP and TCP calls: %d edges, want 2", len(g.Edges))
	}
}

// TestBuildAmbientFacts: proxies are no workloads, waypoints are listed with
// their replicas, nodes are the ztunnels found, the server's waypoint is
// kept, and an ingress gateway's calls enter the mesh at their server.
func TestBuildAmbientFacts(t *testing.T) {
	top := meshTopology(dataplane.Ambient, dataplane.Waypoint)
	in := report("ingress-istio", "client", "http", telemetry.ReporterSource)
	in.DestinationService = "client"
	g, msgs := Build(Input{Name: "mesh", Topology: top, Traffic: &telemetry.Traffic{Edges: []telemetry.EdgeTraffic{
		in, report("client", "server", "http", telemetry.ReporterWaypoint)}, Messages: []diag.Message{
		diag.New(diag.ReporterFallback, "mesh/wp -> mesh/server", "leg"), diag.New(diag.ReporterFallback, "mesh/client -> mesh/server", "call")}}})
	if diag.Has(msgs, diag.ReporterFallback, "mesh/wp") || !diag.Has(msgs, diag.ReporterFallback, "mesh/client -> mesh/server") {
		t.Errorf("notes about the waypoint's legs are kept, or about the call dropped: %v", msgs)
	}
	if len(g.Workloads) != 2 {
		t.Errorf("workloads = %+v, want client and server only", g.Workloads)
	}
	if g.Nodes == nil || *g.Nodes != 3 || len(g.Waypoints) != 1 || g.Waypoints[0].ID() != "mesh/wp" || *g.Waypoints[0].Replicas != 2 {
		t.Errorf("nodes %v waypoints %+v", g.Nodes, g.Waypoints)
	}
	server := g.Workloads[1]
	if server.Mode != dataplane.Ambient || server.Waypoint != "wp" {
		t.Errorf("server = %+v, want ambient behind wp", server)
	}
	client := g.Workloads[0]
	if !client.Entry || client.RequestsPerSecond == nil || *client.RequestsPerSecond != 50 {
		t.Errorf("client = %+v, want an entry point with the gateway's 50 req/s", client)
	}
	if len(g.Edges) != 1 || g.Edges[0].Waypoint != "" {
		t.Errorf("edges = %+v", g.Edges)
	}
	// Without ztunnel pods in view, the nodes are the cluster's.
	top.Workloads = top.Workloads[:4]
	g, _ = Build(Input{Name: "mesh", Topology: top})
	if g.Nodes == nil || *g.Nodes != 2 {
		t.Errorf("nodes = %v, want the cluster's 2", g.Nodes)
	}
	if diag.Has(msgs, diag.TelemetryIncomplete, "") {
		t.Errorf("unexpected: %v", msgs)
	}
}
