package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// client sends one request on the connection of worker w. Workers never share a
// worker index, so implementations need no locking per index.
type client interface {
	do(ctx context.Context, w int) error
	close()
}

func newClient(ctx context.Context, cfg LoadConfig) (client, error) {
	switch cfg.Protocol {
	case TCP:
		return newTCPClient(ctx, cfg)
	case HTTP, H2C:
		return newHTTPClient(cfg), nil
	case GRPC:
		return newGRPCClient(cfg)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownProtocol, cfg.Protocol)
}

// Run drives cfg.Target with the configured load and returns what it measured.
//
// Open loop (RatePerSecond > 0): request i is due at start + i/rate, whatever
// happened to earlier requests. A free worker sleeps until the due time and then
// sends; if every worker is still busy with earlier requests, the request is sent as
// soon as one is free and its latency counts from the due time, so a stall of the
// target shows in the percentiles instead of silently lowering the rate
// (coordinated omission). Lateness that is the generator's own (Go timers oversleep
// by up to ~1 ms; a starved generator wakes late) is reported as send lag and not
// charged to the target: latency counts from the due time plus that part.
//
// Closed loop (RatePerSecond == 0): each worker sends back to back; latency is the
// plain round trip.
//
// Before the schedule starts, one request per connection checks that the target
// answers the protocol (so a wrong port fails fast) and opens the connections; it is
// not recorded. If ctx is cancelled, Run returns promptly with the partial Result and
// an error wrapping ctx.Err().
func Run(ctx context.Context, cfg LoadConfig) (*Result, error) {
	s, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Run(ctx, cfg)
}

// Session is a load generator whose connections stay open across runs, as
// a long-lived client's do: a run on a session pays no connection set-up
// (TCP and, through a mesh, mTLS handshakes) that a deployment would
// amortise over hours.
type Session struct {
	cfg    LoadConfig
	cl     client
	probes int // readiness requests not yet reported in a Result
}

// Open connects a session for cfg's protocol, target and connections, and
// sends one readiness request per connection (see Run).
func Open(ctx context.Context, cfg LoadConfig) (*Session, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cl, err := newClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := probe(ctx, cl, cfg); err != nil {
		cl.close()
		return nil, err
	}
	return &Session{cfg: cfg, cl: cl, probes: cfg.Connections}, nil
}

// Run runs cfg on the session's connections. cfg must name the session's
// protocol, target and connections; rate, sizes, durations and arrivals
// may differ from run to run. The first run's Result counts the session's
// readiness requests (Probes).
func (s *Session) Run(ctx context.Context, cfg LoadConfig) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Protocol != s.cfg.Protocol || cfg.Target != s.cfg.Target || cfg.Connections != s.cfg.Connections || cfg.MaxInFlight != s.cfg.MaxInFlight {
		return nil, fmt.Errorf("%w: a session of %s to %s with %d connections cannot run %s to %s with %d",
			ErrInvalidConfig, s.cfg.Protocol, s.cfg.Target, s.cfg.Connections, cfg.Protocol, cfg.Target, cfg.Connections)
	}
	r := newRecorder(cfg)
	var wg sync.WaitGroup
	for w := range cfg.MaxInFlight {
		wg.Go(func() {
			if cfg.RatePerSecond > 0 {
				r.openLoopWorker(ctx, s.cl, w)
			} else {
				r.closedLoopWorker(ctx, s.cl, w)
			}
		})
	}
	wg.Wait()
	res, err := r.result(ctx.Err() != nil)
	if err != nil {
		return nil, err
	}
	res.Probes, s.probes = s.probes, 0
	if ctx.Err() != nil {
		return res, fmt.Errorf("load run against %s stopped early: %w", cfg.Target, context.Cause(ctx))
	}
	return res, nil
}

// Close closes the session's connections.
func (s *Session) Close() { s.cl.close() }

