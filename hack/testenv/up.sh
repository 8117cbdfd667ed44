#!/usr/bin/env bash
# Starts the integration-test control plane: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok (one fake Node, so that
# Deployments get Running pods), all on loopback, with Istio's CRDs installed.
# State, pids and logs live in ${MESHINSIGHT_TESTENV_DIR:-/tmp/meshinsight-testenv}.
#
# Binaries come from hack/testenv/build.sh. Progress goes to stderr; stdout
# gets only the export lines, so `eval "$(hack/testenv/up.sh)"` works.
# Stop it with hack/testenv/down.sh.
set -euo pipefail
# Keys, the token and the kubeconfig are for this user only.
umask 077

# shellcheck source=hack/testenv/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

up_started=${SECONDS}
kubeconfig="${TESTENV_DIR}/kubeconfig"
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

print_exports() {
	echo "export KUBECONFIG=${kubeconfig}"
	echo "export MESHINSIGHT_TESTENV_KUBECONFIG=${kubeconfig}"
}

kubectl() {
	"${TESTENV_BIN}/kubectl" --kubeconfig "${kubeconfig}" "$@"
}

# healthy reports whether every component runs and the apiserver is ready.
healthy() {
	local name
	[[ -f "${kubeconfig}" ]] || return 1
	for name in "${components[@]}"; do
		component_pid "${name}" >/dev/null || return 1
	done
	kubectl get --raw /readyz >/dev/null 2>&1
}

ensure_commands openssl:openssl curl:curl
for name in "${components[@]}" kubectl; do
	[[ -x "${TESTENV_BIN}/${name}" ]] ||
		die "${TESTENV_BIN}/${name} not found: run hack/testenv/build.sh (or make testenv) first"
done

if [[ -e "${TESTENV_DIR}" ]]; then
	[[ -f "${TESTENV_DIR}/${TESTENV_MARKER}" ]] ||
		die "${TESTENV_DIR} exists but is no testenv state dir: remove it or set MESHINSIGHT_TESTENV_DIR"
	if healthy; then
		log "already up and healthy in ${TESTENV_DIR}"
		print_exports
		exit 0
	fi
	log "cleaning up a stale or unhealthy testenv in ${TESTENV_DIR}"
	stop_all
	rm -rf "${TESTENV_DIR}"
fi

# From here on, a failure stops whatever was started; the logs stay for a look.
on_exit() {
	local rc=$?
	[[ "${rc}" -eq 0 ]] && return 0
	log "start-up failed: stopping what was started (logs in ${TESTENV_DIR}/logs)"
	stop_all
	exit "${rc}"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

mkdir -p "${TESTENV_DIR}"/{pki,logs}
touch "${TESTENV_DIR}/${TESTENV_MARKER}"

gen_pki
token="$(openssl rand -hex 32)"
# A static token in system:masters: tests act as cluster admin.
echo "${token},admin,admin,system:masters" >"${TESTENV_DIR}/pki/tokens.csv"

read -r etcd_port etcd_peer_port apiserver_port < <(free_ports 3)
[[ -n "${apiserver_port}" ]] || die "no free loopback ports"
write_kubeconfig "${kubeconfig}" "https://127.0.0.1:${apiserver_port}" "${token}" meshinsight-testenv

start_etcd "${etcd_port}" "${etcd_peer_port}"
# --endpoint-reconciler-type=none: the kubernetes Service cannot point at a
# loopback address, and nothing in the tests reaches the apiserver through it.
start_apiserver "${etcd_port}" "${apiserver_port}" "${token}" \
	--bind-address=127.0.0.1 \
	--advertise-address=127.0.0.1 \
	--authorization-mode=RBAC \
	--endpoint-reconciler-type=none
start_controllers "${kubeconfig}"

# kwok ships its stages as kustomize files in its module, not in the binary.
# pod-complete is left out: it marks every Job's pod Succeeded the moment it
# runs, whereas a real Job pod runs until its container exits. Without it,
# the profiler's agent Jobs stay Running until the test's stand-in agent
# hands its result back, as on a real node.
kwok_dir="$(module_dir "sigs.k8s.io/kwok@${KWOK_VERSION}")"
for stage in "${kwok_dir}"/kustomize/stage/{node/fast,node/heartbeat,pod/fast}/*.yaml; do
	case "$(basename "${stage}")" in kustomization.yaml | pod-complete.yaml) continue ;; esac
	echo "---"
	cat "${stage}"
done >"${TESTENV_DIR}/kwok.yaml"

log "starting kwok ${KWOK_VERSION}"
start kwok \
	--kubeconfig="${kubeconfig}" \
	--config="${TESTENV_DIR}/kwok.yaml" \
	--manage-all-nodes=false \
	--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake

log "creating fake node kwok-node-0"
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    node.kubernetes.io/instance-type: fake-standard
    type: kwok
status:
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "110"
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "110"
  nodeInfo:
    architecture: amd64
    kubeletVersion: fake
    operatingSystem: linux
EOF
wait_until kwok 60 "node kwok-node-0 to be Ready" \
	kubectl wait --for=condition=Ready node/kwok-node-0 --timeout=1s
# Pods need the namespace's default ServiceAccount, which the controller
# manager creates: its existence shows the controllers run.
wait_until kube-controller-manager 60 "the default ServiceAccount" \
	kubectl get serviceaccount default --namespace default

install_istio_crds kubectl
install_gateway_crds kubectl

trap - EXIT INT TERM
log "ready in $((SECONDS - up_started))s: context meshinsight-testenv in ${kubeconfig}; stop with hack/testenv/down.sh"
print_exports
