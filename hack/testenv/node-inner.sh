#!/usr/bin/env bash
# The real node's containerd, kubelet and kube-proxy, started by node-up.sh
# inside the node's network namespace and a private mount namespace
# (unshare --mount --propagation private): every mount they and the
# containers make stays in here and disappears with the last process. Runs
# until they exit (node-down.sh stops them). Never run it by hand.
set -euo pipefail
: "${TESTENV_DIR:?}" "${TESTENV_BIN:?}" "${NODE_NAME:?}" "${NODE_IP:?}" "${NODE_CGROUP_ROOT:?}"
log() { printf 'node-inner [%3ds] %s\n' "${SECONDS}" "$*"; }

# kubelet writes six kernel-wide sysctls unless they already hold its
# values (there is no flag to stop it): here they seem to.
for f in "${TESTENV_DIR}"/fakesys/*; do
	n="$(basename "${f}")"
	mount --bind "${f}" "/proc/sys/${n//.//}"
done
# Paths that kubelet, containerd and the CNI plugins hard-code.
for d in /run/containerd /var/lib/cni /var/lib/kubelet /var/log/containers; do
	mount -t tmpfs -o mode=0755,size=64m tmpfs "${d}"
done
# kubelet wants its cgroup root to exist in every v1 hierarchy.
for h in /sys/fs/cgroup/*/; do
	[[ "$(basename "${h}")" == unified ]] && continue
	mkdir -p "${h}${NODE_CGROUP_ROOT}"
done
cp /sys/fs/cgroup/cpuset/cpuset.cpus "/sys/fs/cgroup/cpuset/${NODE_CGROUP_ROOT}/cpuset.cpus"
cp /sys/fs/cgroup/cpuset/cpuset.mems "/sys/fs/cgroup/cpuset/${NODE_CGROUP_ROOT}/cpuset.mems"

mkdir -p "${TESTENV_DIR}/containerd" "${TESTENV_DIR}/kubelet"
containerd --config "${TESTENV_DIR}/containerd.toml" >"${TESTENV_DIR}/logs/containerd.log" 2>&1 &
echo "$!" >"${TESTENV_DIR}/containerd.pid"
sock="${TESTENV_DIR}/containerd/containerd.sock"
for ((i = 0; i < 300; i++)); do
	ctr --address "${sock}" version >/dev/null 2>&1 && break
	sleep 0.1
done
log "containerd up"
for image in "${TESTENV_DIR}"/images/*.tar; do
	ctr --address "${sock}" --namespace k8s.io images import "${image}" >>"${TESTENV_DIR}/logs/images.log" 2>&1 ||
		{ log "importing ${image} failed"; exit 1; }
done
log "images imported"

"${TESTENV_BIN}/kubelet" --config="${TESTENV_DIR}/kubelet.yaml" --kubeconfig="${TESTENV_DIR}/kubelet.kubeconfig" \
	--root-dir="${TESTENV_DIR}/kubelet" --cert-dir="${TESTENV_DIR}/kubelet/pki" \
	--hostname-override="${NODE_NAME}" --node-ip="${NODE_IP}" --v=1 >"${TESTENV_DIR}/logs/kubelet.log" 2>&1 &
echo "$!" >"${TESTENV_DIR}/kubelet.pid"
"${TESTENV_BIN}/kube-proxy" --config="${TESTENV_DIR}/kube-proxy.yaml" >"${TESTENV_DIR}/logs/kube-proxy.log" 2>&1 &
echo "$!" >"${TESTENV_DIR}/kube-proxy.pid"
log "kubelet and kube-proxy started"
wait
