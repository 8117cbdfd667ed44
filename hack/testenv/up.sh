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
pki="${TESTENV_DIR}/pki"
logs="${TESTENV_DIR}/logs"

# fail_with_log dies, showing the end of a component's log.
fail_with_log() {
	local name="$1"
	shift
	log "last lines of ${logs}/${name}.log:"
	tail -n 25 "${logs}/${name}.log" >&2 || true
	die "$*"
}

# start runs a component in its own session (so that a Ctrl-C in the shell
# that ran up.sh does not reach it), logging to logs/<name>.log.
start() {
	local name="$1"
	shift
	setsid "${TESTENV_BIN}/${name}" "$@" </dev/null >"${logs}/${name}.log" 2>&1 &
	echo "$!" >"${TESTENV_DIR}/${name}.pid"
}

# wait_until polls a command every 0.2s until it succeeds, failing early if
# the component it waits for has died.
wait_until() {
	local name="$1" timeout="$2" what="$3"
	shift 3
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		component_pid "${name}" >/dev/null || fail_with_log "${name}" "${name} exited while waiting for ${what}"
		((SECONDS < deadline)) || fail_with_log "${name}" "timed out after ${timeout}s waiting for ${what}"
		sleep 0.2
	done
}

log "generating certificates and keys in ${pki}"
openssl_quiet() {
	openssl "$@" 2>"${logs}/openssl.log" || { cat "${logs}/openssl.log" >&2; die "openssl $1 failed"; }
}
openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=meshinsight-testenv-ca" \
	-keyout "${pki}/ca.key" -out "${pki}/ca.crt"
openssl_quiet req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
	-keyout "${pki}/apiserver.key" -out "${pki}/apiserver.csr"
cat >"${pki}/apiserver.ext" <<'EOF'
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:10.96.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local
EOF
openssl_quiet x509 -req -in "${pki}/apiserver.csr" -CA "${pki}/ca.crt" -CAkey "${pki}/ca.key" \
	-CAcreateserial -days 3650 -extfile "${pki}/apiserver.ext" -out "${pki}/apiserver.crt"
# Service-account tokens are signed by the apiserver and checked by it.
openssl_quiet genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "${pki}/sa.key"
openssl_quiet pkey -in "${pki}/sa.key" -pubout -out "${pki}/sa.pub"
token="$(openssl rand -hex 32)"
# A static token in system:masters: tests act as cluster admin.
echo "${token},admin,admin,system:masters" >"${pki}/tokens.csv"

read -r etcd_port etcd_peer_port apiserver_port < <(free_ports 3)
[[ -n "${apiserver_port}" ]] || die "no free loopback ports"

cat >"${kubeconfig}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: meshinsight-testenv
  cluster:
    server: https://127.0.0.1:${apiserver_port}
    certificate-authority-data: $(base64 -w0 "${pki}/ca.crt")
users:
- name: admin
  user:
    token: ${token}
contexts:
- name: meshinsight-testenv
  context:
    cluster: meshinsight-testenv
    user: admin
current-context: meshinsight-testenv
EOF

log "starting etcd ${ETCD_VERSION} on 127.0.0.1:${etcd_port}"
# --unsafe-no-fsync: the data is thrown away anyway, and fsync dominates
# write latency on CI disks.
start etcd \
	--name=testenv \
	--data-dir="${TESTENV_DIR}/etcd" \
	--listen-client-urls="http://127.0.0.1:${etcd_port}" \
	--advertise-client-urls="http://127.0.0.1:${etcd_port}" \
	--listen-peer-urls="http://127.0.0.1:${etcd_peer_port}" \
	--initial-advertise-peer-urls="http://127.0.0.1:${etcd_peer_port}" \
	--initial-cluster="testenv=http://127.0.0.1:${etcd_peer_port}" \
	--unsafe-no-fsync \
	--log-level=warn
wait_until etcd 30 "etcd health" curl -fsS "http://127.0.0.1:${etcd_port}/health"

log "starting kube-apiserver ${K8S_VERSION} on 127.0.0.1:${apiserver_port}"
# --endpoint-reconciler-type=none: the kubernetes Service cannot point at a
# loopback address, and nothing in the tests reaches the apiserver through it.
start kube-apiserver \
	--etcd-servers="http://127.0.0.1:${etcd_port}" \
	--bind-address=127.0.0.1 \
	--advertise-address=127.0.0.1 \
	--secure-port="${apiserver_port}" \
	--tls-cert-file="${pki}/apiserver.crt" \
	--tls-private-key-file="${pki}/apiserver.key" \
	--client-ca-file="${pki}/ca.crt" \
	--token-auth-file="${pki}/tokens.csv" \
	--authorization-mode=RBAC \
	--service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--service-account-key-file="${pki}/sa.pub" \
	--service-account-signing-key-file="${pki}/sa.key" \
	--service-cluster-ip-range=10.96.0.0/16 \
	--endpoint-reconciler-type=none \
	--profiling=false
wait_until kube-apiserver 60 "kube-apiserver /readyz" \
	curl -fsS --cacert "${pki}/ca.crt" -H "Authorization: Bearer ${token}" \
	"https://127.0.0.1:${apiserver_port}/readyz"

log "starting kube-controller-manager and kube-scheduler"
start kube-controller-manager \
	--kubeconfig="${kubeconfig}" \
	--leader-elect=false \
	--secure-port=0 \
	--service-account-private-key-file="${pki}/sa.key" \
	--root-ca-file="${pki}/ca.crt" \
	--profiling=false
start kube-scheduler \
	--kubeconfig="${kubeconfig}" \
	--leader-elect=false \
	--secure-port=0 \
	--profiling=false

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

istio_crds="$(module_dir "istio.io/api@${ISTIO_API_VERSION}")/kubernetes/customresourcedefinitions.gen.yaml"
[[ -f "${istio_crds}" ]] || die "cannot find ${istio_crds} in istio.io/api@${ISTIO_API_VERSION}"
log "installing Istio CRDs from istio.io/api ${ISTIO_API_VERSION}"
kubectl apply --server-side --field-manager=meshinsight-testenv -f "${istio_crds}" >"${logs}/istio-crds.log" ||
	die "applying ${istio_crds} (see ${logs}/istio-crds.log)"
kubectl wait --for=condition=Established --timeout=60s -f "${istio_crds}" >>"${logs}/istio-crds.log" ||
	die "Istio CRDs not Established within 60s (see ${logs}/istio-crds.log)"

trap - EXIT INT TERM
log "ready in $((SECONDS - up_started))s: context meshinsight-testenv in ${kubeconfig}; stop with hack/testenv/down.sh"
print_exports
