package callgraph

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// DefaultIstioNamespace is the namespace a namespace-scoped sidecar keeps
// seeing besides its own (Istio's root namespace).
const DefaultIstioNamespace = "istio-system"

// ProxyConfig counts what one proxy's configuration holds, in Envoy's
// terms: the Services it sees, a cluster per Service port (and per
// DestinationRule subset of it), an endpoint per ready pod in each
// cluster, the outbound listeners and the HTTP routes (virtual hosts).
// Memory grows with clusters and endpoints.
type ProxyConfig struct {
	Services  int `json:"services" yaml:"services"`
	Clusters  int `json:"clusters" yaml:"clusters"`
	Endpoints int `json:"endpoints" yaml:"endpoints"`
	Listeners int `json:"listeners,omitempty" yaml:"listeners,omitempty"`
	Routes    int `json:"routes,omitempty" yaml:"routes,omitempty"`
}

// Add sums two configurations.
func (c ProxyConfig) Add(o ProxyConfig) ProxyConfig {
	return ProxyConfig{Services: c.Services + o.Services, Clusters: c.Clusters + o.Clusters, Endpoints: c.Endpoints + o.Endpoints,
		Listeners: c.Listeners + o.Listeners, Routes: c.Routes + o.Routes}
}

// Service is a Kubernetes Service as the mesh's sidecars see it: what it
// adds to the configuration of a sidecar that imports it. `kubectl
// meshinsight graph` lists every Service it read; what-ifs that narrow a
// sidecar's scope sum the Services left in it.
type Service struct {
	Name string `json:"name" yaml:"name"`
	// Namespace defaults to "default".
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Workloads are the workloads of the graph it selects, by name in its
	// namespace.
	Workloads []string `json:"workloads,omitempty" yaml:"workloads,omitempty"`
	// Clusters is one per proxied port, plus one per DestinationRule subset
	// and port; Endpoints its ready pods in each of them; Listeners and
	// Routes its share of the outbound listeners and HTTP routes.
	Clusters  int `json:"clusters" yaml:"clusters"`
	Endpoints int `json:"endpoints" yaml:"endpoints"`
	Listeners int `json:"listeners,omitempty" yaml:"listeners,omitempty"`
	Routes    int `json:"routes,omitempty" yaml:"routes,omitempty"`
}

// ID is the service's unique key, "namespace/name".
func (s Service) ID() string { return cmp.Or(s.Namespace, DefaultNamespace) + "/" + s.Name }

// Footprint is what the Service adds to a sidecar that sees it.
func (s Service) Footprint() ProxyConfig {
	return ProxyConfig{Services: 1, Clusters: s.Clusters, Endpoints: s.Endpoints, Listeners: s.Listeners, Routes: s.Routes}
}

// ResolvedService is a Service with its workloads resolved to indexes.
type ResolvedService struct {
	ID        string
	Namespace string
	Footprint ProxyConfig
	// Workloads are indexes in Resolved.Workloads.
	Workloads []int
}

// resolveConfigs resolves the graph's Services (each workload one Service
// of one port when none are listed) and gives every workload without a
// proxyConfig the default: every Service of the graph visible, as Istio
// does without Sidecar resources or exportTo. The predictor reports the
// default (ConfigAssumption) where it uses it.
func (r *Resolved) resolveConfigs(g *Graph) {
	r.IstioNamespace = cmp.Or(g.IstioNamespace, DefaultIstioNamespace)
	idx := r.WorkloadIndex()
	r.ServicesListed = len(g.Services) > 0
	if r.ServicesListed {
		r.Services = make([]ResolvedService, len(g.Services))
		for i, s := range g.Services {
			ns := cmp.Or(s.Namespace, DefaultNamespace)
			rs := ResolvedService{ID: ns + "/" + s.Name, Namespace: ns, Footprint: s.Footprint()}
			for _, w := range s.Workloads {
				if j, ok := idx[ns+"/"+w]; ok {
					rs.Workloads = append(rs.Workloads, j)
				}
			}
			r.Services[i] = rs
		}
	} else {
		r.Services = make([]ResolvedService, len(r.Workloads))
		for i, w := range r.Workloads {
			r.Services[i] = ResolvedService{ID: w.ID(), Namespace: w.Namespace, Workloads: []int{i},
				Footprint: ProxyConfig{Services: 1, Clusters: 1, Endpoints: w.Replicas}}
		}
	}
	var all ProxyConfig
	for _, s := range r.Services {
		all = all.Add(s.Footprint)
	}
	for i := range r.Workloads {
		w := &r.Workloads[i]
		if w.Workload.ProxyConfig != nil {
			w.Config = *w.Workload.ProxyConfig
			continue
		}
		w.Config, w.ConfigDefaulted = all, true
	}
}

