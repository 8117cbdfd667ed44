package probe

import "fmt"

// MaxTargets is how many processes one probe can measure at a time; it
// matches MAX_TARGETS in bpf/targets.bpf.h.
const MaxTargets = 64

// targetRemoved marks a freed slot (TARGET_REMOVED in bpf/targets.bpf.h).
const targetRemoved = 0xffffffff

// targetSlots mirrors the `targets` array that the BPF programs scan: slots
// are filled from the front, 0 ends the list and a removed target leaves a
// tombstone, so that a concurrent scan never stops early and the slots of
// other targets never move (programs use the slot as an array index).
type targetSlots [MaxTargets]uint32

// add places tgid in a slot, reusing the first tombstone, and reports the
// slot and whether it is new (false: tgid was already a target).
func (ts *targetSlots) add(tgid int) (slot int, isNew bool, err error) {
	if tgid <= 0 || tgid >= targetRemoved {
		return -1, false, fmt.Errorf("invalid target pid %d", tgid)
	}
	free := -1
	for i, t := range ts {
		switch {
		case t == uint32(tgid):
			return i, false, nil
		case t == targetRemoved && free < 0:
			free = i
		case t == 0:
			if free < 0 {
				free = i
			}
			ts[free] = uint32(tgid)
			return free, true, nil
		}
	}
	if free < 0 {
		return -1, false, fmt.Errorf("adding target %d: already measuring %d processes", tgid, MaxTargets)
	}
	ts[free] = uint32(tgid)
	return free, true, nil
}

// remove frees the slot of tgid and reports it, or -1 if tgid is not a
// target.
func (ts *targetSlots) remove(tgid int) int {
	for i, t := range ts {
		if t == 0 {
			break
		}
		if t == uint32(tgid) {
			ts[i] = targetRemoved
			return i
		}
	}
	return -1
}
