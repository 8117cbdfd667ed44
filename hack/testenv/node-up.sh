#!/usr/bin/env bash
# Starts the real test node: a Kubernetes control plane, containerd + runc,
# a kubelet, the CNI bridge and kube-proxy, all inside the network namespace
# "meshinsight-node", with the stand-in Istio (hack/standin) installed and
# the images the tests use imported into containerd (no registry):
#   - the agent image, built from this checkout as `make image` builds it,
#     named as the plugin's default image for VERSION;
#   - the stand-in's pilot and proxyv2 images, and a pause image.
#
# The host is left as it was (see ../../shared/real-node-recipe.md for why
# each measure is needed): pods live in the node's netns and never get a
# route out of it; containerd, kubelet and every container mount live in a
# private mount namespace; kubelet's six kernel sysctls are answered from
# bind-mounted files; container cgroups sit under one cgroup root. The host
# reaches the apiserver at https://10.254.1.2:6443 over a veth pair.
#
# Needs root, the binaries of hack/testenv/build.sh and Debian's containerd,
# runc and containernetworking-plugins (installed when missing). Progress on
# stderr; stdout gets the export lines, so `eval "$(node-up.sh)"` works.
# Stop it with hack/testenv/node-down.sh.
#
# Environment: MESHINSIGHT_NODE_DIR (state, default /tmp/meshinsight-node),
# VERSION (the agent image's tag; default `git describe`, as the Makefile).
set -euo pipefail

# shellcheck source=hack/testenv/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TESTENV_DIR="${NODE_DIR}"
REPO="$(cd "${TESTENV_ROOT}/../.." && pwd)"
up_started=${SECONDS}

[[ "$(id -u)" -eq 0 ]] || die "the real node needs root (network and mount namespaces, cgroups)"
ensure_commands containerd:containerd runc:runc iptables:iptables ip:iproute2 openssl:openssl curl:curl nsenter:util-linux
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback && -x /usr/lib/cni/portmap ]] ||
	ensure_commands /usr/lib/cni/bridge:containernetworking-plugins
[[ -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/cpu ]] ||
	die "this harness drives kubelet on cgroup v1 hierarchies (this machine kind mounts v1 + a unified hugetlb tree); /sys/fs/cgroup has no v1 memory/cpu hierarchy"
for name in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
	[[ -x "${TESTENV_BIN}/${name}" ]] ||
		die "${TESTENV_BIN}/${name} not found: run hack/testenv/build.sh first"
done

# Refuse to start over anything an earlier node left: down cleans it.
leftover=()
[[ -e "/run/netns/${NODE_NETNS}" ]] && leftover+=("netns ${NODE_NETNS}")
ip link show "${NODE_HOST_VETH}" >/dev/null 2>&1 && leftover+=("link ${NODE_HOST_VETH}")
for d in "${NODE_HOST_PATHS[@]}"; do [[ -e "${d}" ]] && leftover+=("${d}"); done
while read -r d; do leftover+=("${d}"); done < <(node_cgroup_dirs)
[[ -e "${TESTENV_DIR}" ]] && leftover+=("${TESTENV_DIR}")
if [[ "${#leftover[@]}" -gt 0 ]]; then
	die "found ${leftover[*]}: an earlier node was not taken down (run hack/testenv/node-down.sh), or something else owns them"
fi

