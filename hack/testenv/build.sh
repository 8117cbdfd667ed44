#!/usr/bin/env bash
# Builds the binaries of the integration-test control plane from Go modules:
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from
# k8s.io/kubernetes (scratch module k8s/), etcd (scratch module etcd/) and kwok.
# Nothing but Go modules is downloaded, so it works where envtest's binary
# download does not.
#
# Binaries land in ${MESHINSIGHT_TESTENV_CACHE:-~/.cache/meshinsight/testenv}/<k8s version>/bin;
# a binary whose stamp matches its version and go.sum is not rebuilt.
#
# Usage: hack/testenv/build.sh
set -euo pipefail

# shellcheck source=hack/testenv/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v go >/dev/null 2>&1 || die "go is not installed"
# up.sh needs these; install them now so that up.sh never needs root.
ensure_commands openssl:openssl curl:curl

# Static binaries, like the official releases: no C toolchain needed, and the
# same result on every machine.
export CGO_ENABLED=0

mkdir -p "${TESTENV_BIN}"
# Concurrent runs (two terminals, two worktrees) would compile everything
# twice over: the second waits for the first, then finds its binaries.
exec {lock_fd}>"${TESTENV_BIN}/.build.lock"
if ! flock -n "${lock_fd}"; then
	log "waiting for another build.sh to finish"
	flock "${lock_fd}"
fi
tmp="$(mktemp -d "${TESTENV_BIN}/.build.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT

minor="${K8S_VERSION#v1.}"
minor="${minor%%.*}"
k8s_ldflags="-s -w"
# Without these the server reports v0.0.0 and `kubectl version` fails.
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	k8s_ldflags+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
	k8s_ldflags+=" -X ${pkg}.gitTreeState=clean"
done
go_flags=(-buildvcs=false -trimpath)
go_version="$(go env GOVERSION)"

# stamp_of prints what a binary's stamp must contain to count as up to date:
# its version, the Go version and build flags, and the hash of the go.sum it
# was built from, if any.
stamp_of() {
	local stamp="$1 ${go_version} CGO_ENABLED=${CGO_ENABLED}" flags="$2" file
	shift 2
	stamp+=" $(echo "${go_flags[*]} ${flags}" | sha256sum | cut -c1-16)"
	for file in "$@"; do
		stamp+=" $(sha256sum "${file}" | cut -c1-16)"
	done
	echo "${stamp}"
}

# up_to_date reports whether bin/<name> exists with the expected stamp.
up_to_date() {
	local name="$1" want="$2"
	[[ -x "${TESTENV_BIN}/${name}" && -f "${TESTENV_BIN}/.${name}.stamp" ]] &&
		[[ "$(cat "${TESTENV_BIN}/.${name}.stamp")" == "${want}" ]]
}

# install_bin moves a freshly built binary into place, then writes its stamp,
# so that an interrupted build never leaves a stamped partial binary.
install_bin() {
	local name="$1" stamp="$2"
	mv -f "${tmp}/${name}" "${TESTENV_BIN}/${name}"
	echo "${stamp}" >"${TESTENV_BIN}/.${name}.stamp"
}

build_started=${SECONDS}

# Kubernetes: one `go build` for all commands, so shared packages compile once.
k8s_stamp="$(stamp_of "${K8S_VERSION}" "${k8s_ldflags}" "${TESTENV_ROOT}/k8s/go.sum")"
k8s_cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
k8s_todo=()
for name in "${k8s_cmds[@]}"; do
	if up_to_date "${name}" "${k8s_stamp}"; then
		log "${name} ${K8S_VERSION}: cached"
	else
		k8s_todo+=("${name}")
	fi
done
if [[ "${#k8s_todo[@]}" -gt 0 ]]; then
	pkgs=()
	for name in "${k8s_todo[@]}"; do
		pkgs+=("k8s.io/kubernetes/cmd/${name}")
	done
	log "building ${k8s_todo[*]} ${K8S_VERSION} (cold: ~10 min on 2 cores)"
	started=${SECONDS}
	(cd "${TESTENV_ROOT}/k8s" && go build "${go_flags[@]}" -ldflags "${k8s_ldflags}" -o "${tmp}/" "${pkgs[@]}") ||
		die "building Kubernetes ${K8S_VERSION} in ${TESTENV_ROOT}/k8s"
	for name in "${k8s_todo[@]}"; do
		install_bin "${name}" "${k8s_stamp}"
	done
	log "built ${k8s_todo[*]} in $((SECONDS - started))s"
fi

# etcd: the server module's root package is etcd's main.
etcd_stamp="$(stamp_of "${ETCD_VERSION}" "-s -w" "${TESTENV_ROOT}/etcd/go.sum")"
if up_to_date etcd "${etcd_stamp}"; then
	log "etcd ${ETCD_VERSION}: cached"
else
	log "building etcd ${ETCD_VERSION}"
	started=${SECONDS}
	(cd "${TESTENV_ROOT}/etcd" && go build "${go_flags[@]}" -ldflags "-s -w" -o "${tmp}/etcd" go.etcd.io/etcd/server/v3) ||
		die "building etcd ${ETCD_VERSION} in ${TESTENV_ROOT}/etcd"
	install_bin etcd "${etcd_stamp}"
	log "built etcd in $((SECONDS - started))s"
fi

# kwok has no replace directives, so `go install pkg@version` works.
kwok_stamp="$(stamp_of "${KWOK_VERSION}" "-s -w")"
if up_to_date kwok "${kwok_stamp}"; then
	log "kwok ${KWOK_VERSION}: cached"
else
	log "building kwok ${KWOK_VERSION}"
	started=${SECONDS}
	GOBIN="${tmp}" go install "${go_flags[@]}" -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}" ||
		die "installing sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
	install_bin kwok "${kwok_stamp}"
	log "built kwok in $((SECONDS - started))s"
fi

log "binaries ready in ${TESTENV_BIN} ($((SECONDS - build_started))s)"
