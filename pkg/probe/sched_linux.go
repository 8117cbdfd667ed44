//go:build linux

package probe

import (
	"errors"
	"fmt"
	"sort"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Thread is the in-kernel scheduling accounting of one thread of a target
// process since the target was added.
type Thread struct {
	TID  int
	TGID int
	// OnCPUNanos is the time the thread ran, switch-in to switch-out. It
	// includes the running slice in progress when the snapshot was taken, but
	// not a slice that was already running when the target was added.
	OnCPUNanos uint64
	// RunqWaitNanos is the time the thread was runnable but not running:
	// from its wakeup, or from being switched out while still runnable, to
	// its next switch-in.
	RunqWaitNanos uint64
	// Switches counts switches away from the thread.
	Switches uint64
	// Preemptions counts the switches that left the thread runnable
	// (involuntary context switches).
	Preemptions uint64
}

// Sched accounts on-CPU time, context switches and run-queue wait of target
// processes with the tp_btf sched_switch and sched_wakeup programs of
// bpf/sched.bpf.c. All aggregation happens in the kernel.
type Sched struct {
	objs    schedObjects
	targets targetVar
	links   []link.Link
}

// NewSched loads the scheduler programs without attaching them.
func NewSched() (*Sched, error) {
	s := &Sched{}
	if err := loadSchedObjects(&s.objs, nil); err != nil {
		return nil, fmt.Errorf("loading sched objects: %w", err)
	}
	s.targets.v = s.objs.Targets
	return s, nil
}

// Start adds target processes and attaches the programs if they are not
// attached yet. Threads running at that moment are accounted from their next
// switch-in.
func (s *Sched) Start(tgids []int) error {
	if err := s.targets.add(tgids, nil); err != nil {
		return err
	}
	if s.links != nil {
		return nil
	}
	links, err := attachTracing(s.objs.SchedSwitch, s.objs.SchedWakeup, s.objs.SchedWakeupNew)
	if err != nil {
		return err
	}
	s.links = links
	return nil
}

// RemoveTargets stops accounting the given processes; their threads keep the
// totals collected so far.
func (s *Sched) RemoveTargets(tgids []int) error {
	return s.targets.remove(tgids, nil)
}

// Snapshot returns the cumulative accounting of every thread seen, sorted by
// TGID and TID.
func (s *Sched) Snapshot() ([]Thread, error) {
	var ts unix.Timespec
	// bpf_ktime_get_ns is CLOCK_MONOTONIC.
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return nil, fmt.Errorf("reading monotonic clock: %w", err)
	}
	now := uint64(ts.Nano())

	var (
		tid uint32
		v   schedThreadStats
		out []Thread
	)
	it := s.objs.Threads.Iterate()
	for it.Next(&tid, &v) {
		on := v.OncpuNs
		if v.OnTs != 0 && now > v.OnTs {
			on += now - v.OnTs
		}
		out = append(out, Thread{
			TID:           int(tid),
			TGID:          int(v.Tgid),
			OnCPUNanos:    on,
			RunqWaitNanos: v.RunqNs,
			Switches:      v.Switches,
			Preemptions:   v.Preemptions,
		})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading sched threads: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].TGID != out[j].TGID {
			return out[i].TGID < out[j].TGID
		}
		return out[i].TID < out[j].TID
	})
	return out, nil
}

// Dropped reports how many times a thread could not be accounted because
// the thread table was full.
func (s *Sched) Dropped() (uint64, error) {
	return readDropped(s.objs.Dropped)
}

// Reset forgets all threads, e.g. between experiments, so that threads of
// exited processes do not fill the table. A target thread that is running
// during Reset loses that slice.
func (s *Sched) Reset() error {
	if err := clearMap[uint32](s.objs.Threads); err != nil {
		return fmt.Errorf("clearing sched threads: %w", err)
	}
	return nil
}

// Close detaches the programs and frees their maps.
func (s *Sched) Close() error {
	err := closeLinks(s.links)
	s.links = nil
	return errors.Join(err, s.objs.Close())
}
