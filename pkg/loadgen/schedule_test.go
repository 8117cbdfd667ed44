package loadgen

import (
	"math"
	"testing"
	"time"
)

func TestPoissonSchedule(t *testing.T) {
	cfg := LoadConfig{RatePerSecond: 1000, Warmup: time.Second, Duration: 10 * time.Second, Arrivals: Poisson, Seed: 42}
	s := newSchedule(cfg)
	var gaps []float64
	prev := time.Duration(0)
	for {
		d := s.next()
		if d < prev {
			t.Fatalf("slot at %v before the previous one at %v", d, prev)
		}
		gaps = append(gaps, float64(d-prev))
		prev = d
		if d >= cfg.Warmup+cfg.Duration {
			break
		}
	}
	var sum, sq float64
	for _, g := range gaps {
		sum += g
	}
	mean := sum / float64(len(gaps))
	for _, g := range gaps {
		sq += (g - mean) * (g - mean)
	}
	cv := math.Sqrt(sq/float64(len(gaps))) / mean
	// ~11,000 exponential gaps of mean 1 ms: mean and coefficient of
	// variation (1 for an exponential) within a few per cent.
	if math.Abs(mean/1e6-1) > 0.03 || math.Abs(cv-1) > 0.05 {
		t.Errorf("gaps: mean %.3f ms, CV %.3f; want 1 ms and 1", mean/1e6, cv)
	}
	n := s.slotsInWindow()
	if math.Abs(float64(n)/10000-1) > 0.05 {
		t.Errorf("%d slots in the 10 s window, want about 10,000", n)
	}
	// The same seed gives the same schedule.
	a, b := newSchedule(cfg), newSchedule(cfg)
	for range 100 {
		if a.next() != b.next() {
			t.Fatal("one seed, two schedules")
		}
	}
}

func TestUniformSchedule(t *testing.T) {
	s := newSchedule(LoadConfig{RatePerSecond: 4, Warmup: 500 * time.Millisecond, Duration: time.Second})
	for i, want := range []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond} {
		if got := s.next(); got != want {
			t.Errorf("slot %d at %v, want %v", i, got, want)
		}
	}
	// Due in [0.5 s, 1.5 s): 0.5, 0.75, 1, 1.25.
	if n := s.slotsInWindow(); n != 4 {
		t.Errorf("%d slots in the window, want 4", n)
	}
}

func TestArrivalsValidate(t *testing.T) {
	c := LoadConfig{Protocol: HTTP, Target: "127.0.0.1:1", RatePerSecond: 10, Duration: time.Second, Arrivals: "bursty"}
	if err := c.Validate(); err == nil {
		t.Error("unknown arrival process accepted")
	}
	c.Arrivals = Poisson
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}
