package printers

import (
	"fmt"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// replicaMemory renders one proxy instance's memory, finer than the totals:
// a sidecar's differs by a fraction of a MiB from one configuration to
// another.
func replicaMemory(p predict.ProxyResult) string {
	m := p.MemoryMiBPerReplica
	if m == 0 && p.Replicas > 0 {
		m = p.MemoryMiB / float64(p.Replicas)
	}
	if m == 0 {
		return "-"
	}
	if m < 99.95 {
		return fmt.Sprintf("%.1fMi", m)
	}
	return mebibytes(m)
}

// memoryChange renders one instance's memory in the baseline and the
// variant, "base→what-if", or one figure when it did not change.
func memoryChange(b predict.ProxyResult, bok bool, w predict.ProxyResult, wok bool) string {
	switch {
	case !wok:
		return replicaMemory(b) + "→-"
	case !bok:
		return "-→" + replicaMemory(w)
	}
	return change(replicaMemory(b), replicaMemory(w))
}

// Counts of a sidecar's configuration that tables show.
var (
	clusters  = func(c *callgraph.ProxyConfig) int { return c.Clusters }
	endpoints = func(c *callgraph.ProxyConfig) int { return c.Endpoints }
)

// configCount renders one count of the configuration a sidecar's memory
// was predicted from, "-" for other proxies.
func configCount(p predict.ProxyResult, count func(*callgraph.ProxyConfig) int) string {
	if p.ProxyConfig == nil {
		return "-"
	}
	return fmt.Sprint(count(p.ProxyConfig))
}

// configChange is configCount in the baseline and the variant.
func configChange(b predict.ProxyResult, bok bool, w predict.ProxyResult, wok bool, count func(*callgraph.ProxyConfig) int) string {
	base, what := "-", "-"
	if bok {
		base = configCount(b, count)
	}
	if wok {
		what = configCount(w, count)
	}
	return change(base, what)
}

// sidecarMemoryLine is a node's second label line in DOT: the memory of one
// of its sidecars ("base→what-if" with a variant), or "" when it has none.
func sidecarMemoryLine(r *predict.Report, id string) string {
	find := func(sc *predict.Scenario) (predict.ProxyResult, bool) {
		for _, p := range sc.Proxies {
			if p.Kind == predict.KindSidecar && p.Workload == id {
				return p, true
			}
		}
		return predict.ProxyResult{}, false
	}
	b, bok := find(&r.Baseline)
	if r.Variant == nil {
		if !bok {
			return ""
		}
		return "\nsidecar " + replicaMemory(b)
	}
	w, wok := find(r.Variant)
	if !bok && !wok {
		return ""
	}
	return "\nsidecar " + memoryChange(b, bok, w, wok)
}
