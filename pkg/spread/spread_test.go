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
