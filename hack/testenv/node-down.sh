#!/usr/bin/env bash
# Takes the real test node of node-up.sh down and leaves the host as it was:
# pods deleted through the API while the kubelet still runs, then every
# process left in the node's cgroups killed, kubelet, kube-proxy and
# containerd stopped (their private mount namespace, with every container
# mount in it, ends with them), the control plane stopped, the cgroups, the
# veth pair, the netns and the empty mountpoint directories removed, and the
# state dir deleted. It also cleans up after a node-up.sh that failed half
# way, and is safe to run when nothing is up.
set -euo pipefail

# shellcheck source=hack/testenv/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TESTENV_DIR="${NODE_DIR}"
[[ "$(id -u)" -eq 0 ]] || die "needs root"
if [[ -e "${TESTENV_DIR}" && ! -f "${TESTENV_DIR}/${TESTENV_MARKER}" ]]; then
	die "${TESTENV_DIR} is no node state dir: not touching it"
fi

# Pods first, while the kubelet can still stop their containers.
if [[ -f "${TESTENV_DIR}/kubeconfig" ]] && component_pid kubelet >/dev/null && component_pid kube-apiserver >/dev/null; then
	log "deleting every pod"
	"${TESTENV_BIN}/kubectl" --kubeconfig "${TESTENV_DIR}/kubeconfig" delete pods --all --all-namespaces \
		--grace-period=1 --wait=true --timeout=60s >/dev/null 2>&1 || log "some pods did not go away in 60s: killing their processes"
fi

# node_procs prints the pids in the node's cgroups.
node_procs() {
	local d
	while read -r d; do
		find "${d}" -name cgroup.procs -exec cat {} + 2>/dev/null
	done < <(node_cgroup_dirs) | sort -un
}
# Stop the kubelet so that it restarts nothing, then kill what is left.
stop_components kubelet kube-proxy
for ((i = 0; i < 50; i++)); do
	mapfile -t pids < <(node_procs)
	[[ "${#pids[@]}" -eq 0 ]] && break
	[[ "${i}" -eq 0 ]] && log "killing ${#pids[@]} container processes"
	kill -KILL "${pids[@]}" 2>/dev/null || true
	sleep 0.1
done
stop_components containerd
# The shims outlive containerd; they are the last processes of the node's
# mount namespace, found through the holder's.
if [[ -f "${TESTENV_DIR}/holder.pid" ]]; then
	holder="$(cat "${TESTENV_DIR}/holder.pid")"
	mnt="$(readlink "/proc/${holder}/ns/mnt" 2>/dev/null || true)"
	if [[ -n "${mnt}" && "${mnt}" != "$(readlink /proc/self/ns/mnt)" ]]; then
		for p in /proc/[0-9]*; do
			[[ "$(readlink "${p}/ns/mnt" 2>/dev/null)" == "${mnt}" && "${p#/proc/}" != "${holder}" ]] && kill -KILL "${p#/proc/}" 2>/dev/null || true
		done
	fi
	for ((i = 0; i < 100; i++)); do kill -0 "${holder}" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "${holder}" 2>/dev/null || true
fi
stop_components kube-scheduler kube-controller-manager
stop_components kube-apiserver
stop_components etcd

# cgroups, deepest first (the kernel refuses a non-empty one; retry while
# the last exits are reaped).
for ((i = 0; i < 50; i++)); do
	mapfile -t roots < <(node_cgroup_dirs)
	[[ "${#roots[@]}" -eq 0 ]] && break
	for r in "${roots[@]}"; do find "${r}" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
	sleep 0.1
done
mapfile -t roots < <(node_cgroup_dirs)
[[ "${#roots[@]}" -eq 0 ]] || log "warning: cgroups left: ${roots[*]}"

ip link del "${NODE_HOST_VETH}" 2>/dev/null || true
[[ -e "/run/netns/${NODE_NETNS}" ]] && ip netns del "${NODE_NETNS}"
for d in "${NODE_HOST_PATHS[@]}"; do
	if [[ -d "${d}" ]] && ! mountpoint -q "${d}"; then rmdir "${d}" 2>/dev/null || log "warning: ${d} is not empty: left in place"; fi
done
rm -rf "${TESTENV_DIR}"
log "node down"
