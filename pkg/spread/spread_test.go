package spread

import (
	"slices"
	"testing"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Figure
	}{
		{nil, Figure{}},
		{[]float64{5}, Figure{5, 5, 5, 1}},
		{[]float64{3, 1, 2}, Figure{2, 1, 3, 3}},
		{[]float64{4, 1, 3, 2}, Figure{2.5, 1, 4, 4}},
	} {
		in := slices.Clone(tc.in)
		if got := Of(tc.in); got != tc.want {
			t.Errorf("Of(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("Of modified its input %v", in)
		}
	}
}

func TestInside(t *testing.T) {
	f := Of([]float64{10, 20, 30})
	for v, want := range map[float64]bool{10: true, 25: true, 30: true, 9.9: false, 30.1: false} {
		if f.Inside(v) != want {
			t.Errorf("Inside(%v) = %v", v, !want)
		}
	}
	if (Figure{}).Inside(0) {
		t.Error("a figure of no values contains 0")
	}
}

func TestBootstrap(t *testing.T) {
	values := []float64{10, 11, 9, 10.5, 9.5, 10, 30}
	low, high := Bootstrap(values, Mean, 0.9, 2000)
	mean := Mean(values)
	if !(low < mean && mean < high) {
		t.Fatalf("90%% interval of the mean [%g, %g] does not contain the mean %g", low, high, mean)
	}
	if low < 9 || high > 30 {
		t.Fatalf("interval [%g, %g] outside the values' range", low, high)
	}
	// Same values, same interval (seeded), and a wider level is no narrower.
	if l2, h2 := Bootstrap(values, Mean, 0.9, 2000); l2 != low || h2 != high {
		t.Fatalf("not reproducible: [%g, %g] then [%g, %g]", low, high, l2, h2)
	}
	if l99, h99 := Bootstrap(values, Mean, 0.99, 2000); l99 > low || h99 < high {
		t.Fatalf("99%% interval [%g, %g] narrower than 90%% [%g, %g]", l99, h99, low, high)
	}
	// The median ignores the outlier more than the mean does.
	if _, hm := Bootstrap(values, Median, 0.9, 2000); hm >= high {
		t.Fatalf("median's upper bound %g not below the mean's %g", hm, high)
	}
	if l, h := Bootstrap([]float64{4}, Mean, 0.9, 100); l != 4 || h != 4 {
		t.Fatalf("one value: [%g, %g], want [4, 4]", l, h)
	}
}
