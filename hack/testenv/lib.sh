# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the sourcing scripts
# Shared settings of the integration-test control plane scripts (build.sh,
# up.sh, down.sh). Sourced, never run.

TESTENV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Versions come from the scratch modules so that go.mod stays the single
# source of truth; kwok is installed with `go install`, so it is pinned here.
K8S_VERSION="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "${TESTENV_ROOT}/k8s/go.mod")"
ETCD_VERSION="$(awk '$1 == "require" && $2 == "go.etcd.io/etcd/server/v3" {print $3}' "${TESTENV_ROOT}/etcd/go.mod")"
KWOK_VERSION="v0.8.0"
ISTIO_API_VERSION="v1.32.0"
GATEWAY_API_VERSION="v1.6.3"

TESTENV_CACHE="${MESHINSIGHT_TESTENV_CACHE:-${HOME}/.cache/meshinsight/testenv}"
TESTENV_BIN="${TESTENV_CACHE}/${K8S_VERSION}/bin"
TESTENV_DIR="${MESHINSIGHT_TESTENV_DIR:-/tmp/meshinsight-testenv}"

# log prints a progress line prefixed with the calling script's name and
# the seconds since it started.
log() {
	printf '%s [%3ds] %s\n' "$(basename "$0")" "${SECONDS}" "$*" >&2
}

# die prints an error and exits.
die() {
	log "error: $*"
	exit 1
}

