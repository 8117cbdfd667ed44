#!/usr/bin/env bash
# Starts a real Prometheus (Debian's, 2.42) on 127.0.0.1 over an hour of
# generated Istio metrics for a Bookinfo-like mesh, for the integration tests
# of pkg/telemetry; or stops it.
#
# The series come from hack/prometheus/gen (counters growing at known rates)
# and are backfilled with `promtool tsdb create-blocks-from openmetrics`. The
# data ends at a whole minute in the past (printed as MESHINSIGHT_PROMETHEUS_AT
# and stored in the series meshinsight_testdata_end_timestamp_seconds): rate()
# over [5m] finds samples only when queried at that time, not at "now", so the
# tests query at it. Nothing is scraped; the TSDB holds only backfilled blocks,
# so no block overlaps the (empty) head.
#
# State, pid and logs live in ${MESHINSIGHT_PROMETHEUS_DIR:-/tmp/meshinsight-prometheus}.
# Progress goes to stderr; stdout gets only export lines, so that
#   eval "$(hack/prometheus/run.sh)"
# works.
#
# Usage: hack/prometheus/run.sh [start|stop]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${MESHINSIGHT_PROMETHEUS_DIR:-/tmp/meshinsight-prometheus}"
MARKER=".meshinsight-prometheus"

log() { printf 'prometheus/run.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# ensure_prometheus installs Debian's prometheus (which brings promtool) if
# either command is missing.
ensure_prometheus() {
	command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && return 0
	command -v apt-get >/dev/null 2>&1 || die "prometheus and promtool missing and no apt-get to install them"
	local sudo=()
	[[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
	log "installing Debian's prometheus"
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null
	command -v promtool >/dev/null 2>&1 || die "apt-get installed prometheus but promtool is missing"
}

# running_pid prints the pid of our Prometheus, or fails. It checks the
# executable behind the pid, so that a recycled pid is never taken for it.
running_pid() {
	local pid exe
	[[ -f "${DIR}/prometheus.pid" ]] || return 1
	pid="$(cat "${DIR}/prometheus.pid")"
	[[ "${pid}" =~ ^[0-9]+$ ]] || return 1
	exe="$(readlink "/proc/${pid}/exe" 2>/dev/null)" || return 1
	[[ "$(basename "${exe% (deleted)}")" == prometheus ]] || return 1
	echo "${pid}"
}

# free_port prints a loopback TCP port that nothing uses, below the
# ephemeral range so that no outgoing connection takes it first.
free_port() {
	local low addr port i used=" "
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	while read -r _ addr _; do
		[[ "${addr}" == *:* ]] && used+="$((16#${addr##*:})) "
	done < <(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
	for ((i = 0; i < 1000; i++)); do
		port=$((10000 + RANDOM % (low - 10000)))
		[[ "${used}" == *" ${port} "* ]] || {
			echo "${port}"
			return 0
		}
	done
	die "no free loopback port"
}

print_exports() {
	echo "export MESHINSIGHT_PROMETHEUS_URL=$(cat "${DIR}/url")"
	echo "export MESHINSIGHT_PROMETHEUS_AT=$(cat "${DIR}/end")"
}

stop() {
	if [[ ! -e "${DIR}" ]]; then
		log "nothing to stop: ${DIR} does not exist"
		return 0
	fi
	[[ -f "${DIR}/${MARKER}" ]] || die "${DIR} is not a state dir of this script: not touching it"
	local pid i
	if pid="$(running_pid)"; then
		log "stopping Prometheus (pid ${pid})"
		kill -TERM "${pid}" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "${pid}" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "${pid}" 2>/dev/null; then
			log "Prometheus ignored SIGTERM for 10s: killing it"
			kill -KILL "${pid}" 2>/dev/null || true
		fi
	fi
	rm -rf "${DIR}"
	log "stopped; removed ${DIR}"
}

# on_start_failure stops a Prometheus that a failed start left running; the
# state dir stays for a look at the logs.
on_start_failure() {
	local rc=$? pid
	[[ "${rc}" -eq 0 ]] && return 0
	log "start-up failed (logs in ${DIR})"
	if pid="$(running_pid)"; then
		kill -TERM "${pid}" 2>/dev/null || true
	fi
	exit "${rc}"
}

start() {
	ensure_prometheus
	command -v go >/dev/null 2>&1 || die "go is not installed"
	if [[ -e "${DIR}" ]]; then
		[[ -f "${DIR}/${MARKER}" ]] || die "${DIR} exists but is not a state dir of this script: remove it or set MESHINSIGHT_PROMETHEUS_DIR"
		if running_pid >/dev/null && curl -fsS "$(cat "${DIR}/url")/-/ready" >/dev/null 2>&1; then
			log "already up in ${DIR}"
			print_exports
			return 0
		fi
		log "cleaning up a stale state dir ${DIR}"
		stop
	fi

	trap on_start_failure EXIT
	mkdir -p "${DIR}"
	touch "${DIR}/${MARKER}"

	# A whole minute, a minute in the past: "now" must not fall inside the
	# backfilled range, and round numbers make the test's arithmetic plain.
	local end=$(($(date +%s) / 60 * 60 - 60))
	echo "${end}" >"${DIR}/end"
	log "generating an hour of Istio metrics ending at ${end} ($(date -u -d "@${end}" +%FT%TZ))"
	(cd "${ROOT}" && go run ./hack/prometheus/gen -end "${end}") >"${DIR}/metrics.om"
	log "backfilling with promtool"
	promtool tsdb create-blocks-from openmetrics "${DIR}/metrics.om" "${DIR}/data" >"${DIR}/promtool.log" 2>&1 ||
		die "promtool failed: $(tail -n 5 "${DIR}/promtool.log")"
	rm -f "${DIR}/metrics.om" # 100+ MB, and in the blocks now

	cat >"${DIR}/prometheus.yml" <<'EOF'
# Nothing to scrape: the data is backfilled.
global:
  scrape_interval: 15s
EOF

	local port attempt
	for attempt in 1 2 3; do
		port="$(free_port)"
		echo "http://127.0.0.1:${port}" >"${DIR}/url"
		log "starting Prometheus on 127.0.0.1:${port} (attempt ${attempt})"
		# Retention far beyond the data's age, or Prometheus would delete
		# blocks that have aged out; the default lookback delta (5m) suits
		# 15s samples.
		setsid prometheus \
			--config.file="${DIR}/prometheus.yml" \
			--storage.tsdb.path="${DIR}/data" \
			--storage.tsdb.retention.time=10y \
			--web.listen-address="127.0.0.1:${port}" \
			--query.lookback-delta=5m \
			--log.level=warn \
			</dev/null >"${DIR}/prometheus.log" 2>&1 &
		echo "$!" >"${DIR}/prometheus.pid"
		local i
		for ((i = 0; i < 300; i++)); do
			running_pid >/dev/null || break
			if curl -fsS "http://127.0.0.1:${port}/-/ready" >/dev/null 2>&1; then
				trap - EXIT
				log "ready at http://127.0.0.1:${port}; stop with: hack/prometheus/run.sh stop"
				print_exports
				return 0
			fi
			sleep 0.2
		done
		if running_pid >/dev/null; then
			die "Prometheus not ready after 60s: $(tail -n 5 "${DIR}/prometheus.log")"
		fi
		log "Prometheus exited: $(tail -n 3 "${DIR}/prometheus.log")"
	done
	die "Prometheus did not start; see ${DIR}/prometheus.log"
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
*) die "usage: $0 [start|stop]" ;;
esac
