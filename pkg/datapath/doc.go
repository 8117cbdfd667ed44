// Package datapath builds a sidecar-style datapath on one Linux host and
// tears it down again: "pods" (network namespaces), istio-init-style nat
// rules in every pod that has a sidecar, and a real proxy running as uid
// 1337 beside the application. A Chain is N pods on a bridge with a sidecar
// routing per edge (the validation's application); a Datapath is a
// two-pod Chain joined by one veth pair, with an HAProxy or NGINX sidecar,
// which the profiling agent uses in node-local mode to measure a real proxy
// on a real kernel datapath, with the A/B bypass (a port excluded from
// interception) on the same pods. Both are built, run processes and are
// torn down by the same code.
//
// Kernel plumbing is done by shelling out to iproute2 (`ip netns`, `ip link`,
// `ip addr`) and `iptables-restore` with exec.CommandContext rather than with
// netlink libraries: these are the tools istio-init and CNI plugins
// themselves run, the rules can be written as one iptables-restore document
// that is golden-tested byte for byte, and the module gains no dependency.
// Processes, in contrast, are started from Go: the starting goroutine is
// locked to its OS thread, the thread joins the pod's network namespace with
// setns(2), and the child is forked from that thread with
// SysProcAttr.Credential (uid 1337 for proxies, an ordinary uid for apps) and
// Pdeathsig. Nothing is re-parented (`ip netns exec` plus a setuid wrapper
// would be), so the PID handed out for eBPF targeting is the real process,
// which Close kills and waits for. No istio-proxy user is created: the kernel
// only needs the numeric uid for `-m owner --uid-owner`.
//
// Datapaths are named by a prefix (mi-<random> by default): the network
// namespaces are <prefix>-client and <prefix>-server and the temporary
// directory with configs, certificates and admin sockets is
// $TMPDIR/<prefix>-*. Close removes all of it; Cleanup removes what a killed
// run left behind. The veth ends are created directly inside the pods (both
// named eth0, like a pod's interface), so nothing is ever added to the host's
// network namespace and deleting the namespaces deletes the veth pair.
package datapath
