package callgraph

import (
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

const shopWithServices = `apiVersion: meshinsight.dev/v1
kind: CallGraph
istioNamespace: mesh-root
workloads:
  - {name: web, namespace: shop, replicas: 2, proxyConfig: {services: 2, clusters: 3, endpoints: 5, listeners: 2, routes: 2}}
  - {name: api, namespace: shop, replicas: 3}
  - {name: db, namespace: data, mode: none}
edges:
  - {from: web, to: api, service: shop/api}
  - {from: api, to: db}
services:
  - {name: web, namespace: shop, workloads: [web], clusters: 1, endpoints: 2}
  - {name: api, namespace: shop, workloads: [api], clusters: 2, endpoints: 6, listeners: 1, routes: 2}
  - {name: db, namespace: data, workloads: [db], clusters: 1, endpoints: 1}
`

func TestResolveProxyConfig(t *testing.T) {
	cases := []struct {
		name      string
		graph     string
		want      map[string]ProxyConfig
		defaulted map[string]bool
		// note is a part of the proxyConfig assumption.
		note     string
		services int
		istio    string
	}{
		{
			name:  "listed services, one workload set",
			graph: shopWithServices,
			want: map[string]ProxyConfig{
				"shop/web": {Services: 2, Clusters: 3, Endpoints: 5, Listeners: 2, Routes: 2},
				// Every service: 3 services, 4 clusters, 9 endpoints.
				"shop/api": {Services: 3, Clusters: 4, Endpoints: 9, Listeners: 1, Routes: 2},
				"data/db":  {Services: 3, Clusters: 4, Endpoints: 9, Listeners: 1, Routes: 2},
			},
			defaulted: map[string]bool{"shop/api": true, "data/db": true},
			note:      "proxyConfig not set for 2 sidecar workload(s); each is taken to see the 3 services listed: 4 clusters, 9 endpoints",
			services:  3, istio: "mesh-root",
		},
		{
			name: "no services: a workload is a service of one port",
			graph: `apiVersion: meshinsight.dev/v1
kind: CallGraph
workloads:
  - {name: a, replicas: 2}
  - {name: b, replicas: 3}
edges: [{from: a, to: b}]
`,
			want:      map[string]ProxyConfig{"default/a": {Services: 2, Clusters: 2, Endpoints: 5}, "default/b": {Services: 2, Clusters: 2, Endpoints: 5}},
			defaulted: map[string]bool{"default/a": true, "default/b": true},
			note:      "each is taken to see every workload as one Service with one port (2; services not listed): 2 clusters, 5 endpoints",
			services:  2, istio: DefaultIstioNamespace,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := Parse("g.yaml", []byte(c.graph))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Resolve(g)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range r.Workloads {
				want, ok := c.want[w.ID()]
				if !ok {
					continue
				}
				if w.Config != want || w.ConfigDefaulted != c.defaulted[w.ID()] {
					t.Errorf("%s: config %+v (defaulted %v), want %+v (%v)", w.ID(), w.Config, w.ConfigDefaulted, want, c.defaulted[w.ID()])
				}
			}
			if m := r.ConfigAssumption(len(c.defaulted)); m.Code != diag.DefaultUsed || !strings.Contains(m.Message, c.note) {
				t.Errorf("proxyConfig assumption %q, want one containing %q", m.Message, c.note)
			}
			if len(r.Services) != c.services || r.IstioNamespace != c.istio {
				t.Errorf("%d services in %s, want %d in %s", len(r.Services), r.IstioNamespace, c.services, c.istio)
			}
		})
	}
}

func TestValidateServices(t *testing.T) {
	bad := strings.Replace(shopWithServices, "workloads: [api], clusters: 2", "workloads: [apx], clusters: -2", 1)
	bad = strings.Replace(bad, "service: shop/api", "service: shop/nope", 1)
	bad = strings.Replace(bad, "endpoints: 5, listeners", "endpoints: -5, listeners", 1)
	_, err := Parse("bad.yaml", []byte(bad))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`bad.yaml:5:87: workloads[0].proxyConfig.endpoints: must not be negative, got -5`,
		`bad.yaml:9:26: edges[0].service: unknown service "shop/nope" (not under services)`,
		`bad.yaml:13:52: services[1].clusters: must not be negative, got -2`,
		`bad.yaml:13:46: services[1].workloads[0]: unknown workload "apx" in namespace "shop"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestServicesOf(t *testing.T) {
	g, err := Parse("g.yaml", []byte(shopWithServices))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Resolve(g)
	if err != nil {
		t.Fatal(err)
	}
	api := r.WorkloadIndex()["shop/api"]
	if got := r.ServicesOf(api); len(got) != 1 || r.Services[got[0]].ID != "shop/api" {
		t.Errorf("services of api: %v", got)
	}
	if i, ok := r.ServiceIndex()["data/db"]; !ok || r.Services[i].Footprint.Clusters != 1 {
		t.Errorf("service index of data/db: %v %v", i, ok)
	}
}
