package cluster

import (
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/telemetry"
)

func topology() *kube.Topology {
	w := func(name string, mode dataplane.Mode, replicas int) kube.Workload {
		return kube.Workload{Kind: "Deployment", Name: name, Namespace: "bookinfo", Labels: map[string]string{"app": name},
			Replicas: replicas, DataPlane: kube.DataPlane{Mode: mode}, NodeTypes: []string{"m5.large"}}
	}
	svc := func(name string, port kube.ServicePort) kube.Service {
		return kube.Service{Name: name, Namespace: "bookinfo", Selector: map[string]string{"app": name}, Ports: []kube.ServicePort{port},
			Workloads: []string{"bookinfo/" + name}}
	}
	return &kube.Topology{
		Workloads: []kube.Workload{w("productpage", dataplane.Sidecar, 2), w("reviews", dataplane.Sidecar, 1), w("ratings", dataplane.None, 1),
			{Kind: "Deployment", Name: "waypoint", Namespace: "bookinfo", Role: "waypoint"}},
		Services: []kube.Service{
			svc("reviews", kube.ServicePort{Name: "http", Port: 9080}),
			svc("ratings", kube.ServicePort{Name: "tcp-db", Port: 5432}),
		},
	}
}

func TestBuildFromTraffic(t *testing.T) {
	traffic := &telemetry.Traffic{Source: telemetry.SourcePrometheus, Edges: []telemetry.EdgeTraffic{
		{SourceWorkload: "unknown", SourceNamespace: "unknown", DestinationWorkload: "productpage", DestinationNamespace: "bookinfo",
			DestinationService: "productpage", Protocol: "http", RequestsPerSecond: 50, Reporter: telemetry.ReporterDestination},
		{SourceWorkload: "productpage", SourceNamespace: "bookinfo", DestinationWorkload: "reviews", DestinationNamespace: "bookinfo",
			DestinationService: "reviews", Protocol: "http", ConnectionSecurity: "mutual_tls", RequestsPerSecond: 10, HasSizes: true,
			MeanRequestBytes: 300, MeanResponseBytes: 1200, Reporter: telemetry.ReporterSource},
		{SourceWorkload: "reviews", SourceNamespace: "bookinfo", DestinationWorkload: "ratings", DestinationNamespace: "bookinfo",
			DestinationService: "ratings", Protocol: "tcp", TCPSentBytesPerSecond: 4000, TCPReceivedBytesPerSecond: 1000,
			TCPConnectionsOpenedPerSecond: 0.5, Reporter: telemetry.ReporterSource},
		{SourceWorkload: "reviews", SourceNamespace: "bookinfo", DestinationWorkload: "cache", DestinationNamespace: "other",
			DestinationService: "cache", Protocol: "tcp", TCPSentBytesPerSecond: 10, Reporter: telemetry.ReporterSource},
	}}
	g, msgs := Build(Input{Name: "bookinfo", Topology: topology(), Traffic: traffic})
	if _, err := callgraph.Resolve(g); err != nil {
		t.Fatalf("built graph does not resolve: %v", err)
	}
	if len(g.Workloads) != 4 { // three discovered (waypoint skipped) + other/cache
		t.Errorf("workloads = %+v", g.Workloads)
	}
	pp := g.Workloads[0]
	if !pp.Entry || *pp.RequestsPerSecond != 50 || *pp.Replicas != 2 || pp.NodeType != "m5.large" {
		t.Errorf("productpage = %+v", pp)
	}
	if len(g.Edges) != 3 {
		t.Fatalf("edges = %+v", g.Edges)
	}
	e := g.Edges[0]
	if e.Protocol != dataplane.HTTP || !*e.MTLS || *e.RequestsPerSecond != 10 || *e.RequestBytes != 300 || *e.ResponseBytes != 1200 {
		t.Errorf("productpage->reviews = %+v", e)
	}
	if e.Retries == nil || e.Retries.Attempts != 2 {
		t.Errorf("Istio's default retries not applied: %+v", e.Retries)
	}
	db := g.Edges[1]
	if db.Protocol != dataplane.TCP || *db.MTLS || *db.BytesPerSecond != 5000 || *db.ConnectionsPerSecond != 0.5 || db.RequestsPerSecond != nil {
		t.Errorf("reviews->ratings = %+v", db)
	}
	text := ""
	for _, m := range msgs {
		text += m.String() + "\n"
	}
	for _, want := range []diag.Code{diag.OutsideTopology, diag.TelemetryIncomplete} {
		if !strings.Contains(text, string(want)) {
			t.Errorf("messages lack %s:\n%s", want, text)
		}
	}
}

func TestBuildWithoutTrafficUsesConfiguration(t *testing.T) {
	g, msgs := Build(Input{Name: "bookinfo", Topology: topology()})
	if len(g.Edges) != 0 || len(g.Workloads) != 3 {
		t.Errorf("graph = %+v", g)
	}
	found := false
	for _, m := range msgs {
		found = found || m.Code == diag.TelemetryIncomplete
	}
	if !found {
		t.Errorf("missing telemetry not reported: %v", msgs)
	}
}
