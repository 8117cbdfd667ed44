package loadgen

import (
	"sort"
	"sync"
	"time"
)

// busyClock measures how long every worker has been inside a request at once: the
// only time during which a due request could not be sent because of the target.
// Time when some worker was free but not sending (timer oversleep, the generator not
// being scheduled on a busy machine) is the generator's own lateness.
//
// It keeps the history of its piecewise-linear value for the last historyWindow so
// that a request sent late can ask for the value at its (past) due time.
type busyClock struct {
	mu      sync.Mutex
	workers int
	busy    int
	// history holds the transitions into and out of "all busy", oldest first;
	// history[0] may be older than historyWindow (it carries the state at the cut).
	history []busyTransition
}

type busyTransition struct {
	at time.Time
	// acc is the all-busy time accumulated up to at.
	acc     time.Duration
	allBusy bool
}

const (
	// historyWindow bounds how far back a due time can be resolved; a request
	// later than that is charged all of its lateness, as a classic open-loop
	// generator would.
	historyWindow = 2 * time.Second
	// maxHistory bounds memory at very high rates under overload.
	maxHistory = 1 << 20
)

func newBusyClock(workers int, start time.Time) *busyClock {
	return &busyClock{workers: workers, history: []busyTransition{{at: start}}}
}

func (c *busyClock) last() busyTransition { return c.history[len(c.history)-1] }

// enter marks a worker as inside a request from now on.
func (c *busyClock) enter(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy++
	if c.busy == c.workers {
		c.push(busyTransition{at: now, acc: c.last().acc, allBusy: true})
	}
}

// exit marks a worker as done with its request.
func (c *busyClock) exit(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy == c.workers {
		l := c.last()
		c.push(busyTransition{at: now, acc: l.acc + max(now.Sub(l.at), 0)})
	}
	c.busy--
}

func (c *busyClock) push(t busyTransition) {
	c.history = append(c.history, t)
	// Drop transitions older than the window, keeping the one at the cut.
	cut := t.at.Add(-historyWindow)
	drop := 0
	for drop+1 < len(c.history) && !c.history[drop+1].at.After(cut) {
		drop++
	}
	if over := len(c.history) - maxHistory; over > drop {
		drop = over
	}
	if drop > 0 && drop*2 >= len(c.history) {
		// Compact only when at least half is dead, so trimming stays amortized O(1).
		c.history = append(c.history[:0], c.history[drop:]...)
	}
}

// targetLag returns how much of the interval [due, sent] every worker was busy,
// i.e. the part of a request's lateness caused by outstanding requests. If due is
// older than the kept history, it returns sent-due (charge everything).
func (c *busyClock) targetLag(due, sent time.Time) time.Duration {
	if !sent.After(due) {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	from, ok := c.valueAt(due)
	if !ok {
		return sent.Sub(due)
	}
	to, _ := c.valueAt(sent)
	return min(max(to-from, 0), sent.Sub(due))
}

// valueAt returns the accumulated all-busy time at t, or false if t is before the
// kept history.
func (c *busyClock) valueAt(t time.Time) (time.Duration, bool) {
	i := sort.Search(len(c.history), func(i int) bool { return c.history[i].at.After(t) }) - 1
	if i < 0 {
		return 0, false
	}
	tr := c.history[i]
	v := tr.acc
	if tr.allBusy {
		v += t.Sub(tr.at)
	}
	return v, true
}
