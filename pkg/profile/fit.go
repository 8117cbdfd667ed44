package profile

import (
	"errors"
	"math"
)

// Point is one measurement: a value (µs of latency, CPU-µs per request) at a message
// size in bytes.
type Point struct {
	Bytes float64
	Value float64
}

// ErrTooFewPoints is returned by FitLinear without at least one finite point.
var ErrTooFewPoints = errors.New("no finite points to fit")

// FitLinear fits value = Intercept + PerKiB × bytes/1024 by least squares, with the
// slope constrained to be non-negative (a proxy never gets cheaper per request as
// messages grow; a negative fitted slope is noise) and the intercept to be
// non-negative. It reports R² against the points and the largest size seen.
// Non-finite points are ignored.
func FitLinear(points []Point) (Linear, Fit, error) {
	var xs, ys []float64
	for _, p := range points {
		if finite(p.Bytes) && finite(p.Value) {
			xs = append(xs, p.Bytes/1024)
			ys = append(ys, p.Value)
		}
	}
	n := float64(len(xs))
	if n == 0 {
		return Linear{}, Fit{}, ErrTooFewPoints
	}
	var sx, sy, maxBytes float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		maxBytes = math.Max(maxBytes, xs[i]*1024)
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	l := Linear{Intercept: my}
	if sxx > 0 && sxy > 0 {
		l.PerKiB = sxy / sxx
		l.Intercept = my - l.PerKiB*mx
	}
	if l.Intercept < 0 {
		// Refit through the origin: value = PerKiB × x.
		var sxx0, sxy0 float64
		for i := range xs {
			sxx0 += xs[i] * xs[i]
			sxy0 += xs[i] * ys[i]
		}
		l = Linear{}
		if sxx0 > 0 && sxy0 > 0 {
			l.PerKiB = sxy0 / sxx0
		}
	}
	return l, Fit{R2: rSquared(l, xs, ys, my), Samples: len(xs), MaxBytes: maxBytes}, nil
}

// rSquared is 1 − SSres/SStot; 1 when the points are all equal and fitted exactly.
func rSquared(l Linear, xs, ys []float64, mean float64) float64 {
	var res, tot float64
	for i := range xs {
		d := ys[i] - (l.Intercept + l.PerKiB*xs[i])
		res += d * d
		tot += (ys[i] - mean) * (ys[i] - mean)
	}
	if tot == 0 {
		if res == 0 {
			return 1
		}
		return 0
	}
	return 1 - res/tot
}
