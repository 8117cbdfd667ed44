package cluster

import (
	"context"
	"strings"
	"testing"

	netapi "istio.io/api/networking/v1alpha3"
	netv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/mesh"
	"github.com/meshinsight/kubectl-meshinsight/pkg/telemetry"
)

// shopTopology: web calls api in shop; api-admin shares api's app label;
// batch calls nothing; ops/exporter is a second namespace; istiod is the
// control plane (no sidecar, but its pods are endpoints).
func shopTopology() *kube.Topology {
	w := func(ns, name string, labels map[string]string, ready int, mode dataplane.Mode, role kube.Role) kube.Workload {
		out := kube.Workload{Kind: "Deployment", Namespace: ns, Name: name, Labels: labels, Replicas: ready,
			DataPlane: kube.DataPlane{Mode: mode}, Role: role}
		for range ready {
			out.Pods = append(out.Pods, kube.Pod{Namespace: ns, Ready: true, Sidecar: mode == dataplane.Sidecar})
		}
		return out
	}
	svc := func(ns, name string, selector map[string]string, workloads ...string) kube.Service {
		return kube.Service{Namespace: ns, Name: name, Selector: selector, Workloads: workloads,
			Ports: []kube.ServicePort{{Name: "http", Port: 80}}}
	}
	return &kube.Topology{
		Namespaces: []kube.Namespace{{Name: "shop"}, {Name: "ops"}, {Name: "istio-system"}},
		Workloads: []kube.Workload{
			w("shop", "web", map[string]string{"app": "web", "pod-template-hash": "abc"}, 2, dataplane.Sidecar, kube.RoleApplication),
			w("shop", "api", map[string]string{"app": "api"}, 3, dataplane.Sidecar, kube.RoleApplication),
			w("shop", "api-admin", map[string]string{"app": "api", "tier": "admin"}, 1, dataplane.Sidecar, kube.RoleApplication),
			w("shop", "batch", map[string]string{"app": "batch"}, 1, dataplane.Sidecar, kube.RoleApplication),
			w("ops", "exporter", map[string]string{"app": "exporter"}, 1, dataplane.Sidecar, kube.RoleApplication),
			w("istio-system", "istiod", map[string]string{"app": "istiod"}, 1, dataplane.None, kube.RoleControlPlane),
		},
		Services: []kube.Service{
			svc("shop", "web", map[string]string{"app": "web"}, "shop/web"),
			svc("shop", "api", map[string]string{"app": "api"}, "shop/api", "shop/api-admin"),
			svc("ops", "exporter", map[string]string{"app": "exporter"}, "ops/exporter"),
			{Namespace: "ops", Name: "exporter-private", Selector: map[string]string{"app": "exporter"}, Workloads: []string{"ops/exporter"},
				Ports: []kube.ServicePort{{Name: "http", Port: 9100}}, ExportTo: []string{"."}},
			svc("istio-system", "istiod", map[string]string{"app": "istiod"}, "istio-system/istiod"),
		},
	}
}

