#!/usr/bin/env bash
# Builds the real node's images from this checkout into the node's state
# dir, and imports them into a running node's containerd:
#   - the agent image, as `make image` builds it (hack/image), named as the
#     plugin's default image for VERSION;
#   - the stand-in Istio's pilot and proxyv2 images (hack/standin);
#   - the pause image of the pods' sandboxes.
#
# Usage: hack/testenv/node-images.sh build    (node-up.sh runs it)
#        hack/testenv/node-images.sh reload   (rebuild and import into the running node)
# Environment: VERSION (default `git describe`, as the Makefile).
set -euo pipefail

# shellcheck source=hack/testenv/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TESTENV_DIR="${NODE_DIR}"
REPO="$(cd "${TESTENV_ROOT}/../.." && pwd)"
version="${VERSION:-$(git -C "${REPO}" describe --tags --always --dirty 2>/dev/null || echo dev)}"
ldflags="-s -w -X github.com/meshinsight/kubectl-meshinsight/pkg/version.Version=${version}"
images="${TESTENV_DIR}/images"
bin="${TESTENV_DIR}/bin"

build() {
	mkdir -p "${images}" "${bin}" "${TESTENV_DIR}/logs"
	log "building the agent ${version}, the stand-in Istio and the pause program"
	(cd "${REPO}" && CGO_ENABLED=0 go build -trimpath -ldflags "${ldflags}" -o "${bin}/" \
		./cmd/meshinsight-agent ./hack/standin/istiod ./hack/standin/pilot-agent ./hack/testenv/pause) ||
		die "building the node's programs"
	img -tag "localhost/meshinsight-testenv/pause:1" -o "${images}/pause.tar" -entrypoint /pause \
		-add "${bin}/pause:/pause"
	img -tag "${STANDIN_HUB}/pilot:${STANDIN_TAG}" -o "${images}/pilot.tar" -entrypoint /usr/local/bin/pilot-discovery \
		-add "${bin}/istiod:/usr/local/bin/pilot-discovery"
	# The proxyv2 stand-in: pilot-agent, haproxy and iptables-nft with their
	# libraries (iptables-restore is the nf_tables multi-call binary).
	img -tag "${STANDIN_HUB}/proxyv2:${STANDIN_TAG}" -o "${images}/proxyv2.tar" -entrypoint /usr/local/bin/pilot-agent \
		-add "${bin}/pilot-agent:/usr/local/bin/pilot-agent" -add /usr/sbin/haproxy \
		-add /usr/sbin/xtables-nft-multi:/usr/sbin/iptables-restore -add /usr/sbin/xtables-nft-multi:/usr/sbin/iptables-save \
		-add /usr/lib/x86_64-linux-gnu/xtables -libs
	rm -rf "${images}/agent-layout"
	(cd "${REPO}" && go run -ldflags "${ldflags}" ./hack/image -binary "linux/$(go env GOARCH)=${bin}/meshinsight-agent" \
		-o "${images}/agent-layout" -tar "${images}/agent.tar") >>"${TESTENV_DIR}/logs/images.log" 2>&1 ||
		die "building the agent image (see ${TESTENV_DIR}/logs/images.log)"
	rm -rf "${images}/agent-layout"
}

img() {
	(cd "${REPO}" && go run ./hack/testenv/nodeimage "$@") >>"${TESTENV_DIR}/logs/images.log" 2>&1 ||
		die "building image $2 (see ${TESTENV_DIR}/logs/images.log)"
}

# reload imports the images into the running node's containerd, which lives
# in the node's mount namespace.
reload() {
	local pid
	pid="$(component_pid containerd)" || die "no node is running (hack/testenv/node-up.sh)"
	for image in "${images}"/*.tar; do
		nsenter -t "${pid}" -m -n ctr --address "${TESTENV_DIR}/containerd/containerd.sock" --namespace k8s.io \
			images import "${image}" >>"${TESTENV_DIR}/logs/images.log" 2>&1 || die "importing ${image}"
	done
	log "imported $(ls "${images}"/*.tar | wc -l) images into the node"
}

case "${1:-}" in
build) build ;;
reload) build && reload ;;
*) die "usage: node-images.sh build|reload" ;;
esac
