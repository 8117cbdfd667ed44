#!/usr/bin/env bash
# Stops the integration-test control plane started by hack/testenv/up.sh and
# removes its state dir (${MESHINSIGHT_TESTENV_DIR:-/tmp/meshinsight-testenv}).
# Controllers and kwok stop first, then the apiserver, then etcd: an
# apiserver whose etcd is gone hangs for 30s+ before it exits.
#
# Usage: hack/testenv/down.sh
set -euo pipefail

# shellcheck source=hack/testenv/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ! -e "${TESTENV_DIR}" ]]; then
	log "nothing to stop: ${TESTENV_DIR} does not exist"
	exit 0
fi
[[ -f "${TESTENV_DIR}/${TESTENV_MARKER}" ]] ||
	die "${TESTENV_DIR} is no testenv state dir: not touching it"

# Even if one stop fails, go on with the others before giving up.
trap stop_all EXIT
stop_all
trap - EXIT
rm -rf "${TESTENV_DIR}"
log "stopped; removed ${TESTENV_DIR}"
