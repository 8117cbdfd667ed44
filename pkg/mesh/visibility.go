package mesh

import (
	"slices"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

// Visibility is the configuration each sidecar of the mesh receives, and
// what each Service adds to it.
type Visibility struct {
	// Workloads[i] is what workloads[i]'s sidecar holds; zero for a
	// workload without a sidecar.
	Workloads []callgraph.ProxyConfig
	// Services[j] is what services[j] adds to a sidecar in its own
	// namespace that imports all of it (its footprint).
	Services []callgraph.ProxyConfig
}

// Visibility computes the outbound configuration Istio gives each sidecar
// workload, in counts:
//
//   - Services: those exported to the workload's namespace (the Service's
//     networking.istio.io/exportTo annotation; none means everywhere) and
//     imported by its Sidecar resource's egress hosts ("namespace/dnsName";
//     no Sidecar, or one without egress, imports everything). An egress
//     listener with a port imports only that port of each Service. A
//     VirtualService exported to the namespace whose host the egress hosts
//     import brings its destinations' Services in too.
//   - Clusters: one per imported port that the proxies intercept (not UDP
//     or SCTP), plus one per subset of the DestinationRule that applies to
//     the Service for this client (the client's namespace first, then the
//     Service's, then the root namespace, only rules exported to the
//     client's namespace).
//   - Endpoints: each cluster's ready pods (the Service's workloads' ready
//     pods; a subset's, those whose labels match it). A Service without a
//     selector has none.
//   - Listeners: one per HTTP port number (shared by every Service on it)
//     plus one per TCP Service port; Routes: one virtual host per HTTP
//     Service port.
//
// The inbound side (a cluster per port the workload serves) and Istio's
// fixed listeners and clusters (15001, 15006, passthrough, blackhole,
// xds) are not counted. Workloads that share a namespace, a Sidecar
// resource and workload-selected DestinationRules share the result, so the
// cost is O(namespaces × Services), not O(workloads × Services).
func (c *Config) Visibility(workloads []Workload, services []Service) Visibility {
	v := newVisibility(c.orEmpty(), workloads, services)
	out := Visibility{Workloads: make([]callgraph.ProxyConfig, len(workloads)), Services: make([]callgraph.ProxyConfig, len(services))}
	cache := map[string]callgraph.ProxyConfig{}
	for i, w := range workloads {
		if w.mode() != dataplane.Sidecar {
			continue
		}
		sc := v.c.sidecarFor(w)
		selected := v.selectedDestRules(w)
		key := viewerKey(w.Namespace, sc, selected)
		cfg, ok := cache[key]
		if !ok {
			cfg = v.configFor(w.Namespace, sc, selected)
			cache[key] = cfg
		}
		out.Workloads[i] = cfg
	}
	for j := range v.services {
		out.Services[j] = v.footprint(j)
	}
	return out
}

// visibility holds what Visibility precomputes once: each Service's host,
// proxied ports and backends, and the DestinationRules by namespace.
type visibility struct {
	c         *Config
	workloads []Workload
	services  []svcInfo
	byHost    map[string]int
	drByNS    map[string][]*destRule
	// subsetReady caches a subset's ready pods by service and rule.
	subsetReady map[subsetKey]int
}

type svcInfo struct {
	svc   *Service
	host  string
	ports []portInfo
	// backends index the workloads the selector picks; ready sums their
	// ready pods.
	backends []int
	ready    int
}

type portInfo struct {
	port int32
	http bool
}

type subsetKey struct {
	service int
	rule    *destRule
}

func newVisibility(c *Config, workloads []Workload, services []Service) *visibility {
	v := &visibility{c: c, workloads: workloads, services: make([]svcInfo, len(services)), byHost: make(map[string]int, len(services)),
		drByNS: map[string][]*destRule{}, subsetReady: map[subsetKey]int{}}
	byNS := map[string][]int{}
	for i, w := range workloads {
		byNS[w.Namespace] = append(byNS[w.Namespace], i)
	}
	for j := range services {
		s := &services[j]
		info := svcInfo{svc: s, host: s.Host()}
		for _, p := range s.Ports {
			proto, src, _ := c.Protocol(*s, p)
			if src.Proxied() {
				info.ports = append(info.ports, portInfo{port: p.Port, http: proto.L7()})
			}
		}
		if len(s.Selector) > 0 {
			for _, i := range byNS[s.Namespace] {
				if labelsMatch(s.Selector, workloads[i].Labels) {
					info.backends = append(info.backends, i)
					info.ready += workloads[i].ReadyPods
				}
			}
		}
		v.services[j] = info
		if _, dup := v.byHost[info.host]; !dup {
			v.byHost[info.host] = j
		}
	}
	for i := range c.destRules {
		d := &c.destRules[i]
		v.drByNS[d.namespace] = append(v.drByNS[d.namespace], d)
	}
	return v
}

// selectedDestRules are the DestinationRules of w's namespace whose
// workloadSelector picks it, oldest first.
func (v *visibility) selectedDestRules(w Workload) []*destRule {
	var out []*destRule
	for _, d := range v.drByNS[w.Namespace] {
		if d.selector != nil && labelsMatch(d.selector, w.Labels) {
			out = append(out, d)
		}
	}
	return out
}

// viewerKey identifies the clients that see the same configuration.
func viewerKey(ns string, sc *sidecarScope, selected []*destRule) string {
	var b strings.Builder
	b.WriteString(ns)
	b.WriteByte(0)
	if sc != nil {
		b.WriteString(sc.objMeta.id())
	}
	for _, d := range selected {
		b.WriteByte(0)
		b.WriteString(d.id())
	}
	return b.String()
}

// configFor counts the configuration of a sidecar in namespace ns with
// Sidecar resource sc (nil for none) and workload-selected rules.
func (v *visibility) configFor(ns string, sc *sidecarScope, selected []*destRule) callgraph.ProxyConfig {
	var egress []egressListener
	if sc != nil {
		egress = sc.egress
	}
	viaVS := v.virtualServiceImports(ns, egress)
	var cfg callgraph.ProxyConfig
	httpPorts := map[int32]bool{}
	for j := range v.services {
		s := &v.services[j]
		if !exportedTo(s.svc.ExportTo, s.svc.Namespace, ns) {
			continue
		}
		dr := v.destRule(ns, selected, s.host, s.svc.Namespace)
		imported := false
		for _, p := range s.ports {
			if !viaVS[j] && !imports(egress, ns, s, p.port) {
				continue
			}
			imported = true
			c, e := v.clusters(j, dr)
			cfg.Clusters += c
			cfg.Endpoints += e
			if p.http {
				httpPorts[p.port] = true
				cfg.Routes++
			} else {
				cfg.Listeners++
			}
		}
		if imported {
			cfg.Services++
		}
	}
	cfg.Listeners += len(httpPorts)
	return cfg
}

// footprint is what Service j adds to a sidecar of its own namespace
// without a Sidecar resource: every proxied port, its namespace's rules.
func (v *visibility) footprint(j int) callgraph.ProxyConfig {
	s := &v.services[j]
	if len(s.ports) == 0 {
		return callgraph.ProxyConfig{}
	}
	ns := s.svc.Namespace
	dr := v.destRule(ns, nil, s.host, ns)
	cfg := callgraph.ProxyConfig{Services: 1}
	for _, p := range s.ports {
		c, e := v.clusters(j, dr)
		cfg.Clusters += c
		cfg.Endpoints += e
		cfg.Listeners++
		if p.http {
			cfg.Routes++
		}
	}
	return cfg
}

// clusters counts one port's clusters of Service j (its own and one per
// subset of rule dr) and their endpoints.
func (v *visibility) clusters(j int, dr *destRule) (clusters, endpoints int) {
	s := &v.services[j]
	clusters, endpoints = 1, s.ready
	if dr == nil {
		return clusters, endpoints
	}
	k := subsetKey{j, dr}
	ready, ok := v.subsetReady[k]
	if !ok {
		for _, labels := range dr.subsets {
			for _, i := range s.backends {
				if labelsMatch(labels, v.workloads[i].Labels) {
					ready += v.workloads[i].ReadyPods
				}
			}
		}
		v.subsetReady[k] = ready
	}
	return clusters + len(dr.subsets), endpoints + ready
}

// imports reports whether egress listeners import port of Service s for a
// client in namespace ns; no listeners import everything.
func imports(egress []egressListener, ns string, s *svcInfo, port int32) bool {
	if len(egress) == 0 {
		return true
	}
	for _, l := range egress {
		if l.port != 0 && l.port != uint32(port) {
			continue
		}
		for _, h := range l.hosts {
			if egressMatches(h, ns, s.svc.Namespace, s.svc.Name, s.host) {
				return true
			}
		}
	}
	return false
}

// virtualServiceImports marks the Services that the egress hosts import
// through a VirtualService: one exported to ns, bound to the mesh, whose
// host they import, brings in the Services its routes go to.
func (v *visibility) virtualServiceImports(ns string, egress []egressListener) map[int]bool {
	if len(egress) == 0 {
		return nil
	}
	out := map[int]bool{}
	for i := range v.c.virtualServices {
		vs := &v.c.virtualServices[i]
		if len(vs.gateways) > 0 && !slices.Contains(vs.gateways, "mesh") || !exportedTo(vs.exportTo, vs.namespace, ns) {
			continue
		}
		if !vsImported(egress, ns, vs) {
			continue
		}
		for _, d := range vs.destinations() {
			if j, ok := v.byHost[d.host]; ok && exportedTo(v.services[j].svc.ExportTo, v.services[j].svc.Namespace, ns) {
				out[j] = true
			}
		}
	}
	return out
}

func vsImported(egress []egressListener, ns string, vs *virtualService) bool {
	for _, l := range egress {
		for _, h := range l.hosts {
			for _, host := range vs.hosts {
				name, _, _ := strings.Cut(host, ".")
				if egressMatches(h, ns, vs.namespace, name, host) {
					return true
				}
			}
		}
	}
	return false
}

// destinations lists every route destination of the VirtualService.
func (vs *virtualService) destinations() []routeDest {
	var out []routeDest
	for _, r := range vs.http {
		out = append(out, r.dests...)
	}
	for _, r := range vs.l4 {
		out = append(out, r.dests...)
	}
	return out
}

// destRule is destinationRule for Visibility: the rule a client in
// namespace ns (picked by the selected rules) applies to host, among those
// exported to ns.
func (v *visibility) destRule(ns string, selected []*destRule, host, svcNS string) *destRule {
	root := v.c.RootNamespace()
	tiers := []struct {
		rules    []*destRule
		selected bool
	}{{selected, true}, {v.drByNS[ns], false}, {v.drByNS[svcNS], false}, {v.drByNS[root], false}}
	for _, tier := range tiers {
		best := mostSpecificRule(host, func(yield func(*destRule) bool) {
			for _, d := range tier.rules {
				if (d.selector != nil) == tier.selected && exportedTo(d.exportTo, d.namespace, ns) && !yield(d) {
					return
				}
			}
		})
		if best != nil {
			return best
		}
	}
	return nil
}
