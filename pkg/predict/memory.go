package predict

import (
	"fmt"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// DefaultProxyConcurrency is the worker threads of an Istio sidecar that
// sets none (proxy.istio.io/config concurrency; Istio's default is 2).
const DefaultProxyConcurrency = 2

// memoryTable works out each proxy instance's memory: a sidecar's from the
// configuration it receives, when the profile has a memory model, else
// one figure per kind of proxy (per profile), and gathers what the figures
// rest on for the notes.
type memoryTable struct {
	g     *callgraph.Resolved
	costs map[memoryKey]memoryCostResult
	// configDefaulted and threadsDefaulted count the sidecars whose
	// configuration or worker threads were defaults a model used.
	configDefaulted, threadsDefaulted int
}

type memoryKey struct {
	prof *profile.Profile
	kind ProxyKind
}

type memoryCostResult struct {
	cost profile.ProxyCost
	ok   bool
}

func newMemoryTable(g *callgraph.Resolved) *memoryTable {
	return &memoryTable{g: g, costs: map[memoryKey]memoryCostResult{}}
}

// perInstance is one instance of row r's memory in MiB and, for a sidecar
// predicted from its configuration, that configuration.
func (m *memoryTable) perInstance(r *proxyRow, notes *diag.List) (float64, *callgraph.ProxyConfig) {
	k := memoryKey{r.prof, r.kind}
	c, seen := m.costs[k]
	if !seen {
		c.cost, c.ok = memoryCost(r.prof, r.kind, r.mode, notes)
		m.costs[k] = c
	}
	if !c.ok {
		return 0, nil
	}
	if r.kind != KindSidecar || c.cost.Memory == nil || r.workload < 0 {
		return c.cost.MemoryMiB, nil
	}
	w := &m.g.Workloads[r.workload]
	cfg := w.Config
	if w.ConfigDefaulted {
		m.configDefaulted++
	}
	threads := DefaultProxyConcurrency
	if w.ProxyConcurrency != nil && *w.ProxyConcurrency > 0 {
		threads = *w.ProxyConcurrency
	} else if c.cost.Memory.PerWorkerThreadBytes > 0 {
		m.threadsDefaulted++
	}
	return c.cost.Memory.MiB(profile.MemoryConfig{Clusters: cfg.Clusters, Endpoints: cfg.Endpoints, WorkerThreads: threads}), &cfg
}

// note reports the defaults the sidecars' memory rests on.
func (m *memoryTable) note(notes *diag.List) {
	if m.configDefaulted > 0 {
		notes.Add(m.g.ConfigAssumption(m.configDefaulted))
	}
	if m.threadsDefaulted > 0 {
		notes.Add(diag.New(diag.DefaultUsed, "proxyConcurrency",
			"proxyConcurrency not set for %d sidecar workload(s); their memory assumes %d worker threads (Istio's default)",
			m.threadsDefaulted, DefaultProxyConcurrency))
	}
}

// idleSidecars gives every sidecar workload its row, also one no call
// crosses: an idle sidecar costs no CPU but holds its memory.
func (pt *proxyTable) idleSidecars(g *callgraph.Resolved) {
	for i := range g.Workloads {
		if w := &g.Workloads[i]; w.HasSidecar() {
			pt.sidecar(i, w)
		}
	}
}

// describeMemoryModel renders a model's coefficients for messages.
func describeMemoryModel(mm *profile.MemoryModel) string {
	s := fmt.Sprintf("%.1f MiB + %.0f B per cluster + %.0f B per endpoint", mm.BaseBytes/profile.MiB, mm.PerClusterBytes, mm.PerEndpointBytes)
	if mm.PerWorkerThreadBytes > 0 {
		s += fmt.Sprintf(" + %.0f B per worker thread", mm.PerWorkerThreadBytes)
	}
	return s
}

// Scopes of the sidecars' configuration a what-if can set.
const (
	// ScopeNamespace: each sidecar sees its own namespace and Istio's.
	ScopeNamespace = "namespace"
	// ScopeObserved: each sidecar sees only the Services it was observed
	// calling (what `kubectl meshinsight graph --sidecar-resources` writes).
	ScopeObserved = "observed"
)

// Scopes lists the scopes a what-if accepts.
var Scopes = []string{ScopeNamespace, ScopeObserved}

// scoper computes the configuration each sidecar would receive under a
// scope, from the graph's Services and what each adds to a sidecar.
type scoper struct {
	g *callgraph.Resolved
	// called lists, per workload, the Services its calls go to (by index in
	// g.Services), built on first use.
	called [][]int
}

// config is what workload i's sidecar would hold under scope.
func (s *scoper) config(i int, scope string) callgraph.ProxyConfig {
	w := &s.g.Workloads[i]
	var cfg callgraph.ProxyConfig
	switch scope {
	case ScopeNamespace:
		for _, svc := range s.g.Services {
			if svc.Namespace == w.Namespace || svc.Namespace == s.g.IstioNamespace {
				cfg = cfg.Add(svc.Footprint)
			}
		}
	case ScopeObserved:
		if s.called == nil {
			s.called = s.calls()
		}
		for _, j := range s.called[i] {
			cfg = cfg.Add(s.g.Services[j].Footprint)
		}
	}
	return cfg
}

// calls lists each workload's called Services: an edge's service when it
// names one the graph lists, else every Service that selects its server.
func (s *scoper) calls() [][]int {
	g := s.g
	index := g.ServiceIndex()
	selecting := make([][]int, len(g.Workloads))
	for j, svc := range g.Services {
		for _, w := range svc.Workloads {
			selecting[w] = append(selecting[w], j)
		}
	}
	out := make([][]int, len(g.Workloads))
	add := func(from, j int) {
		for _, k := range out[from] {
			if k == j {
				return
			}
		}
		out[from] = append(out[from], j)
	}
	for k, e := range g.Edges {
		var named string
		if g.Source != nil && k < len(g.Source.Edges) {
			named = g.Source.Edges[k].Service
		}
		if named != "" && !strings.Contains(named, "/") {
			named = g.Workloads[e.ToIndex].Namespace + "/" + named
		}
		if j, ok := index[named]; ok {
			add(e.FromIndex, j)
			continue
		}
		for _, j := range selecting[e.ToIndex] {
			add(e.FromIndex, j)
		}
	}
	return out
}

// applyScope sets the configuration of every sidecar workload sel picks
// to what scope leaves it, and reports whether any was picked.
func applyScope(v *callgraph.Resolved, scope string, sel selection) bool {
	s := &scoper{g: v}
	matched := false
	for i := range v.Workloads {
		wl := &v.Workloads[i]
		if !sel.workload(i) || !wl.HasSidecar() {
			continue
		}
		wl.Config, wl.ConfigDefaulted = s.config(i, scope), false
		matched = true
	}
	return matched
}
