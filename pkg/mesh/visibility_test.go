package mesh

import (
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

// A mesh of four namespaces whose sidecars see different parts of it, each
// count worked out by hand in the comments of TestVisibility.
var (
	visWorkloads = []Workload{
		{Namespace: "shop", Name: "web", Labels: map[string]string{"app": "web"}, ReadyPods: 2},
		{Namespace: "shop", Name: "api-v1", Labels: map[string]string{"app": "api", "version": "v1"}, ReadyPods: 2},
		{Namespace: "shop", Name: "api-v2", Labels: map[string]string{"app": "api", "version": "v2"}, ReadyPods: 1},
		{Namespace: "data", Name: "db", Labels: map[string]string{"app": "db", "role": "primary"}, ReadyPods: 1},
		{Namespace: "data", Name: "cache", Labels: map[string]string{"app": "cache"}, Mode: dataplane.Ambient, ReadyPods: 1},
		{Namespace: "ops", Name: "metrics", Labels: map[string]string{"app": "metrics"}, ReadyPods: 3},
		{Namespace: "istio-system", Name: "istiod", Labels: map[string]string{"app": "istiod"}, Mode: dataplane.None, ReadyPods: 1},
	}
	visServices = []Service{
		{Namespace: "shop", Name: "web", Selector: map[string]string{"app": "web"}, Ports: []Port{{Name: "http", Port: 80}}},
		{Namespace: "shop", Name: "api", Selector: map[string]string{"app": "api"},
			Ports: []Port{{Name: "http", Port: 8080}, {Name: "grpc", Port: 9090}}},
		{Namespace: "data", Name: "db", Selector: map[string]string{"app": "db"}, Ports: []Port{{Name: "tcp-pg", Port: 5432}}},
		{Namespace: "data", Name: "cache", Selector: map[string]string{"app": "cache"}, Ports: []Port{{Name: "redis", Port: 6379}},
			ExportTo: []string{"."}},
		{Namespace: "ops", Name: "metrics", Selector: map[string]string{"app": "metrics"},
			Ports: []Port{{Name: "http", Port: 9100}, {Name: "statsd", Port: 8125, Protocol: "UDP"}}, ExportTo: []string{"ops", "shop"}},
		{Namespace: "istio-system", Name: "istiod", Selector: map[string]string{"app": "istiod"},
			Ports: []Port{{Name: "grpc-xds", Port: 15010}, {Name: "https-webhook", Port: 443}}},
	}
	visConfig = `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec:
  egress: [{hosts: ["./*", "istio-system/*"]}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: web, namespace: shop}
spec:
  workloadSelector: {labels: {app: web}}
  egress:
  - port: {number: 8080, protocol: HTTP, name: http}
    hosts: ["./api.shop.svc.cluster.local"]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: ops}
spec:
  egress: [{hosts: ["./*", "shop/frontdoor.shop.svc.cluster.local"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: frontdoor, namespace: shop}
spec:
  hosts: [frontdoor.shop.svc.cluster.local]
  http: [{route: [{destination: {host: api}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: shop}
spec:
  host: api
  exportTo: ["."]
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: data}
spec:
  host: db.data.svc.cluster.local
  subsets: [{name: primary, labels: {role: primary}}]
`
)

func TestVisibility(t *testing.T) {
	v := load(t, visConfig).Visibility(visWorkloads, visServices)
	want := map[string]callgraph.ProxyConfig{
		// Sidecar shop/default (./*, istio-system/*): web (1 cluster, 2
		// endpoints), api's two ports with DestinationRule shop/api's two
		// subsets each (3 clusters, 3 + 2 + 1 endpoints per port) and
		// istiod (2 clusters, 1 endpoint each); db is in another namespace,
		// cache is exported to data only, metrics not imported. Listeners:
		// HTTP ports 80, 8080, 9090, 15010 and TCP istiod:443.
		"shop/api-v1": {Services: 3, Clusters: 9, Endpoints: 16, Listeners: 5, Routes: 4},
		"shop/api-v2": {Services: 3, Clusters: 9, Endpoints: 16, Listeners: 5, Routes: 4},
		// Sidecar shop/web imports api's port 8080 only.
		"shop/web": {Services: 1, Clusters: 3, Endpoints: 6, Listeners: 1, Routes: 1},
		// No Sidecar: web, api without shop/api's subsets (exported to shop
		// only), db with its subset, cache (exported to its own namespace)
		// and istiod; metrics is exported to ops and shop only.
		"data/db": {Services: 5, Clusters: 8, Endpoints: 13, Listeners: 7, Routes: 4},
		// Sidecar ops/default: metrics (./*; its UDP port is not proxied)
		// and api through VirtualService shop/frontdoor, whose host it
		// imports.
		"ops/metrics": {Services: 2, Clusters: 3, Endpoints: 9, Listeners: 3, Routes: 3},
		// No sidecar, no configuration.
		"data/cache":          {},
		"istio-system/istiod": {},
	}
	for i, w := range visWorkloads {
		if got := v.Workloads[i]; got != want[w.ID()] {
			t.Errorf("%s: %+v, want %+v", w.ID(), got, want[w.ID()])
		}
	}
	footprints := map[string]callgraph.ProxyConfig{
		"shop/web":            {Services: 1, Clusters: 1, Endpoints: 2, Listeners: 1, Routes: 1},
		"shop/api":            {Services: 1, Clusters: 6, Endpoints: 12, Listeners: 2, Routes: 2},
		"data/db":             {Services: 1, Clusters: 2, Endpoints: 2, Listeners: 1},
		"data/cache":          {Services: 1, Clusters: 1, Endpoints: 1, Listeners: 1},
		"ops/metrics":         {Services: 1, Clusters: 1, Endpoints: 3, Listeners: 1, Routes: 1},
		"istio-system/istiod": {Services: 1, Clusters: 2, Endpoints: 2, Listeners: 2, Routes: 1},
	}
	for j, s := range visServices {
		if got := v.Services[j]; got != footprints[s.ID()] {
			t.Errorf("footprint of %s: %+v, want %+v", s.ID(), got, footprints[s.ID()])
		}
	}
}

// TestVisibilityDefaults: without Istio resources every sidecar sees every
// Service, and exportTo "~" hides one from everybody.
func TestVisibilityDefaults(t *testing.T) {
	services := append([]Service(nil), visServices...)
	services[0].ExportTo = []string{"~"} // web
	var c *Config
	v := c.Visibility(visWorkloads, services)
	// Without rules: api 2 clusters and 6 endpoints, db 1 and 1, istiod 2
	// and 2; cache only in data (1 and 1), metrics only in ops and shop (1
	// and 3). Listeners: the HTTP ports, plus db, cache and istiod:443.
	want := map[string]callgraph.ProxyConfig{
		"shop/web":    {Services: 4, Clusters: 6, Endpoints: 12, Listeners: 6, Routes: 4},
		"data/db":     {Services: 4, Clusters: 6, Endpoints: 10, Listeners: 6, Routes: 3},
		"ops/metrics": {Services: 4, Clusters: 6, Endpoints: 12, Listeners: 6, Routes: 4},
	}
	for i, w := range visWorkloads {
		if exp, ok := want[w.ID()]; ok && v.Workloads[i] != exp {
			t.Errorf("%s: %+v, want %+v", w.ID(), v.Workloads[i], exp)
		}
	}
}

// TestExportToHidesDestinationRule: a DestinationRule exported to its own
// namespace only does not apply to clients elsewhere, as in Istio.
func TestExportToHidesDestinationRule(t *testing.T) {
	c := load(t, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cart, namespace: shop}
spec:
  host: cart
  exportTo: ["."]
  trafficPolicy: {tls: {mode: DISABLE}}
`)
	other := Workload{Namespace: "ops", Name: "job", Labels: map[string]string{"app": "job"}, Mode: dataplane.Sidecar}
	for _, tc := range []struct {
		client Workload
		mtls   bool
	}{{frontend, false}, {other, true}} {
		if p := c.Edge(tc.client, cart, cartSvc, cartHTTP); p.MTLS != tc.mtls {
			t.Errorf("%s -> cart: mTLS %v (%s), want %v", tc.client.ID(), p.MTLS, p.MTLSReason, tc.mtls)
		}
	}
}
