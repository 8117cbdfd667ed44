// Package probe loads and reads the meshinsight eBPF programs (from bpf/) that
// measure a proxy's CPU time, scheduling wait, stacks and socket traffic, plus
// the /proc readers used to cross-check them (per-process schedstat) and to
// put them in context (how busy the node's CPUs were, from /proc/stat).
//
// It is Linux-only: every file that imports github.com/cilium/ebpf carries a
// linux build tag, so the package still compiles (almost empty) elsewhere.
// Only the node-local agent (cmd/meshinsight-agent) may import it; the
// kubectl plugin must never link it, so that it cross-compiles for macOS and
// Windows without eBPF.
//
// The programs depend only on facilities that work on kernels without kprobes
// or fentry: tp_btf tracepoints and perf_event software-clock sampling. See
// Features for what the running kernel offers.
package probe
