package predict

import (
	"errors"
	"fmt"
	"math"
)

// ErrImpossible is wrapped by every error Check returns.
var ErrImpossible = errors.New("impossible figure")

// Check makes sure every figure of the report is a finite, non-negative
// number, naming the first that is not: inputs that pass validation can
// still overflow together (a huge rate times a huge size times a huge
// coefficient), and a wrong number is worse than an error.
func (r *Report) Check() error {
	if err := r.Baseline.check("baseline"); err != nil {
		return err
	}
	if r.Variant != nil {
		return r.Variant.check("what-if variant")
	}
	return nil
}

// Check is Report.Check for a trace report.
func (r *TraceReport) Check() error {
	if err := figures(at("traces"), field{"windowSeconds", r.WindowSeconds}); err != nil {
		return err
	}
	for i := range r.Operations {
		op := &r.Operations[i]
		where := func() string { return "operation " + op.Name() }
		if err := figures(where, field{"measuredP50Micros", op.MeasuredP50Micros}, field{"measuredP99Micros", op.MeasuredP99Micros}); err != nil {
			return err
		}
		if err := op.Baseline.check(where); err != nil {
			return err
		}
		if op.Variant != nil {
			if err := op.Variant.check(func() string { return where() + " (what-if variant)" }); err != nil {
				return err
			}
		}
		for j := range op.Calls {
			c := &op.Calls[j]
			if err := figures(func() string { return where() + " call " + c.Name() }, field{"perRequest", c.PerRequest}); err != nil {
				return err
			}
			call := func() string { return where() + " call" }
			if err := c.Edge.check(call); err != nil {
				return err
			}
			if c.VariantEdge != nil {
				if err := c.VariantEdge.check(func() string { return call() + " (what-if variant)" }); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// place names where a figure is, for the error; it is only called on one.
// Building the names of 100,000 edges that are fine took longer than
// checking them.
type place func() string

// at is a place known in advance.
func at(s string) place { return func() string { return s } }

func (sc *Scenario) check(scenario string) error {
	for _, list := range [][]EdgeResult{sc.Edges, sc.Ingress} {
		for i := range list {
			if err := list[i].check(at(scenario)); err != nil {
				return err
			}
		}
	}
	for i := range sc.Proxies {
		p := &sc.Proxies[i]
		where := func() string { return fmt.Sprintf("%s: proxy %s (%s)", scenario, p.Workload, p.Kind) }
		if err := figures(where, field{"requestsPerSecondPerReplica", p.RequestsPerSecondPerReplica}, field{"rateFactor", p.RateFactor}, field{"cpuMillicores", p.CPUMillicores}, field{"memoryMiB", p.MemoryMiB}); err != nil {
			return err
		}
		if err := p.Range.check(where); err != nil {
			return err
		}
	}
	for i := range sc.Paths {
		p := &sc.Paths[i]
		where := func() string { return scenario + ": path from " + p.Entry }
		if err := figures(where, field{"latencyP50Micros", p.LatencyP50Micros}, field{"latencyP99Micros", p.LatencyP99Micros}, field{"calls", p.Calls}); err != nil {
			return err
		}
		if err := p.Range.check(where); err != nil {
			return err
		}
	}
	t := &sc.Totals
	where := at(scenario + ": totals")
	if err := figures(where, field{"requestsPerSecond", t.RequestsPerSecond}, field{"cpuMillicores", t.CPUMillicores}, field{"memoryMiB", t.MemoryMiB}, field{"maxPathLatencyP50Micros", t.MaxPathLatencyP50Micros}, field{"maxPathLatencyP99Micros", t.MaxPathLatencyP99Micros}); err != nil {
		return err
	}
	return t.Range.check(where)
}

// check checks an edge of the scenario (or operation) in.
func (e *EdgeResult) check(in place) error {
	where := func() string { return in() + ": edge " + e.Name() }
	if err := figures(where, field{"requestsPerSecond", e.RequestsPerSecond}, field{"requestBytes", e.RequestBytes}, field{"responseBytes", e.ResponseBytes}, field{"latencyP50Micros", e.LatencyP50Micros}, field{"latencyP99Micros", e.LatencyP99Micros}, field{"cpuMillicores", e.CPUMillicores}); err != nil {
		return err
	}
	if err := e.Range.check(where); err != nil {
		return err
	}
	return components(where, e.Components)
}

func (a *AddedLatency) check(where place) error {
	if err := figures(where, field{"latencyP50Micros", a.LatencyP50Micros}, field{"latencyP99Micros", a.LatencyP99Micros}, field{"shareP50", a.ShareP50}, field{"shareP99", a.ShareP99}); err != nil {
		return err
	}
	if err := a.Range.check(where); err != nil {
		return err
	}
	return components(where, a.Components)
}

// components checks the components of the figure at where.
func components(where place, cs []ComponentCost) error {
	for i := range cs {
		c := &cs[i]
		at := func() string { return where() + " component " + c.Component }
		if err := figures(at,
			field{"latencyP50Micros", c.LatencyP50Micros}, field{"latencyP99Micros", c.LatencyP99Micros}, field{"cpuMillicores", c.CPUMillicores}); err != nil {
			return err
		}
		if err := c.Range.check(at); err != nil {
			return err
		}
	}
	return nil
}

// check checks the ends of a figure's range, if it has one.
func (r *Range) check(where place) error {
	if r == nil {
		return nil
	}
	for _, i := range []struct {
		name string
		v    *Interval
	}{{"latencyP50Micros", r.LatencyP50Micros}, {"latencyP99Micros", r.LatencyP99Micros}, {"cpuMillicores", r.CPUMillicores}} {
		if i.v == nil {
			continue
		}
		if err := figures(func() string { return where() + " range" }, field{i.name + ".low", i.v.Low}, field{i.name + ".high", i.v.High}); err != nil {
			return err
		}
	}
	return nil
}

// field is one named figure.
type field struct {
	name string
	v    float64
}

// figures fails on the first of fs that is not finite and non-negative.
func figures(where place, fs ...field) error {
	for _, f := range fs {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("%w: %s: %s is %v: the inputs overflow the model: check the rates and message sizes of the graph (or traces) and the profile's coefficients", ErrImpossible, where(), f.name, f.v)
		}
	}
	return nil
}
