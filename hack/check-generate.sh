#!/usr/bin/env bash
# Regenerates the eBPF objects and their Go loaders (pkg/probe/*_bpfel.{go,o})
# from bpf/*.bpf.c and fails if the result differs from what is committed.
#
# Output is byte-for-byte deterministic only with the same compiler: Debian
# bookworm's clang-14 and llvm-strip-14 (apt-get install clang-14 llvm-14
# libbpf-dev). bpf2go itself is pinned as a go.mod tool.
set -euo pipefail

cd "$(dirname "$0")/.."

for tool in clang-14 llvm-strip-14; do
	if ! command -v "$tool" >/dev/null; then
		echo "check-generate: $tool not found: apt-get install clang-14 llvm-14 libbpf-dev" >&2
		exit 1
	fi
done
if [ ! -f /usr/include/bpf/bpf_helpers.h ]; then
	echo "check-generate: libbpf headers not found: apt-get install libbpf-dev" >&2
	exit 1
fi

go generate ./pkg/probe/

# Untracked files count too: a new program whose objects were never committed.
untracked=$(git status --porcelain --untracked-files=all -- pkg/probe bpf | grep '^??' || true)
if ! git diff --exit-code --stat -- pkg/probe bpf || [ -n "$untracked" ]; then
	[ -n "$untracked" ] && echo "$untracked" >&2
	echo "check-generate: generated eBPF files are stale: run 'make generate' and commit the result" >&2
	exit 1
fi
echo "check-generate: eBPF objects are up to date"
