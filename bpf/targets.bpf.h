/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Target filtering shared by the meshinsight programs: user space writes the
 * TGIDs (processes) to measure into `targets`; every other event returns
 * after scanning it.
 *
 * A global array rather than a hash map: the programs sit on hot,
 * system-wide hooks (every context switch, every socket call), and a hash
 * lookup measured ~120 ns per event on a VM (hashing plus cold buckets)
 * against a few ns for scanning one or two cache lines of a global. Slots
 * are filled from the front; 0 ends the list, TARGET_REMOVED marks a freed
 * slot (no pid reaches it, as pid_max is at most 2^22). The slot index also
 * gives programs a dense per-target array index.
 */
#ifndef __MESHINSIGHT_TARGETS_BPF_H
#define __MESHINSIGHT_TARGETS_BPF_H

#define MAX_TARGETS 64
#define TARGET_REMOVED 0xffffffff

__u32 targets[MAX_TARGETS];

/* Returns the slot of tgid in targets, or -1. */
static __always_inline int target_slot(__u32 tgid)
{
	/* tgid 0 is the idle task, and 0 ends the list. */
	if (tgid == 0)
		return -1;
	for (int i = 0; i < MAX_TARGETS; i++) {
		__u32 t = targets[i];
		if (t == tgid)
			return i;
		if (t == 0)
			break;
	}
	return -1;
}

static __always_inline bool is_target(__u32 tgid)
{
	return target_slot(tgid) >= 0;
}

#endif
