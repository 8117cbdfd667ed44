// Package spread summarises a quantity measured several times (over the
// interleaved mesh/bypass rounds of a profile cell or of a validation run)
// as its median with the minimum and maximum it came from. On a shared
// machine one measurement says little; the spread says how far to trust it.
package spread

import "slices"

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
