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
