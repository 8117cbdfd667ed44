package predict

import (
	"fmt"
	"strings"
	"time"
)

// Budget is what a CI pipeline allows the mesh to add: each limit applies
// to every edge and every path (latency) or every proxy replica (CPU); a
// zero limit is not checked.
type Budget struct {
	MaxAddedP50 time.Duration
	MaxAddedP99 time.Duration
	// MaxProxyCPUMillicores bounds one replica of each proxy.
	MaxProxyCPUMillicores float64
}

// Set reports whether any limit is set.
func (b Budget) Set() bool {
	return b.MaxAddedP50 > 0 || b.MaxAddedP99 > 0 || b.MaxProxyCPUMillicores > 0
}

// Offence is one figure over its limit.
type Offence struct {
	// Kind is "edge", "path" or "proxy"; Name the edge (FROM->TO), the
	// path's entry workload or the proxy's workload.
	Kind, Name string
	// Figure names what is over: "+P50", "+P99" or "CPU/replica".
	Figure string
	// Value and Limit are in µs for latency, millicores for CPU.
	Value, Limit float64
}

// String reads e.g. `edge productpage-v1->details-v1: +P99 256µs > 200µs`.
func (o Offence) String() string {
	unit := "µs"
	if o.Figure == "CPU/replica" {
		unit = "m"
	}
	return fmt.Sprintf("%s %s: %s %.4g%s > %.4g%s", o.Kind, o.Name, o.Figure, o.Value, unit, o.Limit, unit)
}

// Check lists the figures of s over the budget: the edges and paths whose
// added latency, and the proxies whose CPU per replica, exceed it.
func (b Budget) Check(s *Scenario) []Offence {
	var out []Offence
	latency := func(kind, name string, p50, p99 float64) {
		if limit := micros(b.MaxAddedP50); limit > 0 && p50 > limit {
			out = append(out, Offence{kind, name, "+P50", p50, limit})
		}
		if limit := micros(b.MaxAddedP99); limit > 0 && p99 > limit {
			out = append(out, Offence{kind, name, "+P99", p99, limit})
		}
	}
	for _, e := range s.Edges {
		latency("edge", e.Name(), e.LatencyP50Micros, e.LatencyP99Micros)
	}
	for _, p := range s.Paths {
		latency("path", p.Entry, p.LatencyP50Micros, p.LatencyP99Micros)
	}
	if b.MaxProxyCPUMillicores > 0 {
		for _, p := range s.Proxies {
			perReplica := p.CPUMillicores / float64(max(p.Replicas, 1))
			if perReplica > b.MaxProxyCPUMillicores {
				out = append(out, Offence{"proxy", p.Workload, "CPU/replica", perReplica, b.MaxProxyCPUMillicores})
			}
		}
	}
	return out
}

// OverBudgetError lists the offences of a checked scenario.
type OverBudgetError struct {
	// Scenario is "baseline" or "variant".
	Scenario string
	Offences []Offence
}

func (e *OverBudgetError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "over budget: %d figure(s) of the %s exceed the limits:", len(e.Offences), e.Scenario)
	for _, o := range e.Offences {
		b.WriteString("\n  " + o.String())
	}
	return b.String()
}

// CheckBudget checks the report's variant, when it has one (the change a
// pipeline proposes), else its baseline, and returns an *OverBudgetError
// listing every offence; nil when all is within the budget.
func CheckBudget(r *Report, b Budget) error {
	s, name := &r.Baseline, "baseline"
	if r.Variant != nil {
		s, name = r.Variant, "variant"
	}
	if offences := b.Check(s); len(offences) > 0 {
		return &OverBudgetError{Scenario: name, Offences: offences}
	}
	return nil
}