// ConfigAssumption is the message that n sidecar workloads took the
// default proxyConfig: every Service of the graph.
func (r *Resolved) ConfigAssumption(n int) diag.Message {
	var all ProxyConfig
	for _, s := range r.Services {
		all = all.Add(s.Footprint)
	}
	catalogue := fmt.Sprintf("the %d services listed", len(r.Services))
	if !r.ServicesListed {
		catalogue = fmt.Sprintf("every workload as one Service with one port (%d; services not listed)", len(r.Services))
	}
	return diag.New(diag.DefaultUsed, "proxyConfig",
		"proxyConfig not set for %d sidecar workload(s); each is taken to see %s: %d clusters, %d endpoints (export the live graph with `kubectl meshinsight graph` for the configuration each sidecar receives)",
		n, catalogue, all.Clusters, all.Endpoints)
}

// HasSidecar reports whether either of the workload's paths is a sidecar.
func (w *ResolvedWorkload) HasSidecar() bool {
	return w.Inbound == dataplane.Sidecar || w.Outbound == dataplane.Sidecar
}

// ServicesOf lists the indexes in r.Services of the Services that select
// workload i.
func (r *Resolved) ServicesOf(i int) []int {
	var out []int
	for j, s := range r.Services {
		for _, w := range s.Workloads {
			if w == i {
				out = append(out, j)
				break
			}
		}
	}
	return out
}

// ServiceIndex maps "namespace/name" to an index in r.Services.
func (r *Resolved) ServiceIndex() map[string]int {
	out := make(map[string]int, len(r.Services))
	for i, s := range r.Services {
		out[s.ID] = i
	}
	return out
}

// validateServices checks the services list, the proxyConfig of every
// workload and the service each edge names.
func validateServices(add problemFunc, g *Graph) {
	workloads := make(map[string]bool, len(g.Workloads))
	for i, w := range g.Workloads {
		workloads[cmp.Or(w.Namespace, DefaultNamespace)+"/"+w.Name] = true
		if c := w.ProxyConfig; c != nil {
			p := item{"workloads", i}
			for _, f := range []struct {
				name string
				v    int
			}{{"services", c.Services}, {"clusters", c.Clusters}, {"endpoints", c.Endpoints}, {"listeners", c.Listeners}, {"routes", c.Routes}} {
				if f.v < 0 {
					add(p.Field("proxyConfig."+f.name), "must not be negative, got %d", f.v)
				}
			}
		}
	}
	seen := make(map[string]int, len(g.Services))
	for i, s := range g.Services {
		p := item{"services", i}
		validateName(add, p, "service", s.Name, s.Namespace, seen)
		for _, f := range []struct {
			name string
			v    int
		}{{"clusters", s.Clusters}, {"endpoints", s.Endpoints}, {"listeners", s.Listeners}, {"routes", s.Routes}} {
			if f.v < 0 {
				add(p.Field(f.name), "must not be negative, got %d", f.v)
			}
		}
		for j, w := range s.Workloads {
			if !workloads[cmp.Or(s.Namespace, DefaultNamespace)+"/"+w] {
				add(fmt.Sprintf("%s.workloads[%d]", p, j), "unknown workload %q in namespace %q", w, cmp.Or(s.Namespace, DefaultNamespace))
			}
		}
	}
	if strings.ContainsAny(g.IstioNamespace, "/ \t") {
		add("istioNamespace", "%q must not contain '/' or spaces", g.IstioNamespace)
	}
	if len(g.Services) == 0 {
		return
	}
	for i, e := range g.Edges {
		if e.Service == "" {
			continue
		}
		ref := e.Service
		if !strings.Contains(ref, "/") {
			continue // a name in the server's namespace: checked when resolved
		}
		if _, ok := seen[ref]; !ok {
			add(item{"edges", i}.Field("service"), "unknown service %q (not under services)", ref)
		}
	}
}
