package loadgen

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// schedule hands out the open loop's intended send times, as offsets from
// the start of a run, in increasing order; workers claim them concurrently.
type schedule interface {
	// next claims the next slot and returns when it is due.
	next() time.Duration
	// slotsInWindow counts the slots due in the measured window. It is
	// called once the workers have returned.
	slotsInWindow() int64
}

func newSchedule(cfg LoadConfig) schedule {
	interval := 1e9 / cfg.RatePerSecond
	from, to := cfg.Warmup, cfg.Warmup+cfg.Duration
	if cfg.Arrivals == Poisson {
		seed := cfg.Seed
		if seed == 0 {
			seed = rand.Uint64()
		}
		return &poissonSchedule{meanNs: interval, from: from, to: to, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	}
	return &uniformSchedule{intervalNs: interval, from: from, to: to}
}

// uniformSchedule is slot i due at i/rate.
type uniformSchedule struct {
	intervalNs float64
	from, to   time.Duration
	n          atomic.Int64
}

func (u *uniformSchedule) due(i int64) time.Duration { return time.Duration(float64(i) * u.intervalNs) }

func (u *uniformSchedule) next() time.Duration { return u.due(u.n.Add(1) - 1) }

func (u *uniformSchedule) slotsInWindow() int64 { return u.firstAt(u.to) - u.firstAt(u.from) }

// firstAt returns the smallest slot due at or after offset d.
func (u *uniformSchedule) firstAt(d time.Duration) int64 {
	i := int64(math.Ceil(float64(d) / u.intervalNs))
	for i > 0 && u.due(i-1) >= d {
		i--
	}
	for u.due(i) < d {
		i++
	}
	return i
}

// poissonSchedule spaces slots by exponential gaps: a Poisson process of
// the configured rate. Dues are drawn as they are claimed and counted, so
// a long run at a high rate holds no table of them.
type poissonSchedule struct {
	meanNs   float64
	from, to time.Duration
	mu       sync.Mutex
	rng      *rand.Rand
	last     float64 // ns of the last slot drawn
	inWindow int64   // slots drawn so far that fall in [from, to)
}

func (p *poissonSchedule) draw() time.Duration {
	p.last += p.rng.ExpFloat64() * p.meanNs
	d := time.Duration(p.last)
	if d >= p.from && d < p.to {
		p.inWindow++
	}
	return d
}

func (p *poissonSchedule) next() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.draw()
}

// slotsInWindow draws the rest of the window (the workers stop at the
// first slot past it, or earlier when they fall behind) and counts it.
func (p *poissonSchedule) slotsInWindow() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	for time.Duration(p.last) < p.to {
		p.draw()
	}
	return p.inWindow
}
