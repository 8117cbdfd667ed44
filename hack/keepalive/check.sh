#!/usr/bin/env bash
# An independent keep-alive check of the agent's CPU figures: a two-pod
# sidecar chain that shares no code, configuration or load generator with
# the agent's datapath (pkg/datapath, pkg/loadgen), measured by schedstat
# alone. Prints one JSON line: CPU µs per request of the outbound and the
# inbound sidecar.
#
#   client netns: CLIENTS independent clients (each one keep-alive
#                 connection, RATE/CLIENTS req/s, started at random phases)
#                 → iptables REDIRECT → outbound haproxy (uid 1337)
#   server netns: → REDIRECT → inbound haproxy (uid 1337) → app on 127.0.0.1
#
# HTTP: the clients are `hey` processes (github.com/rakyll/hey, run with go
# run), the app is nginx answering SIZE bytes. TCP: the clients and the app
# are python3 asyncio programs exchanging SIZE-byte messages. haproxy runs
# with one thread, as the agent's datapath does.
#
# Usage (root): hack/keepalive/check.sh http|tcp RATE SIZE SECONDS [CLIENTS]
set -euo pipefail

proto="$1" rate="$2" size="$3" secs="$4" clients="${5:-8}"
[[ "$(id -u)" -eq 0 ]] || { echo "check.sh: needs root (network namespaces)" >&2; exit 1; }
prefix="ka$$"
a="${prefix}a" b="${prefix}b"
dir="$(mktemp -d /tmp/meshinsight-keepalive.XXXXXX)"
chmod 755 "${dir}"
cleanup() {
	for n in "${a}" "${b}"; do
		ip netns pids "${n}" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
	done
	sleep 0.2
	ip netns del "${a}" 2>/dev/null || true
	ip netns del "${b}" 2>/dev/null || true
	rm -rf "${dir}"
}
trap cleanup EXIT

ip netns add "${a}"
ip netns add "${b}"
ip link add "${prefix}0" netns "${a}" type veth peer name "${prefix}1" netns "${b}"
ip -n "${a}" addr add 10.79.0.1/24 dev "${prefix}0"
ip -n "${b}" addr add 10.79.0.2/24 dev "${prefix}1"
for n in "${a}" "${b}"; do ip -n "${n}" link set lo up; done
ip -n "${a}" link set "${prefix}0" up
ip -n "${b}" link set "${prefix}1" up
ip netns exec "${a}" iptables -t nat -A OUTPUT -p tcp -m owner --uid-owner 1337 -j RETURN
ip netns exec "${a}" iptables -t nat -A OUTPUT -p tcp -d 10.79.0.2 --dport 80 -j REDIRECT --to-ports 15001
ip netns exec "${b}" iptables -t nat -A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 15006

mode=http
[[ "${proto}" == tcp ]] && mode=tcp
sidecar() { # name bind server
	cat >"${dir}/$1.cfg" <<EOF
global
    maxconn 4096
    nbthread 1
defaults
    mode ${mode}
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend $1
    bind 0.0.0.0:$2
    default_backend $1-upstream
backend $1-upstream
    server s $3
EOF
}
sidecar out 15001 10.79.0.2:80
sidecar in 15006 127.0.0.1:8080
ip netns exec "${a}" setpriv --reuid 1337 --regid 1337 --clear-groups haproxy -db -f "${dir}/out.cfg" >"${dir}/out.log" 2>&1 &
echo $! >"${dir}/out.pid"
disown
ip netns exec "${b}" setpriv --reuid 1337 --regid 1337 --clear-groups haproxy -db -f "${dir}/in.cfg" >"${dir}/in.log" 2>&1 &
echo $! >"${dir}/in.pid"
disown

head -c "${size}" /dev/zero | tr '\0' x >"${dir}/body"
if [[ "${proto}" == http ]]; then
	mkdir -p "${dir}/nginx"
	chown 1000 "${dir}/nginx"
	cat >"${dir}/nginx.conf" <<EOF