# ensure_commands installs the Debian packages that provide missing commands.
# Arguments are command:package pairs.
ensure_commands() {
	local pair cmd pkg
	local -a missing=()
	for pair in "$@"; do
		cmd="${pair%%:*}"
		pkg="${pair#*:}"
		command -v "${cmd}" >/dev/null 2>&1 || missing+=("${pkg}")
	done
	[[ "${#missing[@]}" -eq 0 ]] && return 0
	command -v apt-get >/dev/null 2>&1 ||
		die "missing packages ${missing[*]} and no apt-get to install them"
	local sudo=()
	[[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
	log "installing Debian packages: ${missing[*]}"
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# marker is the file that proves a directory is a testenv state dir, so that
# down.sh never removes a directory it did not create.
TESTENV_MARKER=".meshinsight-testenv"

# free_ports prints $1 distinct loopback TCP ports that nothing uses, chosen
# below the ephemeral range so that outgoing connections cannot take them
# before the components bind them.
free_ports() {
	local n="$1" low addr port i used=" " found=" "
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	# Every local port in use, in any state (hex after the colon in column 2).
	while read -r _ addr _; do
		[[ "${addr}" == *:* ]] && used+="$((16#${addr##*:})) "
	done < <(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
	for ((i = 0; i < 1000 && n > 0; i++)); do
		port=$((10000 + RANDOM % (low - 10000)))
		[[ "${used}${found}" == *" ${port} "* ]] && continue
		found+="${port} "
		n=$((n - 1))
	done
	((n == 0)) || die "no free ports found"
	echo "${found}"
}

# module_dir prints the directory of a Go module version in the module cache,
# downloading it if needed. It runs outside any module so that no go.mod or
# go.sum is touched.
module_dir() {
	local dir
	dir="$(cd / && GOWORK=off GOFLAGS='' go mod download -json "$1" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	[[ -n "${dir}" && -d "${dir}" ]] || die "cannot download Go module $1"
	echo "${dir}"
}

# component_pid prints the pid of a running component of the state dir, or
# fails. It checks the executable behind the pid so that a recycled pid of
# an unrelated process is never taken for a component.
component_pid() {
	local name="$1" pid exe
	[[ -f "${TESTENV_DIR}/${name}.pid" ]] || return 1
	pid="$(cat "${TESTENV_DIR}/${name}.pid")"
	[[ "${pid}" =~ ^[0-9]+$ ]] || return 1
	exe="$(readlink "/proc/${pid}/exe" 2>/dev/null)" || return 1
	exe="${exe% (deleted)}"
	[[ "$(basename "${exe}")" == "${name}" ]] || return 1
	echo "${pid}"
}

# alive reports whether any of the given pids still runs.
alive() {
	local pid
	for pid in "$@"; do
		kill -0 "${pid}" 2>/dev/null && return 0
	done
	return 1
}

# stop_components stops the named components together: SIGTERM, then SIGKILL
# after 15s, and returns once all of them are gone.
stop_components() {
	local name pid i
	local -a pids=()
	for name in "$@"; do
		if pid="$(component_pid "${name}")"; then
			log "stopping ${name} (pid ${pid})"
			kill -TERM "${pid}" 2>/dev/null || true
			pids+=("${pid}")
		fi
	done
	for ((i = 0; i < 150; i++)); do
		alive "${pids[@]}" || break
		sleep 0.1
	done
	if alive "${pids[@]}"; then
		log "$* still running 15s after SIGTERM: killing"
		kill -KILL "${pids[@]}" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			alive "${pids[@]}" || break
			sleep 0.1
		done
	fi
	for name in "$@"; do
		rm -f "${TESTENV_DIR}/${name}.pid"
	done
}

# stop_all stops every component in the right order: controllers and kwok
# first, then the apiserver, then etcd (an apiserver whose etcd is gone
# hangs for 30s+ before it exits).
stop_all() {
	stop_components kwok kube-scheduler kube-controller-manager
	stop_components kube-apiserver
	stop_components etcd
}

# --- Starting a control plane: shared by up.sh (on loopback, with kwok) and
# node-up.sh (inside the real node's network namespace). ---

# START_WRAP is the command that starts each component, before its binary:
# empty on the host, nsenter --net=... for the real node's netns.
START_WRAP=()

# start runs a component in its own session (so that a Ctrl-C in the shell
# that ran the script does not reach it), logging to logs/<name>.log.
start() {
	local name="$1"
	shift
	setsid "${START_WRAP[@]}" "${TESTENV_BIN}/${name}" "$@" </dev/null >"${TESTENV_DIR}/logs/${name}.log" 2>&1 &
	echo "$!" >"${TESTENV_DIR}/${name}.pid"
}

# fail_with_log dies, showing the end of a component's log.
fail_with_log() {
	local name="$1"
	shift
	log "last lines of ${TESTENV_DIR}/logs/${name}.log:"
	tail -n 25 "${TESTENV_DIR}/logs/${name}.log" >&2 || true
	die "$*"
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

openssl_quiet() {
	openssl "$@" 2>"${TESTENV_DIR}/logs/openssl.log" || { cat "${TESTENV_DIR}/logs/openssl.log" >&2; die "openssl $1 failed"; }
}

# gen_pki writes the cluster CA, the apiserver's serving certificate for
# 127.0.0.1, the kubernetes Service names and the extra SANs given (e.g.
# "IP:10.254.1.2"), and the service-account signing key pair into pki/.
gen_pki() {
	local pki="${TESTENV_DIR}/pki" extra="${1:-}"
	log "generating certificates and keys in ${pki}"
	openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=meshinsight-testenv-ca" \
		-keyout "${pki}/ca.key" -out "${pki}/ca.crt"
	openssl_quiet req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
		-keyout "${pki}/apiserver.key" -out "${pki}/apiserver.csr"
	cat >"${pki}/apiserver.ext" <<EXT
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:10.96.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local${extra:+, ${extra}}
EXT
	openssl_quiet x509 -req -in "${pki}/apiserver.csr" -CA "${pki}/ca.crt" -CAkey "${pki}/ca.key" \
		-CAcreateserial -days 3650 -extfile "${pki}/apiserver.ext" -out "${pki}/apiserver.crt"
	# Service-account tokens are signed by the apiserver and checked by it.
	openssl_quiet genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "${pki}/sa.key"
	openssl_quiet pkey -in "${pki}/sa.key" -pubout -out "${pki}/sa.pub"
}

# write_kubeconfig FILE SERVER TOKEN CONTEXT writes a token kubeconfig that
# trusts the cluster CA.
write_kubeconfig() {
	local file="$1" server="$2" token="$3" ctx="$4"
	cat >"${file}" <<EOF2
apiVersion: v1
kind: Config
clusters:
- name: ${ctx}
  cluster:
    server: ${server}
    certificate-authority-data: $(base64 -w0 "${TESTENV_DIR}/pki/ca.crt")
users:
- name: ${ctx}
  user:
    token: ${token}
contexts:
- name: ${ctx}
  context:
    cluster: ${ctx}
    user: ${ctx}
current-context: ${ctx}
EOF2
}

# start_etcd PORT PEER_PORT starts etcd on loopback and waits for it.
start_etcd() {
	local port="$1" peer="$2"
	log "starting etcd ${ETCD_VERSION} on 127.0.0.1:${port}"
	# --unsafe-no-fsync: the data is thrown away anyway, and fsync dominates
	# write latency on CI disks.
	start etcd \
		--name=testenv \
		--data-dir="${TESTENV_DIR}/etcd" \
		--listen-client-urls="http://127.0.0.1:${port}" \
		--advertise-client-urls="http://127.0.0.1:${port}" \
		--listen-peer-urls="http://127.0.0.1:${peer}" \
		--initial-advertise-peer-urls="http://127.0.0.1:${peer}" \
		--initial-cluster="testenv=http://127.0.0.1:${peer}" \
		--unsafe-no-fsync \
		--log-level=warn
	wait_until etcd 30 "etcd health" "${START_WRAP[@]}" curl -fsS "http://127.0.0.1:${port}/health"
}

# start_apiserver ETCD_PORT PORT TOKEN [FLAG...] starts kube-apiserver with
# the flags both environments share plus the given ones, and waits for
# /readyz on 127.0.0.1.
start_apiserver() {
	local etcd_port="$1" port="$2" token="$3" pki="${TESTENV_DIR}/pki"
	shift 3
	log "starting kube-apiserver ${K8S_VERSION} on port ${port}"
	start kube-apiserver \
		--etcd-servers="http://127.0.0.1:${etcd_port}" \
		--secure-port="${port}" \
		--tls-cert-file="${pki}/apiserver.crt" \
		--tls-private-key-file="${pki}/apiserver.key" \
		--client-ca-file="${pki}/ca.crt" \
		--token-auth-file="${pki}/tokens.csv" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="${pki}/sa.pub" \
		--service-account-signing-key-file="${pki}/sa.key" \
		--service-cluster-ip-range=10.96.0.0/16 \
		--profiling=false \
		"$@"
	wait_until kube-apiserver 60 "kube-apiserver /readyz" \
		"${START_WRAP[@]}" curl -fsS --cacert "${pki}/ca.crt" -H "Authorization: Bearer ${token}" \
		"https://127.0.0.1:${port}/readyz"
}

# start_controllers KUBECONFIG starts kube-controller-manager and
# kube-scheduler.
start_controllers() {
	local kc="$1" pki="${TESTENV_DIR}/pki"
	log "starting kube-controller-manager and kube-scheduler"
	start kube-controller-manager \
		--kubeconfig="${kc}" \
		--leader-elect=false \
		--secure-port=0 \
		--service-account-private-key-file="${pki}/sa.key" \
		--root-ca-file="${pki}/ca.crt" \
		--profiling=false
	start kube-scheduler \
		--kubeconfig="${kc}" \
		--leader-elect=false \
		--secure-port=0 \
		--profiling=false
}

# install_istio_crds KUBECTL... applies Istio's CRDs from the istio.io/api
# module and waits until they are Established.
install_istio_crds() {
	local crds
	crds="$(module_dir "istio.io/api@${ISTIO_API_VERSION}")/kubernetes/customresourcedefinitions.gen.yaml"
	[[ -f "${crds}" ]] || die "cannot find ${crds} in istio.io/api@${ISTIO_API_VERSION}"
	log "installing Istio CRDs from istio.io/api ${ISTIO_API_VERSION}"
	"$@" apply --server-side --field-manager=meshinsight-testenv -f "${crds}" >"${TESTENV_DIR}/logs/istio-crds.log" ||
		die "applying ${crds} (see ${TESTENV_DIR}/logs/istio-crds.log)"
	"$@" wait --for=condition=Established --timeout=60s -f "${crds}" >>"${TESTENV_DIR}/logs/istio-crds.log" ||
		die "Istio CRDs not Established within 60s (see ${TESTENV_DIR}/logs/istio-crds.log)"
}

# install_gateway_crds KUBECTL... applies the Gateway API's standard CRDs
# (Gateway, GatewayClass, HTTPRoute, ...: waypoints are Gateways) from the
# sigs.k8s.io/gateway-api module and waits until they are Established.
install_gateway_crds() {
	local dir
	local -a crds
	dir="$(module_dir "sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}")/config/crd/standard"
	# Only the CRDs: the directory also holds a ValidatingAdmissionPolicy.
	crds=("${dir}"/gateway.networking.k8s.io_*.yaml)
	crds=("${crds[@]/*_vap_*/}")
	[[ -f "${dir}/gateway.networking.k8s.io_gateways.yaml" ]] ||
		die "cannot find the Gateway CRD in sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}"
	log "installing Gateway API CRDs from sigs.k8s.io/gateway-api ${GATEWAY_API_VERSION}"
	local -a files=()
	local f
	for f in "${crds[@]}"; do
		[[ -n "${f}" ]] && files+=(-f "${f}")
	done
	"$@" apply --server-side --field-manager=meshinsight-testenv "${files[@]}" >"${TESTENV_DIR}/logs/gateway-crds.log" ||
		die "applying the Gateway API CRDs (see ${TESTENV_DIR}/logs/gateway-crds.log)"
	"$@" wait --for=condition=Established --timeout=60s "${files[@]}" >>"${TESTENV_DIR}/logs/gateway-crds.log" ||
		die "Gateway API CRDs not Established within 60s (see ${TESTENV_DIR}/logs/gateway-crds.log)"
}

# --- The real node (node-up.sh, node-inner.sh, node-down.sh): kubelet,
# containerd, runc, CNI bridge and kube-proxy, with their own control plane,
# all inside one network namespace; containers' mounts in a private mount
# namespace; their cgroups under one cgroup root. The host reaches the
# apiserver over a veth pair whose addresses exist on that link only. ---

NODE_DIR="${MESHINSIGHT_NODE_DIR:-/tmp/meshinsight-node}"
NODE_NETNS="meshinsight-node"
NODE_NAME="meshinsight-node-0"
NODE_HOST_VETH="mi-node-host"
NODE_VETH="mi-node"
NODE_HOST_IP="10.254.1.1"
NODE_IP="10.254.1.2"
NODE_POD_CIDR="10.244.0.0/24"
NODE_APISERVER_PORT=6443
NODE_CGROUP_ROOT="meshinsight-node"
# Paths that kubelet, containerd and the CNI plugins hard-code: empty
# mountpoints on the host, covered by a tmpfs in the node's mount namespace.
NODE_HOST_PATHS=(/run/containerd /var/lib/cni /var/lib/kubelet /var/log/containers)
# The stand-in Istio's images (hack/standin): repository and tag, as
# istiod's image and its proxyv2 image are named.
STANDIN_HUB="localhost/meshinsight-standin"
STANDIN_TAG="1.28.0-standin"

# node_cgroup_dirs prints the node's cgroup root in every hierarchy that
# has it.
node_cgroup_dirs() {
	local h
	for h in /sys/fs/cgroup/*/; do
		[[ -d "${h}${NODE_CGROUP_ROOT}" ]] && echo "${h}${NODE_CGROUP_ROOT}"
	done
	return 0
}

# in_node runs a command inside the node's network namespace.
in_node() {
	nsenter --net="/run/netns/${NODE_NETNS}" "$@"
}