func shopMesh(t *testing.T) *mesh.Config {
	t.Helper()
	cfg, _, err := mesh.Load(context.Background(), istiofake.NewSimpleClientset(sidecarFor("shop", "batch", "batch", "./*")), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestBuildProxyConfigs(t *testing.T) {
	traffic := &telemetry.Traffic{Source: telemetry.SourcePrometheus, Edges: []telemetry.EdgeTraffic{
		{SourceWorkload: "web", SourceNamespace: "shop", DestinationWorkload: "api", DestinationNamespace: "shop",
			DestinationService: "api", Protocol: "http", RequestsPerSecond: 10, Reporter: telemetry.ReporterSource},
	}}
	g, msgs := Build(Input{Name: "all-namespaces", Topology: shopTopology(), Mesh: shopMesh(t), Traffic: traffic})
	if _, err := callgraph.Resolve(g); err != nil {
		t.Fatalf("built graph does not resolve: %v", err)
	}
	got := map[string]callgraph.ProxyConfig{}
	for _, w := range g.Workloads {
		if w.ProxyConfig != nil {
			got[w.ID()] = *w.ProxyConfig
		}
	}
	// Without Sidecars: web 2, api 4 (api and api-admin), exporter 1,
	// istiod 1 endpoints, one HTTP port 80 shared; exporter-private is
	// seen in ops only. batch's Sidecar imports ./* (web, api).
	want := map[string]callgraph.ProxyConfig{
		"shop/web":     {Services: 4, Clusters: 4, Endpoints: 8, Listeners: 1, Routes: 4},
		"shop/api":     {Services: 4, Clusters: 4, Endpoints: 8, Listeners: 1, Routes: 4},
		"shop/batch":   {Services: 2, Clusters: 2, Endpoints: 6, Listeners: 1, Routes: 2},
		"ops/exporter": {Services: 5, Clusters: 5, Endpoints: 9, Listeners: 2, Routes: 5},
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %+v, want %+v", id, got[id], w)
		}
	}
	if len(g.Services) != 5 || g.Services[1].Name != "api" || strings.Join(g.Services[1].Workloads, ",") != "api,api-admin" ||
		g.Services[1].Endpoints != 4 || len(g.Services[4].Workloads) != 0 {
		t.Errorf("services = %+v", g.Services)
	}
	if len(g.Edges) != 1 || g.Edges[0].Service != "shop/api" {
		t.Errorf("edges = %+v", g.Edges)
	}
	for _, m := range msgs {
		if m.Code == diag.ProxyConfigPartial {
			t.Errorf("three namespaces read, yet: %v", m)
		}
	}

	// The Sidecars of scope=observed: web imports api, the others nothing.
	plans, notes := ObservedSidecars(Input{Topology: shopTopology(), Mesh: shopMesh(t)}, g)
	hosts := map[string]string{}
	for _, p := range plans {
		hosts[p.Namespace+"/"+p.Name] = strings.Join(p.Hosts, ",")
		if p.Name == "web"+SidecarSuffix && (len(p.Selector) != 1 || p.Selector["app"] != "web") {
			t.Errorf("web's selector %v: want app=web without pod-template-hash", p.Selector)
		}
	}
	wantHosts := map[string]string{"shop/web-observed": "shop/api.shop.svc.cluster.local", "shop/api-observed": "~/*",
		"shop/api-admin-observed": "~/*", "shop/batch-observed": "~/*", "ops/exporter-observed": "~/*"}
	if len(hosts) != len(wantHosts) {
		t.Errorf("plans %v, want %v", hosts, wantHosts)
	}
	for k, v := range wantHosts {
		if hosts[k] != v {
			t.Errorf("%s: hosts %q, want %q", k, hosts[k], v)
		}
	}
	var text []string
	for _, n := range notes {
		text = append(text, n.String())
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{
		"(shop/api) the planned workloadSelector map[app:api] also selects shop/api-admin",
		"(shop/batch) Sidecar shop/batch already selects the workload",
		"PassthroughCluster",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("notes lack %q:\n%s", want, all)
		}
	}
}

// TestProxyConfigOneNamespace: reading one namespace, the counts cover its
// Services only, and that is said.
func TestProxyConfigOneNamespace(t *testing.T) {
	top := shopTopology()
	top.Namespaces = top.Namespaces[:1]
	_, msgs := Build(Input{Name: "shop", Topology: top})
	found := false
	for _, m := range msgs {
		found = found || m.Code == diag.ProxyConfigPartial && m.Subject == "shop"
	}
	if !found {
		t.Errorf("no %s message: %v", diag.ProxyConfigPartial, msgs)
	}
}

func sidecarFor(ns, name, app string, hosts ...string) *netv1.Sidecar {
	sc := &netv1.Sidecar{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	sc.Spec.WorkloadSelector = &netapi.WorkloadSelector{Labels: map[string]string{"app": app}}
	sc.Spec.Egress = []*netapi.IstioEgressListener{{Hosts: hosts}}
	return sc
}
