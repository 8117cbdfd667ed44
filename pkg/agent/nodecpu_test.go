package agent

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
	if want := (cpuTimes{busy: 160, total: 1000}); got != want {
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
		before, after cpuTimes
		want          float64
		ok            bool
	}{
		{cpuTimes{100, 1000}, cpuTimes{400, 2000}, 0.3, true},
		{cpuTimes{100, 1000}, cpuTimes{100, 1000}, 0, false}, // no time passed
		{cpuTimes{100, 1000}, cpuTimes{50, 2000}, 0, false},  // counters went back
	} {
		got, ok := busyShare(tc.before, tc.after)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("busyShare(%+v, %+v) = %v, %v; want %v, %v", tc.before, tc.after, got, ok, tc.want, tc.ok)
		}
	}
}
