package agent

import (
	"fmt"
	"math"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/spread"
)

// Range settings: a 90% percentile-bootstrap interval from 1000 resamples
// of each cell's rounds. The level is a convention (it is what "sure to
// within" usually means in benchmarking reports), not fitted to anything.
const (
	rangeLevel     = 0.9
	rangeResamples = 1000
)

// variant is a protocol × mTLS combination: every model of a variant
// shares one range, because attribution splits the same measured totals
// between sides, directions and components.
type variant struct {
	protocol string
	mtls     bool
}

// ranges computes, per variant, how sure the profile is of its figures at
// the reference rate, relative to them:
//
//   - the measurement: in each cell, the 90% bootstrap interval over its
//     rounds of the mean CPU per request and of the median added p50 and
//     p99 (the statistics the models are built from), relative to the
//     cell's figure;
//   - the fit: the relative root-mean-square distance of the cells' figures
//     from a line over message size, as the models are fitted.
//
// The two are added in quadrature, each side of the interval on its own;
// a variant takes its widest cell. Cells without per-round CPU, or whose
// figure is not positive, are left out; a variant left with none gets no
// range. Between-profile drift (another day, another machine load) is not
// in it: the validation reports how often measurements fall inside.
func ranges(ms []Measurement, lowest float64) map[variant]*profile.Range {
	type acc struct {
		cells         []Measurement
		cpu, p50, p99 bounds
	}
	byVariant := map[variant]*acc{}
	var order []variant
	for _, m := range ms {
		if m.RatePerSecond != lowest || len(m.Rounds) < 2 {
			continue
		}
		v := variant{m.Protocol, m.MTLS}
		a := byVariant[v]
		if a == nil {
			a = &acc{}
			byVariant[v] = a
			order = append(order, v)
		}
		a.cells = append(a.cells, m)
		a.cpu.widen(roundBounds(m, func(r Round) float64 { return r.CPUMicrosPerRequest }, spread.Mean))
		a.p50.widen(roundBounds(m, func(r Round) float64 { return r.MeshP50Micros - r.BypassP50Micros }, spread.Median))
		a.p99.widen(roundBounds(m, func(r Round) float64 { return r.MeshP99Micros - r.BypassP99Micros }, spread.Median))
	}
	out := map[variant]*profile.Range{}
	for _, v := range order {
		a := byVariant[v]
		if !a.cpu.known || !a.p50.known || !a.p99.known {
			continue
		}
		cells := a.cells
		out[v] = &profile.Range{
			CPU:        a.cpu.with(fitResidual(cells, Measurement.CPUMicrosPerRequest)),
			LatencyP50: a.p50.with(fitResidual(cells, func(m Measurement) float64 { return m.AddedP50Micros().Median })),
			LatencyP99: a.p99.with(fitResidual(cells, func(m Measurement) float64 { return m.AddedP99Micros().Median })),
			Basis: fmt.Sprintf("%.0f%% bootstrap over each cell's rounds (%d cells at %g req/s), widest cell, with the size fit's residual in quadrature; not drift between profiles",
				rangeLevel*100, len(cells), lowest),
		}
	}
	return out
}

// bounds accumulates the widest relative half-widths below and above 1.
type bounds struct {
	below, above float64
	known        bool
}

func (b *bounds) widen(low, high float64, ok bool) {
	if !ok {
		return
	}
	b.below, b.above, b.known = math.Max(b.below, 1-low), math.Max(b.above, high-1), true
}

// with adds a relative residual in quadrature to both sides and returns
// the bounds, Low clamped at 0 and High at profile.MaxRangeHigh.
func (b bounds) with(residual float64) profile.Bounds {
	below := math.Hypot(b.below, residual)
	above := math.Hypot(b.above, residual)
	return profile.Bounds{Low: math.Max(0, 1-below), High: math.Min(profile.MaxRangeHigh, 1+above)}
}

// roundBounds is the bootstrap interval of stat over the cell's per-round
// values relative to stat of all of them; not ok when a round has no value
// or the figure is not positive.
func roundBounds(m Measurement, value func(Round) float64, stat func([]float64) float64) (low, high float64, ok bool) {
	v := make([]float64, len(m.Rounds))
	for i, r := range m.Rounds {
		v[i] = value(r)
		if v[i] == 0 || !finite(v[i]) {
			return 0, 0, false
		}
	}
	point := stat(v)
	if !(point > 0) {
		return 0, 0, false
	}
	lo, hi := spread.Bootstrap(v, stat, rangeLevel, rangeResamples)
	return math.Min(lo/point, 1), math.Max(hi/point, 1), true
}

// fitResidual is the root-mean-square relative distance of the cells'
// figures from their least-squares line over message size (0 with fewer
// than three sizes, where a line fits exactly or nearly).
func fitResidual(cells []Measurement, figure func(Measurement) float64) float64 {
	pts := make([]profile.Point, 0, len(cells))
	for _, m := range cells {
		pts = append(pts, profile.Point{Bytes: float64(m.Bytes), Value: figure(m)})
	}
	line, _, err := profile.FitLinear(pts)
	if err != nil || len(pts) < 3 {
		return 0
	}
	var ss float64
	var n int
	for _, p := range pts {
		if want := line.At(p.Bytes); want > 0 && finite(p.Value) {
			d := (p.Value - want) / want
			ss += d * d
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(ss / float64(n))
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// rangeOf is the range of a model key's variant, or nil.
func rangeOf(rs map[variant]*profile.Range, k profile.Key) *profile.Range {
	if k.Mode != dataplane.Sidecar {
		return nil
	}
	return rs[variant{string(k.Protocol), k.MTLS}]
}
