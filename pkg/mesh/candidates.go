package mesh

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

// CandidateEdges suggests the calls between workloads that the configuration
// implies, for graphs built where no traffic telemetry exists:
//   - an ALLOW AuthorizationPolicy lets in the workloads its from.source names by
//     principal (cluster.local/ns/NS/sa/SA: the workloads running as that service
//     account), by namespace or by service account;
//   - a client's Sidecar resource imports an exact host ("ns/host") in egress;
//   - a VirtualService routes calls from clients picked by sourceLabels to its
//     destinations, and turns a suggested call to its host into calls to the
//     destinations it routes to (DestinationRule subsets narrow them).
//
// Catch-all entries ("*", "ns/*", "*" principals) suggest nothing. Services map
// to workloads by their selector. The result is sorted and has one entry per
// (from, to, service), with the reasons joined.
func (c *Config) CandidateEdges(workloads []Workload, services []Service) []CandidateEdge {
	c = c.orEmpty()
	cs := &candidates{index: map[string]int{}, workloads: workloads, services: services}
	c.authzCandidates(cs)
	c.sidecarCandidates(cs)
	c.virtualServiceCandidates(cs)
	sort.Slice(cs.edges, func(i, j int) bool {
		a, b := cs.edges[i], cs.edges[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return a.Service < b.Service
	})
	return cs.edges
}

type candidates struct {
	workloads []Workload
	services  []Service
	edges     []CandidateEdge
	index     map[string]int
}

func (cs *candidates) add(from, to Workload, service, reason string) {
	if from.ID() == to.ID() {
		return
	}
	key := from.ID() + "|" + to.ID() + "|" + service
	if i, ok := cs.index[key]; ok {
		if !strings.Contains(cs.edges[i].Reason, reason) {
			cs.edges[i].Reason += "; " + reason
		}
		return
	}
	cs.index[key] = len(cs.edges)
	cs.edges = append(cs.edges, CandidateEdge{From: from.ID(), To: to.ID(), Service: service, Reason: reason})
}

// backends are the workloads a service selects.
func (cs *candidates) backends(svc Service) []Workload {
	var out []Workload
	for _, w := range cs.workloads {
		if svc.selects(w) {
			out = append(out, w)
		}
	}
	return out
}

// onlyService is the ID of the one service selecting w, or "" when there are
// none or several.
func (cs *candidates) onlyService(w Workload) string {
	id := ""
	for _, s := range cs.services {
		if s.selects(w) {
			if id != "" {
				return ""
			}
			id = s.ID()
		}
	}
	return id
}

func (cs *candidates) servicesWithHost(host string) []Service {
	var out []Service
	for _, s := range cs.services {
		if s.Host() == host {
			out = append(out, s)
		}
	}
	return out
}

// principalMatches matches an AuthorizationPolicy principal (with prefix or
// suffix wildcards) against the workload's SPIFFE identity. Other trust domains
// count as aliases of cluster.local.
func principalMatches(pattern string, w Workload) bool {
	pattern = strings.TrimPrefix(pattern, "spiffe://")
	suffix := "/ns/" + w.Namespace + "/sa/" + w.serviceAccount()
	if matchPattern(pattern, DefaultClusterDomain+suffix) {
		return true
	}
	i := strings.Index(pattern, "/ns/")
	return i > 0 && !strings.Contains(pattern[:i], "*") && matchPattern(pattern[i:], suffix)
}

func (c *Config) authzCandidates(cs *candidates) {
	root := c.RootNamespace()
	for _, ap := range c.authzPolicies {
		if !ap.allow || len(ap.sources) == 0 {
			continue
		}
		var servers []Workload
		switch {
		case len(ap.targetRefs) > 0:
			for _, r := range ap.targetRefs {
				for _, s := range cs.services {
					if r.kind == "Service" && s.Namespace == r.namespace && s.Name == r.name {
						servers = append(servers, cs.backends(s)...)
					}
				}
			}
		default:
			for _, w := range cs.workloads {
				if (ap.namespace == root || w.Namespace == ap.namespace) &&
					(ap.selector == nil || labelsMatch(ap.selector, w.Labels)) {
					servers = append(servers, w)
				}
			}
		}
		if len(servers) == 0 {
			continue
		}
		name := subjectOf("AuthorizationPolicy", ap.objMeta)
		allow := func(client Workload, what string) {
			for _, s := range servers {
				cs.add(client, s, cs.onlyService(s), name+" allows "+what)
			}
		}
		for _, src := range ap.sources {
			for _, pr := range src.principals {
				if pr == "*" {
					continue
				}
				for _, w := range cs.workloads {
					if principalMatches(pr, w) {
						allow(w, "principal "+pr)
					}
				}
			}
			for _, ns := range src.namespaces {
				if ns == "*" {
					continue
				}
				for _, w := range cs.workloads {
					if matchPattern(ns, w.Namespace) {
						allow(w, "namespace "+ns)
					}
				}
			}
			for _, sa := range src.serviceAccounts {
				ns, name, found := strings.Cut(sa, "/")
				if !found {
					ns, name = ap.namespace, sa
				}
				for _, w := range cs.workloads {
					if w.Namespace == ns && w.serviceAccount() == name {
						allow(w, "service account "+sa)
					}
				}
			}
		}
	}
}

func (c *Config) sidecarCandidates(cs *candidates) {
	for _, client := range cs.workloads {
		if client.mode() != dataplane.Sidecar {
			continue
		}
		sc := c.sidecarFor(client)
		if sc == nil {
			continue
		}
		for _, l := range sc.egress {
			for _, h := range l.hosts {
				ns, dns, found := strings.Cut(h, "/")
				if !found || ns == "*" || ns == "~" || dns == "" || strings.Contains(dns, "*") {
					continue
				}
				for _, s := range cs.services {
					if l.port != 0 && !hasPort(s, l.port) {
						continue
					}
					if egressHostMatches(h, client.Namespace, s) {
						for _, b := range cs.backends(s) {
							cs.add(client, b, s.ID(), fmt.Sprintf("%s egress host %s", subjectOf("Sidecar", sc.objMeta), h))
						}
					}
				}
			}
		}
	}
}

func hasPort(s Service, port uint32) bool {
	for _, p := range s.Ports {
		if uint32(p.Port) == port {
			return true
		}
	}
	return false
}

// destinations turns route destinations into the workloads and services they
// reach, narrowed by DestinationRule subsets as the client sees them.
func (c *Config) destinations(cs *candidates, client Workload, dests []routeDest, each func(Service, Workload)) {
	for _, d := range dests {
		for _, s := range cs.servicesWithHost(d.host) {
			var subset map[string]string
			if d.subset != "" {
				if dr := c.destinationRule(client, s.Host(), s.Namespace); dr != nil {
					subset = dr.subsets[d.subset]
				}
			}
			for _, b := range cs.backends(s) {
				if labelsMatch(subset, b.Labels) {
					each(s, b)
				}
			}
		}
	}
}

func (c *Config) virtualServiceCandidates(cs *candidates) {
	// Calls from clients a route picks by sourceLabels.
	for _, vs := range c.virtualServices {
		if len(vs.gateways) > 0 && !slices.Contains(vs.gateways, "mesh") {
			continue
		}
		name := subjectOf("VirtualService", vs.objMeta)
		routes := make([]l4Route, 0, len(vs.http)+len(vs.l4))
		for _, r := range vs.http {
			routes = append(routes, l4Route{matches: r.matches, dests: r.dests})
		}
		routes = append(routes, vs.l4...)
		for _, r := range routes {
			for _, m := range r.matches {
				if m.sourceLabels == nil || (len(m.gateways) > 0 && !slices.Contains(m.gateways, "mesh")) {
					continue
				}
				for _, client := range cs.workloads {
					if !labelsMatch(m.sourceLabels, client.Labels) || (m.sourceNamespace != "" && m.sourceNamespace != client.Namespace) {
						continue
					}
					c.destinations(cs, client, r.dests, func(s Service, b Workload) {
						cs.add(client, b, s.ID(), fmt.Sprintf("%s routes calls from %s to %s", name, client.ID(), s.Host()))
					})
				}
			}
		}
	}
	// Suggested calls to a host a VirtualService routes elsewhere.
	byID := map[string]Workload{}
	for _, w := range cs.workloads {
		byID[w.ID()] = w
	}
	svcByID := map[string]Service{}
	for _, s := range cs.services {
		svcByID[s.ID()] = s
	}
	for _, e := range append([]CandidateEdge(nil), cs.edges...) {
		client, okC := byID[e.From]
		svc, okS := svcByID[e.Service]
		if !okC || !okS {
			continue
		}
		vs, _ := c.virtualService(client.Namespace, svc.Host())
		if vs == nil {
			continue
		}
		for _, r := range vs.http {
			var elsewhere []routeDest
			for _, d := range r.dests {
				if d.host != svc.Host() {
					elsewhere = append(elsewhere, d)
				}
			}
			c.destinations(cs, client, elsewhere, func(s Service, b Workload) {
				cs.add(client, b, s.ID(), fmt.Sprintf("%s routes %s to %s", subjectOf("VirtualService", vs.objMeta), svc.Host(), s.Host()))
			})
		}
	}
}