// probe sends one request per connection, concurrently, so that connection set-up
// is not measured and a wrong target fails with a clear error.
func probe(ctx context.Context, cl client, cfg LoadConfig) error {
	errs := make([]error, cfg.Connections)
	var wg sync.WaitGroup
	for w := range cfg.Connections {
		wg.Go(func() { errs[w] = cl.do(ctx, w) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("probing %s echo server at %s: %w", cfg.Protocol, cfg.Target, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("probing %s echo server at %s (is an echo server for %s listening there?): %w",
			cfg.Protocol, cfg.Target, cfg.Protocol, err)
	}
	return nil
}

// recorder holds the schedule and the shared measurements of one run.
type recorder struct {
	cfg         LoadConfig
	start       time.Time
	windowStart time.Time
	windowEnd   time.Time
	// claimDeadline ends the drain: after it, due requests are dropped, not sent.
	claimDeadline time.Time
	sched         schedule

	busy     *busyClock
	claimed  atomic.Int64 // requests sent in the window (for cfg.Requests)
	limitHit atomic.Bool
	mu       sync.Mutex
	hist     histograms
	counts   counts
	lastDone time.Time
	lastSent time.Time
	firstErr error
}

type counts struct {
	sent, completed, errors, late int
}

func newRecorder(cfg LoadConfig) *recorder {
	now := time.Now()
	r := &recorder{
		cfg:         cfg,
		start:       now,
		windowStart: now.Add(cfg.Warmup),
		windowEnd:   now.Add(cfg.Warmup + cfg.Duration),
		hist:        newHistograms(),
	}
	r.claimDeadline = r.windowEnd.Add(cfg.Timeout)
	r.busy = newBusyClock(cfg.MaxInFlight, now)
	if cfg.RatePerSecond > 0 {
		r.sched = newSchedule(cfg)
	}
	return r
}

// takeQuota reports whether one more request may be sent in the window.
func (r *recorder) takeQuota() bool {
	if r.cfg.Requests <= 0 {
		return true
	}
	if r.claimed.Add(1) > int64(r.cfg.Requests) {
		r.limitHit.Store(true)
		return false
	}
	return true
}

func (r *recorder) openLoopWorker(ctx context.Context, cl client, w int) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		intended := r.start.Add(r.sched.next())
		if !intended.Before(r.windowEnd) {
			return
		}
		now := time.Now()
		if now.After(r.claimDeadline) {
			return // the rest of the window is counted as dropped
		}
		measured := !intended.Before(r.windowStart)
		if measured && !r.takeQuota() {
			return
		}
		if now.Before(intended) {
			timer.Reset(intended.Sub(now))
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		sent := time.Now()
		// The part of the lateness the target caused: every worker was busy with
		// an earlier request after this one fell due (coordinated omission). The
		// rest (timer oversleep, the generator not being scheduled) is reported as
		// send lag but not charged as latency.
		targetLag := r.busy.targetLag(intended, sent)
		ref := sent.Add(-targetLag)
		r.busy.enter(sent)
		err := cl.do(ctx, w)
		done := time.Now()
		r.busy.exit(done)
		if ctx.Err() != nil {
			return
		}
		if measured {
			r.record(ref, sent, done, sent.Sub(intended), targetLag > lateThreshold, err)
		}
	}
}

func (r *recorder) closedLoopWorker(ctx context.Context, cl client, w int) {
	for ctx.Err() == nil {
		sent := time.Now()
		if !sent.Before(r.windowEnd) {
			return
		}
		measured := !sent.Before(r.windowStart)
		if measured && !r.takeQuota() {
			return
		}
		err := cl.do(ctx, w)
		done := time.Now()
		if ctx.Err() != nil {
			return
		}
		if measured {
			r.record(sent, sent, done, 0, false, err)
		}
	}
}

func (r *recorder) record(ref, sent, done time.Time, lag time.Duration, behind bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts.sent++
	if sent.After(r.lastSent) {
		r.lastSent = sent
	}
	if behind {
		r.counts.late++
	}
	if r.cfg.RatePerSecond > 0 {
		r.hist.lag.record(lag)
	}
	if err != nil {
		r.counts.errors++
		if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	r.counts.completed++
	r.hist.latency.record(done.Sub(ref))
	r.hist.service.record(done.Sub(sent))
	if done.After(r.lastDone) {
		r.lastDone = done
	}
}

// result summarizes the run; workers must have returned. A cancelled run reports
// no drops: its unsent slots were abandoned, not missed.
func (r *recorder) result(cancelled bool) (*Result, error) {
	c := r.counts
	res := &Result{
		Protocol:      r.cfg.Protocol,
		Target:        r.cfg.Target,
		RatePerSecond: r.cfg.RatePerSecond,
		Sent:          c.sent,
		Completed:     c.completed,
		Errors:        c.errors,
		Late:          c.late,
	}
	if r.firstErr != nil {
		res.FirstError = r.firstErr.Error()
	}
	if r.cfg.RatePerSecond > 0 && !r.limitHit.Load() && !cancelled {
		slots := r.sched.slotsInWindow()
		res.Dropped = max(0, int(slots)-c.sent)
	}
	// The window, stretched if sending ran late past its end (the generator or
	// target fell behind), or cut short by a request limit. The tail of the last
	// responses does not count: that is latency, reported separately.
	elapsed := r.cfg.Duration
	switch {
	case r.limitHit.Load() && !r.lastDone.IsZero():
		elapsed = r.lastDone.Sub(r.windowStart)
	case !r.lastSent.IsZero():
		elapsed = max(elapsed, r.lastSent.Sub(r.windowStart))
	}
	res.Elapsed = elapsed
	if elapsed > 0 {
		res.AchievedRate = float64(c.completed) / elapsed.Seconds()
	}
	if err := res.setHistograms(r.hist); err != nil {
		return nil, err
	}
	return res, nil
}
