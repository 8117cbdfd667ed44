package cluster

import (
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/mesh"
)

// addProxyConfigs gives each sidecar workload of the graph the
// configuration its sidecar receives (mesh.Visibility over every workload
// and Service read, proxies and control plane included, as they are
// endpoints too), lists the Services with what each adds to a sidecar, and
// names Istio's root namespace when it is not the default.
func (b *builder) addProxyConfigs() {
	top := b.in.Topology
	ws := make([]mesh.Workload, len(top.Workloads))
	for i, w := range top.Workloads {
		ws[i] = meshWorkload(w)
	}
	vis := b.in.Mesh.Visibility(ws, b.serviceList)
	for i, w := range top.Workloads {
		gi, ok := b.index[w.ID()]
		if !ok {
			continue
		}
		gw := &b.g.Workloads[gi]
		if gw.Mode.Capture() != dataplane.Sidecar && gw.Outbound != dataplane.Sidecar {
			continue
		}
		cfg := vis.Workloads[i]
		gw.ProxyConfig = &cfg
	}
	for j, s := range top.Services {
		fp := vis.Services[j]
		if fp.Clusters == 0 {
			continue // no port the proxies intercept
		}
		cs := callgraph.Service{Name: s.Name, Namespace: s.Namespace, Clusters: fp.Clusters, Endpoints: fp.Endpoints,
			Listeners: fp.Listeners, Routes: fp.Routes}
		for _, id := range s.Workloads {
			if _, ok := b.index[id]; ok {
				_, name := splitID(id)
				cs.Workloads = append(cs.Workloads, name)
			}
		}
		b.g.Services = append(b.g.Services, cs)
	}
	if root := b.in.Mesh.RootNamespace(); root != callgraph.DefaultIstioNamespace {
		b.g.IstioNamespace = root
	}
	if len(top.Namespaces) == 1 && len(b.g.Services) > 0 {
		ns := top.Namespaces[0].Name
		b.notes.Add(diag.New(diag.ProxyConfigPartial, ns,
			"each sidecar's configuration (proxyConfig) counts the Services of namespace %s only, the namespace read; sidecars also hold the rest of the mesh's Services unless a Sidecar resource or exportTo hides them: read every namespace (-A) to count them", ns))
	}
}
