package probe

import (
	"math"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	const stat = "cpu  100 5 50 800 20 3 2 20 7 0\ncpu0 50 2 25 400 10 1 1 10 3 0\nintr 1 2 3\n"
	got, err := parseProcStat([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := (NodeCPU{Busy: 160, Total: 1000}); got != want {
		t.Errorf("parseProcStat = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8\n", "cpu 1 2 3\n", "cpu 1 2 x 4 5 6 7 8\n"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) accepted", bad)
		}
	}
}

func TestBusyShare(t *testing.T) {
	for _, tc := range []struct {
		before, after NodeCPU
		want          float64
		ok            bool
	}{
		{NodeCPU{100, 1000}, NodeCPU{400, 2000}, 0.3, true},
		{NodeCPU{100, 1000}, NodeCPU{100, 1000}, 0, false}, // no time passed
		{NodeCPU{100, 1000}, NodeCPU{50, 2000}, 0, false},  // counters went back
	} {
		got, ok := BusyShare(tc.before, tc.after)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("BusyShare(%+v, %+v) = %v, %v; want %v, %v", tc.before, tc.after, got, ok, tc.want, tc.ok)
		}
	}
}