daemon off;
master_process off;
pid ${dir}/nginx/pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx/cb; proxy_temp_path ${dir}/nginx/px; fastcgi_temp_path ${dir}/nginx/fc;
  uwsgi_temp_path ${dir}/nginx/uw; scgi_temp_path ${dir}/nginx/sc;
  server { listen 127.0.0.1:8080; client_body_buffer_size 64k; location / { return 200 "$(cat "${dir}/body")"; } }
}
EOF
	ip netns exec "${b}" setpriv --reuid 1000 --regid 1000 --clear-groups nginx -e stderr -c "${dir}/nginx.conf" >"${dir}/app.log" 2>&1 &
	disown
	GOBIN="${dir}" GOFLAGS= go install github.com/rakyll/hey@v0.1.5 >/dev/null 2>&1 || { echo "check.sh: cannot install hey" >&2; exit 1; }
else
	cat >"${dir}/tcp.py" <<'EOF'
import asyncio, random, sys, time
def server(size):
    async def handle(r, w):
        try:
            while True:
                await r.readexactly(size)
                w.write(b"y" * size)
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            w.close()
    async def main():
        s = await asyncio.start_server(handle, "127.0.0.1", 8080)
        await s.serve_forever()
    asyncio.run(main())
def client(size, rate, secs):
    async def main():
        r, w = await asyncio.open_connection("10.79.0.2", 80)
        await asyncio.sleep(random.random() / rate)
        n, start = 0, time.monotonic()
        while time.monotonic() - start < secs:
            w.write(b"x" * size)
            await w.drain()
            await r.readexactly(size)
            n += 1
            due = start + n / rate
            await asyncio.sleep(max(0, due - time.monotonic()))
        print(n)
    asyncio.run(main())
if sys.argv[1] == "server":
    server(int(sys.argv[2]))
else:
    client(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
EOF
	ip netns exec "${b}" setpriv --reuid 1000 --regid 1000 --clear-groups /usr/bin/python3 "${dir}/tcp.py" server "${size}" >"${dir}/app.log" 2>&1 &
	disown
fi
sleep 1

cpu() { # pid → ns on CPU, all threads
	local t=0 f
	for f in /proc/"$1"/task/*/schedstat; do t=$((t + $(cut -d' ' -f1 "${f}"))); done
	echo "${t}"
}
out0=$(cpu "$(cat "${dir}/out.pid")")
in0=$(cpu "$(cat "${dir}/in.pid")")
per=$(python3 -c "print(${rate}/${clients})")
pids=()
for i in $(seq "${clients}"); do
	(
		sleep "$(python3 -c "import random; print(random.random() / ${per})")"
		if [[ "${proto}" == http ]]; then
			ip netns exec "${a}" setpriv --reuid 1000 --regid 1000 --clear-groups "${dir}/hey" -z "${secs}s" -c 1 -q "${per}" \
				-m POST -D "${dir}/body" http://10.79.0.2:80/ | awk '/\[200\]/{print $2}'
		else
			ip netns exec "${a}" setpriv --reuid 1000 --regid 1000 --clear-groups /usr/bin/python3 "${dir}/tcp.py" client "${size}" "${per}" "${secs}"
		fi
	) >"${dir}/client.${i}" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}" || { echo "check.sh: a client failed:" >&2; cat "${dir}"/client.* "${dir}"/app.log >&2; exit 1; }
out1=$(cpu "$(cat "${dir}/out.pid")")
in1=$(cpu "$(cat "${dir}/in.pid")")
requests=$(cat "${dir}"/client.* | awk '{s += $1} END {print s + 0}')
[[ "${requests}" -gt 0 ]] || { echo "check.sh: no request completed" >&2; cat "${dir}"/client.* "${dir}"/*.log >&2; exit 1; }
python3 -c "import json; print(json.dumps({'protocol': '${proto}', 'rate': ${rate}, 'size': ${size}, 'clients': ${clients}, 'requests': ${requests}, \
'outboundCPUMicrosPerRequest': (${out1} - ${out0}) / 1e3 / ${requests}, 'inboundCPUMicrosPerRequest': (${in1} - ${in0}) / 1e3 / ${requests}}))"
