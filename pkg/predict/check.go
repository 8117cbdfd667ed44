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
	if err := figure("traces", "windowSeconds", r.WindowSeconds); err != nil {
		return err
	}
	for _, op := range r.Operations {
		where := "operation " + op.Name()
		if err := figures(where, field{"measuredP50Micros", op.MeasuredP50Micros}, field{"measuredP99Micros", op.MeasuredP99Micros}); err != nil {
			return err
		}
		if err := op.Baseline.check(where); err != nil {
			return err
		}
		if op.Variant != nil {
			if err := op.Variant.check(where + " (what-if variant)"); err != nil {
				return err
			}
		}
		for _, c := range op.Calls {
			if err := figure(where+" call "+c.Name(), "perRequest", c.PerRequest); err != nil {
				return err
			}
			if err := c.Edge.check(where + " call"); err != nil {
				return err
			}
			if c.VariantEdge != nil {
				if err := c.VariantEdge.check(where + " call (what-if variant)"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (sc *Scenario) check(scenario string) error {
	for _, list := range [][]EdgeResult{sc.Edges, sc.Ingress} {
		for _, e := range list {
			if err := e.check(scenario); err != nil {
				return err
			}
		}
	}
	for _, p := range sc.Proxies {
		where := fmt.Sprintf("%s: proxy %s (%s)", scenario, p.Workload, p.Kind)
		if err := figures(where, field{"requestsPerSecondPerReplica", p.RequestsPerSecondPerReplica}, field{"rateFactor", p.RateFactor}, field{"cpuMillicores", p.CPUMillicores}, field{"memoryMiB", p.MemoryMiB}); err != nil {
			return err
		}
		if err := p.Range.check(where); err != nil {
			return err
		}
	}
	for _, p := range sc.Paths {
		where := scenario + ": path from " + p.Entry
		if err := figures(where, field{"latencyP50Micros", p.LatencyP50Micros}, field{"latencyP99Micros", p.LatencyP99Micros}, field{"calls", p.Calls}); err != nil {
			return err
		}
		if err := p.Range.check(where); err != nil {
			return err
		}
	}
	t := sc.Totals
	if err := figures(scenario+": totals", field{"requestsPerSecond", t.RequestsPerSecond}, field{"cpuMillicores", t.CPUMillicores}, field{"memoryMiB", t.MemoryMiB}, field{"maxPathLatencyP50Micros", t.MaxPathLatencyP50Micros}, field{"maxPathLatencyP99Micros", t.MaxPathLatencyP99Micros}); err != nil {
		return err
	}
	return t.Range.check(scenario + ": totals")
}

func (e EdgeResult) check(scenario string) error {
	where := scenario + ": edge " + e.Name()
	if err := figures(where, field{"requestsPerSecond", e.RequestsPerSecond}, field{"requestBytes", e.RequestBytes}, field{"responseBytes", e.ResponseBytes}, field{"latencyP50Micros", e.LatencyP50Micros}, field{"latencyP99Micros", e.LatencyP99Micros}, field{"cpuMillicores", e.CPUMillicores}); err != nil {
		return err
	}
	if err := e.Range.check(where); err != nil {
		return err
	}
	for _, c := range e.Components {
		if err := c.check(where); err != nil {
			return err
		}
	}
	return nil
}

func (a AddedLatency) check(where string) error {
	if err := figures(where, field{"latencyP50Micros", a.LatencyP50Micros}, field{"latencyP99Micros", a.LatencyP99Micros}, field{"shareP50", a.ShareP50}, field{"shareP99", a.ShareP99}); err != nil {
		return err
	}
	for _, c := range a.Components {
		if err := c.check(where); err != nil {
			return err
		}
	}
	return nil
}

func (c ComponentCost) check(where string) error {
	where += " component " + c.Component
	if err := figures(where, field{"latencyP50Micros", c.LatencyP50Micros}, field{"latencyP99Micros", c.LatencyP99Micros}, field{"cpuMillicores", c.CPUMillicores}); err != nil {
		return err
	}
	return nil
}

// check checks the ends of a figure's range, if it has one.
func (r *Range) check(where string) error {
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
		if err := figures(where+" range", field{i.name + ".low", i.v.Low}, field{i.name + ".high", i.v.High}); err != nil {
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
func figures(where string, fs ...field) error {
	for _, f := range fs {
		if err := figure(where, f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

// figure fails unless v is finite and not negative.
func figure(where, name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fmt.Errorf("%w: %s: %s is %v: the inputs overflow the model: check the rates and message sizes of the graph (or traces) and the profile's coefficients", ErrImpossible, where, name, v)
	}
	return nil
}
