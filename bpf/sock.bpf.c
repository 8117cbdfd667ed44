// SPDX-License-Identifier: GPL-2.0
/*
 * Socket send/receive calls and bytes per target process, split by socket
 * kind (tcp, udp, unix; IPv4/IPv6), aggregated in the kernel.
 *
 * Hooks: sock:sock_send_length and sock:sock_recv_length (Linux 6.3+), fired
 * from sock_sendmsg_nosec/sock_recvmsg_nosec with the syscall's return value,
 * in the context of the calling task. That covers write, send*, read, recv*,
 * splice and io_uring on any socket type, once per call (not per skb like
 * tcp:tcp_sendmsg_locked or per packet like tcp:tcp_probe), so the cost scales
 * with calls, not bytes. Attached as tp_btf: no perf record is built.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "targets.bpf.h"

#define MSG_PEEK 2
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

/* Socket kinds counted apart; keep in sync with sockClass in Go. */
enum sock_class {
	SOCK_TCP4,
	SOCK_TCP6,
	SOCK_UDP4,
	SOCK_UDP6,
	SOCK_UNIX,
	SOCK_OTHER,
	NR_SOCK_CLASSES = 8, /* power of two, room to grow */
};

struct sock_stats {
	__u64 send_calls;
	__u64 send_bytes;
	__u64 send_errors;
	__u64 recv_calls;
	__u64 recv_bytes;
	__u64 recv_errors; /* includes EAGAIN from non-blocking reads */
};

/*
 * Indexed by target slot * NR_SOCK_CLASSES + class: an array, not a hash
 * keyed by tgid, so counting costs no hashing (see targets.bpf.h). Per-CPU:
 * threads of one proxy on different CPUs never share a cache line and need
 * no atomics. User space zeroes a slot's entries before reusing the slot.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_TARGETS * NR_SOCK_CLASSES);
	__type(key, __u32);
	__type(value, struct sock_stats);
} socks SEC(".maps");

static __always_inline __u32 sock_class(struct sock *sk)
{
	/* sk is a BTF pointer: direct (CO-RE relocated) reads, no helper. */
	__u16 family = sk->__sk_common.skc_family;
	__u16 proto = sk->sk_protocol;

	if (family == AF_UNIX)
		return SOCK_UNIX;
	if (family != AF_INET && family != AF_INET6)
		return SOCK_OTHER;
	bool v6 = family == AF_INET6;
	if (proto == IPPROTO_TCP)
		return v6 ? SOCK_TCP6 : SOCK_TCP4;
	if (proto == IPPROTO_UDP)
		return v6 ? SOCK_UDP6 : SOCK_UDP4;
	return SOCK_OTHER;
}

static __always_inline struct sock_stats *stats_get(struct sock *sk)
{
	if (!sk)
		return NULL;
	int slot = target_slot(bpf_get_current_pid_tgid() >> 32);
	if (slot < 0)
		return NULL;
	__u32 idx = (__u32)slot * NR_SOCK_CLASSES + sock_class(sk);
	return bpf_map_lookup_elem(&socks, &idx);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send_length, struct sock *sk, int ret, int flags)
{
	struct sock_stats *st = stats_get(sk);
	if (!st)
		return 0;
	st->send_calls++;
	if (ret > 0)
		st->send_bytes += ret;
	else if (ret < 0)
		st->send_errors++;
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv_length, struct sock *sk, int ret, int flags)
{
	struct sock_stats *st = stats_get(sk);
	if (!st)
		return 0;
	st->recv_calls++;
	/* Peeked bytes stay queued and are counted when actually read. */
	if (ret > 0 && !(flags & MSG_PEEK))
		st->recv_bytes += ret;
	else if (ret < 0)
		st->recv_errors++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
