#!/bin/bash
# What else runs on the machine moves a proxy's CPU per request: the agent's
# own local profile of one HTTP and one TCP cell (haproxy, 1 KiB, 450 req/s,
# mTLS off, 6 rounds of 2 s) measured alone, beside a second identical
# profile running at the same time, and beside one busy loop. Prints each
# run's CPU-µs per request (both proxies) and how busy the node's CPUs were
# during the cell (median over its rounds), as the agent reports them, and
# the load average before it. Root; about 6 minutes per repetition.
#
#   sudo hack/contention/run.sh [REPETITIONS] [AGENT]
set -euo pipefail
reps=${1:-2}
agent=${2:-bin/meshinsight-agent}
out=$(mktemp -d)
hog=""
trap 'if [ -n "$hog" ]; then kill "$hog" 2>/dev/null || true; fi; rm -rf "$out"' EXIT
profile() { # PREFIX LOG
	"$agent" profile --local --proxy haproxy --protocols http,tcp --mtls off --sizes 1024 --rates 450 \
		--rounds 6 --max-rounds 6 --duration 2s --memory-services 0 --prefix "$1" -o /dev/null 2>"$2"
}
report() { # NAME LOG...
	local name=$1
	shift
	for log in "$@"; do
		printf '%-6s %s\n' "$name" "$(grep '\] [a-z]* mtls=off rate=450/s size=1024B: ' "$log" |
			sed -E 's/.*\] ([a-z]*) mtls.*: ([0-9.]*) CPU-µs\/req.*node ([0-9]*)% busy.*/\1: \2 CPU-µs\/req (node \3% busy)/' | tr '\n' ' ')"
	done
}
for i in $(seq "$reps"); do
	echo "# repetition $i, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	profile "mcs$i-" "$out/solo.log"
	report alone "$out/solo.log"
	profile "mca$i-" "$out/a.log" &
	a=$!
	profile "mcb$i-" "$out/b.log"
	wait "$a"
	report pair "$out/a.log" "$out/b.log"
	(while :; do :; done) &
	hog=$!
	profile "mch$i-" "$out/hog.log"
	kill "$hog"
	wait "$hog" 2>/dev/null || true
	hog=""
	report hog "$out/hog.log"
done
