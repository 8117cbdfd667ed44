package loadgen

import (
	"testing"
	"time"
)

func TestBusyClockChargesOnlyAllBusyTime(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	c := newBusyClock(2, t0)
	c.enter(at(0))
	c.enter(at(10)) // both busy from 10 ms
	c.exit(at(30))  // to 30 ms
	c.enter(at(50)) // both busy again from 50 ms, still busy
	for _, tc := range []struct {
		name      string
		due, sent int
		want      int
	}{
		{"due while one worker free", 2, 9, 0},
		{"due in the all-busy period", 5, 40, 20},
		{"partly inside", 15, 25, 10},
		{"open all-busy period", 40, 60, 10},
		{"sent on time", 45, 45, 0},
	} {
		got := c.targetLag(at(tc.due), at(tc.sent))
		if want := time.Duration(tc.want) * time.Millisecond; got != want {
			t.Errorf("%s: targetLag(%d, %d) = %v, want %v", tc.name, tc.due, tc.sent, got, want)
		}
	}
	// Before the kept history: charge the whole lateness, like a classic
	// open-loop generator.
	if got := c.targetLag(at(-5000), at(1)); got != 5001*time.Millisecond {
		t.Errorf("targetLag before history = %v, want all 5.001s", got)
	}
}

func TestBusyClockTrimsHistory(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := newBusyClock(1, t0)
	for i := range 10_000 {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		c.enter(now)
		c.exit(now.Add(500 * time.Microsecond))
	}
	// 10 s of transitions, 2 per ms; only about historyWindow (2 s) may be kept,
	// plus up to as much again before a compaction.
	if n := len(c.history); n > 2*2*2000+2 {
		t.Errorf("history holds %d transitions, want about the last 2 s", n)
	}
	end := t0.Add(10 * time.Second)
	if got := c.targetLag(end.Add(-time.Second), end); got != 500*time.Millisecond {
		t.Errorf("targetLag over the last second = %v, want 500ms (busy half the time)", got)
	}
}
