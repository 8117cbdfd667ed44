// Package spread summarises a quantity measured several times (over the
// interleaved mesh/bypass rounds of a profile cell or of a validation run)
// as its median with the minimum and maximum it came from, and gives
// bootstrap intervals of a statistic over such values. On a shared machine
// one measurement says little; the spread says how far to trust it.
package spread

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Figure is one quantity measured N times: the median, and the minimum and
// maximum of the values.
type Figure struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Of summarises values (the median of an even count is the mean of the
// middle two). It does not modify values; no values give the zero Figure.
func Of(values []float64) Figure {
	if len(values) == 0 {
		return Figure{}
	}
	s := slices.Clone(values)
	slices.Sort(s)
	n := len(s)
	median := s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return Figure{Median: median, Min: s[0], Max: s[n-1], N: n}
}

// Inside reports whether v lies within the measured range; never for a
// Figure of no values.
func (f Figure) Inside(v float64) bool { return f.N > 0 && v >= f.Min && v <= f.Max }

// Mean is the arithmetic mean of values (0 for none).
func Mean(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	var sum float64
	for _, v := range values {
		sum += v
	}
	return sum / float64(len(values))
}

// Median is the median of values (0 for none).
func Median(values []float64) float64 { return Of(values).Median }

// Bootstrap is the percentile bootstrap interval of stat over values at a
// confidence level (0.9 gives the 5th and 95th percentiles): stat of
// resamples is drawn with replacement, resamples times, from a generator
// seeded from the values' count so that the same values always give the
// same interval. One value or none gives stat(values) for both ends.
func Bootstrap(values []float64, stat func([]float64) float64, level float64, resamples int) (low, high float64) {
	if len(values) < 2 || resamples < 1 {
		v := stat(values)
		return v, v
	}
	rng := rand.New(rand.NewPCG(uint64(len(values)), uint64(resamples)))
	draws := make([]float64, resamples)
	sample := make([]float64, len(values))
	for i := range draws {
		for j := range sample {
			sample[j] = values[rng.IntN(len(values))]
		}
		draws[i] = stat(sample)
	}
	slices.Sort(draws)
	tail := (1 - level) / 2
	at := func(q float64) float64 {
		i := int(math.Round(q * float64(resamples-1)))
		return draws[min(max(i, 0), resamples-1)]
	}
	return at(tail), at(1 - tail)
}
