package predict

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// SortKeys are the keys of --sort-by: name ascending, the figures largest
// first (what a reader ranks overhead by).
var SortKeys = []string{"name", "p50", "p99", "cpu", "rps"}

// Sort orders the report's edges, its requests from outside (ingress),
// proxies and paths by key (one of SortKeys), the baseline's figures
// deciding; the variant's edges follow the baseline's order, as the
// side-by-side tables pair them by position.
func Sort(r *Report, key string) error {
	if !slices.Contains(SortKeys, key) {
		return fmt.Errorf("--sort-by %q: want one of %s", key, strings.Join(SortKeys, ", "))
	}
	edgeFigure := map[string]func(EdgeResult) float64{
		"p50": func(e EdgeResult) float64 { return e.LatencyP50Micros },
		"p99": func(e EdgeResult) float64 { return e.LatencyP99Micros },
		"cpu": func(e EdgeResult) float64 { return e.CPUMillicores },
		"rps": func(e EdgeResult) float64 { return e.RequestsPerSecond },
	}[key]
	// The edges, then the requests from outside (which follow them in
	// every rendering) among themselves.
	for _, list := range []func(*Scenario) *[]EdgeResult{
		func(s *Scenario) *[]EdgeResult { return &s.Edges },
		func(s *Scenario) *[]EdgeResult { return &s.Ingress },
	} {
		edges := *list(&r.Baseline)
		order := make([]int, len(edges))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			if edgeFigure == nil {
				return cmp.Compare(edges[a].Name(), edges[b].Name())
			}
			return cmp.Compare(edgeFigure(edges[b]), edgeFigure(edges[a]))
		})
		*list(&r.Baseline) = permute(edges, order)
		if r.Variant != nil && len(*list(r.Variant)) == len(order) {
			*list(r.Variant) = permute(*list(r.Variant), order)
		}
	}
	for _, s := range []*Scenario{&r.Baseline, r.Variant} {
		if s == nil {
			continue
		}
		sortBy(s.Proxies, proxyOrders, key)
		sortBy(s.Paths, pathOrders, key)
	}
	return nil
}

func permute[T any](xs []T, order []int) []T {
	out := make([]T, len(xs))
	for i, j := range order {
		out[i] = xs[j]
	}
	return out
}

// proxyOrders and pathOrders order proxies and paths by sort key; a key
// without one (latency for proxies, CPU and rate for paths) leaves them.
var (
	proxyOrders = map[string]func(a, b ProxyResult) int{
		"name": func(a, b ProxyResult) int { return cmp.Compare(a.Workload, b.Workload) },
		"cpu":  func(a, b ProxyResult) int { return cmp.Compare(b.CPUMillicores, a.CPUMillicores) },
		"rps": func(a, b ProxyResult) int {
			return cmp.Compare(b.RequestsPerSecondPerReplica*float64(b.Replicas), a.RequestsPerSecondPerReplica*float64(a.Replicas))
		},
	}
	pathOrders = map[string]func(a, b PathResult) int{
		"name": func(a, b PathResult) int { return cmp.Compare(a.Entry, b.Entry) },
		"p50":  func(a, b PathResult) int { return cmp.Compare(b.LatencyP50Micros, a.LatencyP50Micros) },
		"p99":  func(a, b PathResult) int { return cmp.Compare(b.LatencyP99Micros, a.LatencyP99Micros) },
	}
)

// sortBy orders xs stably by orders[key], if there is one.
func sortBy[T any](xs []T, orders map[string]func(a, b T) int, key string) {
	if order := orders[key]; order != nil {
		slices.SortStableFunc(xs, order)
	}
}
