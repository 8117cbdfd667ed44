package profile

import (
	"errors"
	"math"
	"testing"
)

func TestFitLinear(t *testing.T) {
	cases := []struct {
		name         string
		pts          []Point
		want         Linear
		wantR2       float64
		wantMaxBytes float64
	}{
		{"exact line", []Point{{0, 10}, {1024, 14}, {4096, 26}}, Linear{10, 4}, 1, 4096},
		{"flat", []Point{{100, 5}, {1000, 5}, {10000, 5}}, Linear{5, 0}, 1, 10000},
		// A falling trend is noise for a proxy: slope 0, intercept the mean.
		{"negative slope clamped", []Point{{0, 12}, {1024, 10}, {2048, 8}}, Linear{10, 0}, 0, 2048},
		// A fit whose intercept would be negative goes through the origin instead.
		{"negative intercept refit", []Point{{1024, 1}, {2048, 4}}, Linear{0, 1.8}, 0.8 /* computed below */, 2048},
		{"ignores NaN", []Point{{0, 1}, {1024, 2}, {math.NaN(), 100}}, Linear{1, 1}, 1, 1024},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, fit, err := FitLinear(c.pts)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(l.Intercept-c.want.Intercept) > 1e-9 || math.Abs(l.PerKiB-c.want.PerKiB) > 1e-9 {
				t.Errorf("fit = %+v, want %+v", l, c.want)
			}
			if l.PerKiB < 0 || l.Intercept < 0 {
				t.Errorf("negative coefficient: %+v", l)
			}
			if c.name == "negative intercept refit" {
				// Residuals 1-1.8=-0.8 and 4-3.6=0.4; mean 2.5: SSres 0.8, SStot 4.5.
				c.wantR2 = 1 - 0.8/4.5
			}
			if math.Abs(fit.R2-c.wantR2) > 1e-9 || fit.MaxBytes != c.wantMaxBytes {
				t.Errorf("fit quality = %+v, want R² %v, max %v", fit, c.wantR2, c.wantMaxBytes)
			}
		})
	}
	if _, _, err := FitLinear([]Point{{math.Inf(1), 1}}); !errors.Is(err, ErrTooFewPoints) {
		t.Errorf("no finite points: %v", err)
	}
}
