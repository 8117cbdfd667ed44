//go:build linux

package probe

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cilium/ebpf"
)

// DefaultSamplePeriod is the CPU-clock sampling period used when
// StacksOptions.Period is zero: 99 Hz, like perf and bcc's profile, so that
// samples do not run in lockstep with periodic kernel timers.
const DefaultSamplePeriod = time.Second / 99

// maxStackDepth matches MAX_STACK_DEPTH in bpf/stacks.bpf.c.
const maxStackDepth = 127

// StacksOptions configure stack sampling.
type StacksOptions struct {
	// Period between samples on each CPU; DefaultSamplePeriod when zero.
	Period time.Duration
	// MaxStacks bounds the distinct stacks kept in the kernel (about 1 KiB
	// each); 8192 when zero. Stacks beyond it are recorded as missing.
	MaxStacks int
}

// Sample is a number of CPU-clock samples that hit one thread with the same
// kernel and user stacks. Stacks are instruction pointers, innermost first;
// the kernel stack is empty when the samples interrupted user mode, and
// either is empty when the stack table was full or collided.
type Sample struct {
	TGID        int
	TID         int
	KernelStack []uint64
	UserStack   []uint64
	Count       uint64
}

// Stacks samples the stacks of target processes with a perf_event program
// (bpf/stacks.bpf.c) on a software CPU_CLOCK event on every online CPU.
type Stacks struct {
	objs    stacksObjects
	targets targetVar
	period  time.Duration
	events  []*cpuClockEvent
}

// NewStacks loads the sampling program without starting it.
func NewStacks(opts StacksOptions) (*Stacks, error) {
	if opts.Period == 0 {
		opts.Period = DefaultSamplePeriod
	}
	if opts.Period < 10*time.Microsecond {
		return nil, fmt.Errorf("sample period %s is below 10µs", opts.Period)
	}
	spec, err := loadStacks()
	if err != nil {
		return nil, fmt.Errorf("loading stacks spec: %w", err)
	}
	if opts.MaxStacks > 0 {
		spec.Maps["stacks"].MaxEntries = uint32(opts.MaxStacks)
	}
	s := &Stacks{period: opts.Period}
	if err := spec.LoadAndAssign(&s.objs, nil); err != nil {
		return nil, fmt.Errorf("loading stacks objects: %w", err)
	}
	s.targets.v = s.objs.Targets
	return s, nil
}

// Start adds target processes and, on the first call, starts sampling on
// every online CPU.
func (s *Stacks) Start(tgids []int) error {
	if err := s.targets.add(tgids, nil); err != nil {
		return err
	}
	if s.events != nil {
		return nil
	}
	cpus, err := onlineCPUs()
	if err != nil {
		return err
	}
	for _, cpu := range cpus {
		fd, err := openCPUClock(cpu, s.period)
		if err != nil {
			_ = s.stop()
			return err
		}
		ev, err := attachCPUClock(fd, s.objs.Sample)
		if err != nil {
			_ = s.stop()
			return fmt.Errorf("cpu %d: %w", cpu, err)
		}
		s.events = append(s.events, ev)
	}
	return nil
}

// RemoveTargets stops sampling the given processes.
func (s *Stacks) RemoveTargets(tgids []int) error {
	return s.targets.remove(tgids, nil)
}

// Snapshot returns the cumulative samples since Start or the last Reset,
// most frequent first.
func (s *Stacks) Snapshot() ([]Sample, error) {
	cache := map[int32][]uint64{}
	stack := func(id int32) ([]uint64, error) {
		if id < 0 {
			return nil, nil
		}
		if st, ok := cache[id]; ok {
			return st, nil
		}
		var ips [maxStackDepth]uint64
		if err := s.objs.Stacks.Lookup(uint32(id), &ips); err != nil {
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				return nil, nil // removed by a concurrent Reset
			}
			return nil, fmt.Errorf("reading stack %d: %w", id, err)
		}
		n := 0
		for n < len(ips) && ips[n] != 0 {
			n++
		}
		st := append([]uint64(nil), ips[:n]...)
		cache[id] = st
		return st, nil
	}

	var (
		key   stacksSampleKey
		count uint64
		out   []Sample
	)
	it := s.objs.Counts.Iterate()
	for it.Next(&key, &count) {
		ks, err := stack(key.Kstack)
		if err != nil {
			return nil, err
		}
		us, err := stack(key.Ustack)
		if err != nil {
			return nil, err
		}
		out = append(out, Sample{
			TGID:        int(key.Tgid),
			TID:         int(key.Pid),
			KernelStack: ks,
			UserStack:   us,
			Count:       count,
		})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading sample counts: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	return out, nil
}

// Reset clears the counts and the stack table, so that long runs do not fill
// it. Samples taken while it runs may lose their stacks.
func (s *Stacks) Reset() error {
	if err := clearMap[stacksSampleKey](s.objs.Counts); err != nil {
		return fmt.Errorf("clearing sample counts: %w", err)
	}
	if err := clearMap[uint32](s.objs.Stacks); err != nil {
		return fmt.Errorf("clearing stacks: %w", err)
	}
	return nil
}

// Dropped reports samples lost because the count table was full.
func (s *Stacks) Dropped() (uint64, error) {
	return readDropped(s.objs.Dropped)
}

func (s *Stacks) stop() error {
	var errs []error
	for _, ev := range s.events {
		errs = append(errs, ev.close())
	}
	s.events = nil
	return errors.Join(errs...)
}

// Close stops sampling and frees the program and maps.
func (s *Stacks) Close() error {
	return errors.Join(s.stop(), s.objs.Close())
}

// clearMap deletes every key of a hash or stack map. Keys are collected
// first: deleting while walking the keys restarts the walk.
func clearMap[K any](m *ebpf.Map) error {
	var keys []K
	var prev any // nil starts the walk
	for {
		var k K
		if err := m.NextKey(prev, &k); err != nil {
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				break
			}
			return err
		}
		keys = append(keys, k)
		prev = &keys[len(keys)-1]
	}
	for i := range keys {
		if err := m.Delete(&keys[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}
	return nil
}
