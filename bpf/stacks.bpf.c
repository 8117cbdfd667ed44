// SPDX-License-Identifier: GPL-2.0
/*
 * CPU-time sampling of target processes: a perf_event program attached to a
 * software CPU_CLOCK event on every CPU at a fixed sample period (frequency
 * mode re-tunes the period on every sample and measured much costlier).
 * Software clock because VMs often have no hardware PMU. Each sample of a
 * target thread records its kernel and user stack ids and bumps a counter, so
 * user space reads aggregated counts instead of one event per sample.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "targets.bpf.h"

/* PERF_MAX_STACK_DEPTH: the kernel's default limit. */
#define MAX_STACK_DEPTH 127

struct sample_key {
	__u32 tgid;
	__u32 pid;
	__s32 kstack; /* stack id, or negative errno when not available */
	__s32 ustack;
};

/* max_entries of both maps may be resized from user space before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64[MAX_STACK_DEPTH]);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sample_key);
	__type(value, __u64);
} counts SEC(".maps");

/* Samples lost because `counts` was full. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dropped SEC(".maps");


SEC("perf_event")
int sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!is_target(tgid))
		return 0;

	/*
	 * The kernel stack is empty (-EFAULT) when the sample interrupted user
	 * mode. Stack map hash collisions return -EEXIST; we keep the sample
	 * with a missing stack rather than overwrite (BPF_F_REUSE_STACKID),
	 * which would silently re-label earlier samples.
	 */
	struct sample_key key = {
		.tgid = tgid,
		.pid = (__u32)id,
		.kstack = bpf_get_stackid(ctx, &stacks, 0),
		.ustack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK),
	};

	__u64 *n = bpf_map_lookup_elem(&counts, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return 0;
	}
	__u64 one = 1;
	if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST) != 0) {
		/* Lost a race with another CPU inserting the same key? */
		n = bpf_map_lookup_elem(&counts, &key);
		if (n) {
			__sync_fetch_and_add(n, 1);
		} else {
			__u32 k = 0;
			__u64 *d = bpf_map_lookup_elem(&dropped, &k);
			if (d)
				(*d)++;
		}
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