on_exit() {
	local rc=$?
	[[ "${rc}" -eq 0 ]] && return 0
	log "start-up failed: taking the node down (logs in ${TESTENV_DIR}/logs are kept in ${TESTENV_DIR}.failed)"
	rm -rf "${TESTENV_DIR}.failed"
	cp -r "${TESTENV_DIR}/logs" "${TESTENV_DIR}.failed" 2>/dev/null || true
	"${TESTENV_ROOT}/node-down.sh" >&2 || true
	exit "${rc}"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

mkdir -p "${TESTENV_DIR}"/{pki,logs,images,bin,fakesys,cni,pod-logs}
touch "${TESTENV_DIR}/${TESTENV_MARKER}"
chmod 700 "${TESTENV_DIR}/pki"

# --- Images ---
version="${VERSION:-$(git -C "${REPO}" describe --tags --always --dirty 2>/dev/null || echo dev)}"
VERSION="${version}" "${TESTENV_ROOT}/node-images.sh" build
agent_image="ghcr.io/meshinsight/meshinsight-agent:${version}"

# --- Network: the node's netns, and a veth pair to reach its apiserver ---
log "creating netns ${NODE_NETNS} (node ${NODE_IP}, host side ${NODE_HOST_IP})"
ip netns add "${NODE_NETNS}"
ip -n "${NODE_NETNS}" link set lo up
ip link add "${NODE_HOST_VETH}" type veth peer name "${NODE_VETH}" netns "${NODE_NETNS}"
ip addr add "${NODE_HOST_IP}/30" dev "${NODE_HOST_VETH}"
ip link set "${NODE_HOST_VETH}" up
ip -n "${NODE_NETNS}" addr add "${NODE_IP}/30" dev "${NODE_VETH}"
ip -n "${NODE_NETNS}" link set "${NODE_VETH}" up
# The node's own processes (the apiserver calling webhooks, kubelet) reach
# Service VIPs through kube-proxy's DNAT in OUTPUT, which needs a route to
# exist first: a bridge without ports (there is no dummy device on this
# kernel) takes the Service range and drops what no rule rewrites.
ip -n "${NODE_NETNS}" link add mi-svc type bridge
ip -n "${NODE_NETNS}" link set mi-svc up
ip -n "${NODE_NETNS}" route add 10.96.0.0/16 dev mi-svc src "${NODE_IP}"
# Pods route through the node's netns, which forwards: nothing but the
# node itself may talk to the host end of the veth.
in_node iptables -t raw -A PREROUTING ! -i "${NODE_VETH}" -d "${NODE_HOST_IP}/32" -j DROP

# --- Control plane, inside the netns ---
START_WRAP=(nsenter --net="/run/netns/${NODE_NETNS}")
gen_pki "IP:${NODE_IP}"
admin_token="$(openssl rand -hex 32)"
node_token="$(openssl rand -hex 32)"
proxy_token="$(openssl rand -hex 32)"
{
	echo "${admin_token},admin,admin,system:masters"
	echo "${node_token},system:node:${NODE_NAME},${NODE_NAME},system:nodes"
	echo "${proxy_token},system:kube-proxy,kube-proxy"
} >"${TESTENV_DIR}/pki/tokens.csv"
server="https://${NODE_IP}:${NODE_APISERVER_PORT}"
kubeconfig="${TESTENV_DIR}/kubeconfig"
write_kubeconfig "${kubeconfig}" "${server}" "${admin_token}" meshinsight-node
write_kubeconfig "${TESTENV_DIR}/kubelet.kubeconfig" "${server}" "${node_token}" meshinsight-node
write_kubeconfig "${TESTENV_DIR}/kube-proxy.kubeconfig" "${server}" "${proxy_token}" meshinsight-node
chmod 600 "${TESTENV_DIR}"/*.kubeconfig "${kubeconfig}"
kubectl() { "${TESTENV_BIN}/kubectl" --kubeconfig "${kubeconfig}" "$@"; }

start_etcd 2379 2380
# Bound to every address of the netns: pods reach it at the node IP through
# the kubernetes Service, the host over the veth.
start_apiserver 2379 "${NODE_APISERVER_PORT}" "${admin_token}" \
	--bind-address=0.0.0.0 \
	--advertise-address="${NODE_IP}" \
	--authorization-mode=Node,RBAC \
	--kubelet-preferred-address-types=InternalIP
start_controllers "${kubeconfig}"

# --- Node configuration ---
# kubelet sets six kernel-wide sysctls unless they already hold its values:
# it reads these files instead (bind-mounted in its mount namespace).
echo 1 >"${TESTENV_DIR}/fakesys/vm.overcommit_memory"
echo 0 >"${TESTENV_DIR}/fakesys/vm.panic_on_oom"
echo 10 >"${TESTENV_DIR}/fakesys/kernel.panic"
echo 1 >"${TESTENV_DIR}/fakesys/kernel.panic_on_oops"
echo 1000000 >"${TESTENV_DIR}/fakesys/kernel.keys.root_maxkeys"
echo 25000000 >"${TESTENV_DIR}/fakesys/kernel.keys.root_maxbytes"

cat >"${TESTENV_DIR}/containerd.toml" <<EOF
version = 2
root = "${TESTENV_DIR}/containerd/root"
state = "${TESTENV_DIR}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "${TESTENV_DIR}/containerd/containerd.sock"
[ttrpc]
  address = "${TESTENV_DIR}/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${TESTENV_DIR}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/meshinsight-testenv/pause:1"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${TESTENV_DIR}/cni"
    max_conf_num = 1
EOF

# No default route and no masquerading: pod addresses stay in the netns.
cat >"${TESTENV_DIR}/cni/10-meshinsight.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "meshinsight-node", "plugins": [
  {"type": "bridge", "bridge": "mi-cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "${NODE_POD_CIDR}"}]], "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": "${TESTENV_DIR}/cni-ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF

cat >"${TESTENV_DIR}/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /${NODE_CGROUP_ROOT}
cgroupsPerQOS: true
enforceNodeAllocatable: ["pods"]
containerRuntimeEndpoint: unix://${TESTENV_DIR}/containerd/containerd.sock
address: ${NODE_IP}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
podLogsDir: ${TESTENV_DIR}/pod-logs
protectKernelDefaults: false
kernelMemcgNotification: false
failSwapOn: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
nodeStatusUpdateFrequency: 5s
EOF

# masqueradeAll: pod-to-Service-to-pod traffic on the bridge returns
# through the node (no br_netfilter needed); conntrack limits left alone
# (they are kernel-wide).
cat >"${TESTENV_DIR}/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: ${TESTENV_DIR}/kube-proxy.kubeconfig}
hostnameOverride: ${NODE_NAME}
mode: iptables
clusterCIDR: ${NODE_POD_CIDR}
iptables: {masqueradeAll: true}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
EOF

# --- containerd, kubelet and kube-proxy: children of one holder process in
# the netns and a private mount namespace ---
for d in "${NODE_HOST_PATHS[@]}"; do mkdir -p "${d}"; done
log "starting containerd, kubelet ${K8S_VERSION} and kube-proxy in a private mount namespace"
export TESTENV_DIR TESTENV_BIN NODE_NAME NODE_IP NODE_CGROUP_ROOT
setsid nsenter --net="/run/netns/${NODE_NETNS}" unshare --mount --propagation private \
	"${TESTENV_ROOT}/node-inner.sh" </dev/null >"${TESTENV_DIR}/logs/node-inner.log" 2>&1 &
echo "$!" >"${TESTENV_DIR}/holder.pid"
for ((i = 0; i < 600; i++)); do
	[[ -f "${TESTENV_DIR}/kube-proxy.pid" ]] && break
	kill -0 "$(cat "${TESTENV_DIR}/holder.pid")" 2>/dev/null || fail_with_log node-inner "the node's containerd/kubelet holder exited"
	sleep 0.1
done
[[ -f "${TESTENV_DIR}/kube-proxy.pid" ]] || fail_with_log node-inner "containerd and kubelet did not start within 60s"

node_ready() { [[ "$(kubectl get node "${NODE_NAME}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]; }
wait_until kubelet 120 "node ${NODE_NAME} to be Ready" node_ready
wait_until kube-proxy 60 "kube-proxy's first sync" in_node curl -fsS http://127.0.0.1:10256/healthz
wait_until kube-controller-manager 60 "the default ServiceAccount" kubectl get serviceaccount default --namespace default

# --- The stand-in Istio ---
install_istio_crds kubectl
log "installing the stand-in istiod ${STANDIN_HUB}/pilot:${STANDIN_TAG}"
sed -e "s|\${HUB}|${STANDIN_HUB}|g" -e "s|\${TAG}|${STANDIN_TAG}|g" "${REPO}/hack/standin/install.yaml" |
	kubectl apply -f - >"${TESTENV_DIR}/logs/standin.log" || die "installing the stand-in Istio (see ${TESTENV_DIR}/logs/standin.log)"
ca_bundle() { [[ -n "$(kubectl get mutatingwebhookconfiguration istio-sidecar-injector -o jsonpath='{.webhooks[0].clientConfig.caBundle}')" ]]; }
wait_until kubelet 120 "istiod to be available" kubectl -n istio-system wait --for=condition=Available deployment/istiod --timeout=1s
wait_until kubelet 30 "istiod to patch the injector's caBundle" ca_bundle

trap - EXIT INT TERM
log "ready in $((SECONDS - up_started))s: node ${NODE_NAME}, context meshinsight-node in ${kubeconfig}; stop with hack/testenv/node-down.sh"
echo "export KUBECONFIG=${kubeconfig}"
echo "export MESHINSIGHT_NODE_KUBECONFIG=${kubeconfig}"
echo "export MESHINSIGHT_NODE_NAME=${NODE_NAME}"
echo "export MESHINSIGHT_NODE_DIR=${TESTENV_DIR}"
echo "export MESHINSIGHT_AGENT_IMAGE=${agent_image}"
