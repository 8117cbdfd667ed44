package mesh

import (
	"fmt"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

// largeMesh is the scale of `make bench-discover`: 1,000 workloads of 5
// ready pods (5,000 pods) behind 1,000 Services of two ports in 50
// namespaces, half the namespaces scoped by a namespace Sidecar, 100
// workload Sidecars, 200 DestinationRules of two subsets and 100
// VirtualServices.
func largeMesh() (*Config, []Workload, []Service) {
	const namespaces, perNS = 50, 20
	c := &Config{rootNamespace: DefaultRootNamespace}
	var ws []Workload
	var ss []Service
	for n := range namespaces {
		ns := fmt.Sprintf("ns%d", n)
		if n%2 == 0 {
			c.sidecars = append(c.sidecars, sidecarScope{objMeta: objMeta{namespace: ns, name: "default"},
				egress: []egressListener{{hosts: []string{"./*", "istio-system/*", fmt.Sprintf("ns%d/*", (n+1)%namespaces)}}}})
		}
		for i := range perNS {
			name := fmt.Sprintf("w%d", i)
			labels := map[string]string{"app": name, "version": "v1"}
			ws = append(ws, Workload{Namespace: ns, Name: name, Labels: labels, Mode: dataplane.Sidecar, ReadyPods: 5})
			ss = append(ss, Service{Namespace: ns, Name: name, Selector: map[string]string{"app": name},
				Ports: []Port{{Name: "http", Port: 8080}, {Name: "grpc", Port: 9090}}})
			k := n*perNS + i
			if k%10 == 0 {
				c.sidecars = append(c.sidecars, sidecarScope{objMeta: objMeta{namespace: ns, name: name}, selector: map[string]string{"app": name},
					egress: []egressListener{{hosts: []string{fmt.Sprintf("./w%d.%s.svc.cluster.local", (i+1)%perNS, ns)}}}})
			}
			if k%5 == 0 {
				c.destRules = append(c.destRules, destRule{objMeta: objMeta{namespace: ns, name: name}, host: resolveHost(name, ns),
					subsets: map[string]map[string]string{"v1": {"version": "v1"}, "v2": {"version": "v2"}}})
			}
			if k%10 == 5 {
				c.virtualServices = append(c.virtualServices, virtualService{objMeta: objMeta{namespace: ns, name: name},
					hosts: []string{resolveHost(name, ns)}, http: []httpRoute{{dests: []routeDest{{host: resolveHost(name, ns)}}}}})
			}
		}
	}
	return c, ws, ss
}

// BenchmarkVisibilityLarge: the configuration of every sidecar of a mesh of
// 5,000 pods and 1,000 Services in 50 namespaces (target: under 1 s).
func BenchmarkVisibilityLarge(b *testing.B) {
	c, ws, ss := largeMesh()
	b.ReportAllocs()
	for b.Loop() {
		v := c.Visibility(ws, ss)
		if v.Workloads[1].Clusters == 0 {
			b.Fatal("no clusters")
		}
	}
}
