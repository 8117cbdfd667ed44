//go:build linux

package probe

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// targetVar keeps a program's `targets` global in sync with its slots. The
// global is memory-mapped: writes are visible to running programs at once.
type targetVar struct {
	v     *ebpf.Variable
	slots targetSlots
}

// add adds tgids; onNew runs for each newly used slot before the tgid is
// published, so that a program never counts into stale per-slot state.
func (tv *targetVar) add(tgids []int, onNew func(slot int) error) error {
	for _, tgid := range tgids {
		next := tv.slots
		slot, isNew, err := next.add(tgid)
		if err != nil {
			return err
		}
		if !isNew {
			continue
		}
		if onNew != nil {
			if err := onNew(slot); err != nil {
				return fmt.Errorf("adding target %d: %w", tgid, err)
			}
		}
		if err := tv.v.Set(next); err != nil {
			return fmt.Errorf("adding target %d: %w", tgid, err)
		}
		tv.slots = next
	}
	return nil
}

// remove stops measuring tgids; onRemoved runs for each freed slot after
// programs stopped using it. Unknown tgids are ignored.
func (tv *targetVar) remove(tgids []int, onRemoved func(slot, tgid int) error) error {
	for _, tgid := range tgids {
		next := tv.slots
		slot := next.remove(tgid)
		if slot < 0 {
			continue
		}
		if err := tv.v.Set(next); err != nil {
			return fmt.Errorf("removing target %d: %w", tgid, err)
		}
		tv.slots = next
		if onRemoved != nil {
			if err := onRemoved(slot, tgid); err != nil {
				return fmt.Errorf("removing target %d: %w", tgid, err)
			}
		}
	}
	return nil
}

// closeLinks detaches links in reverse order and returns the first error.
func closeLinks(links []link.Link) error {
	var first error
	for i := len(links) - 1; i >= 0; i-- {
		if err := links[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// attachTracing attaches tp_btf programs in order; on failure it detaches the
// ones already attached, so the caller holds either all links or none.
func attachTracing(progs ...*ebpf.Program) ([]link.Link, error) {
	var links []link.Link
	for _, p := range progs {
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			_ = closeLinks(links)
			return nil, fmt.Errorf("attaching %s: %w", p, err)
		}
		links = append(links, l)
	}
	return links, nil
}

// readDropped sums a one-slot per-CPU counter.
func readDropped(m *ebpf.Map) (uint64, error) {
	var perCPU []uint64
	if err := m.Lookup(uint32(0), &perCPU); err != nil {
		return 0, fmt.Errorf("reading drop counter: %w", err)
	}
	var n uint64
	for _, v := range perCPU {
		n += v
	}
	return n, nil
}
