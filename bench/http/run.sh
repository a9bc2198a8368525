#!/usr/bin/env bash
# GET /health through the whole Manouche stack (the real binary, production
# settings: helmet, allowed hosts, NUM_PROXIES=1, and, as in production, no
# access log line unless ACCESS_LOG=true is in the environment)
# against a bare Fiber handler (bench/http/bare), measured with wrk, rounds
# alternating so that load from elsewhere on the machine hits both alike.
#
#   bench/http/run.sh [DURATION] [ROUNDS] [CONNECTIONS]      (default 10s 3 32)
#
# Needs wrk (apt-get install -y wrk). Prints req/s per round, the medians and
# the ratio full/bare (target: at least 0.80), and each server's CPU time per
# request (from /proc), whose ratio holds on a busy machine where req/s does
# not. ACCESS_LOG=true in the environment measures the stack with the JSON
# access log line.
set -euo pipefail
dur=${1:-10s}
rounds=${2:-3}
conns=${3:-32}
level=${LOG_LEVEL:-info}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

(cd "$root" && go build -o "$tmp/manouche" . && go build -o "$tmp/bare" ./bench/http/bare)

bare_port=$(free_port)
full_port=$(free_port)
"$tmp/bare" "127.0.0.1:$bare_port" &
bare_pid=$!
pids+=($bare_pid)

fullenv=(env -i "PATH=$PATH" "HOME=$HOME" SECURE_SSL_REDIRECT=false SETTINGS=production
	"SECRET_KEY=bench-$(head -c 32 /dev/urandom | base64 | tr -d '/+=')-not-a-real-secret-key"
	"DATABASE_URL=sqlite://$tmp/db.sqlite3" ALLOWED_HOSTS=127.0.0.1 "MEDIA_ROOT=$tmp/media"
	"LOG_LEVEL=$level" "ACCESS_LOG=${ACCESS_LOG:-false}")
(cd "$tmp" && "${fullenv[@]}" ./manouche migrate >/dev/null)
(cd "$tmp" && exec "${fullenv[@]}" ./manouche runserver "127.0.0.1:$full_port" >/dev/null 2>&1) &
full_pid=$!
pids+=($full_pid)

for port in "$bare_port" "$full_port"; do
	for _ in $(seq 200); do
		curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
		sleep 0.05
	done
	curl -fsS "http://127.0.0.1:$port/health" >/dev/null
done

# cpu_ticks PID: user+system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# measure DURATION PORT PID: prints "req/s server-CPU-µs-per-request". The CPU
# figure does not drop when other processes load the machine; req/s does.
measure() {
	local t0 t1 out
	t0=$(cpu_ticks "$3")
	out=$(wrk -t 1 -c "$conns" -d "$1" "http://127.0.0.1:$2/health")
	t1=$(cpu_ticks "$3")
	echo "$out" | awk -v dt=$((t1 - t0)) -v hz="$hz" '
		/requests in/ {n = $1}
		/^Requests\/sec/ {r = $2}
		END {printf "%s %.1f\n", r, dt / hz * 1e6 / n}'
}
measure 2s "$bare_port" "$bare_pid" >/dev/null
measure 2s "$full_port" "$full_pid" >/dev/null

bare_rps=()
full_rps=()
bare_cpu=()
full_cpu=()
for r in $(seq "$rounds"); do
	read -r b bc < <(measure "$dur" "$bare_port" "$bare_pid")
	read -r f fc < <(measure "$dur" "$full_port" "$full_pid")
	bare_rps+=("$b")
	full_rps+=("$f")
	bare_cpu+=("$bc")
	full_cpu+=("$fc")
	printf 'round %d: bare %s req/s (%s µs CPU/req), full stack %s req/s (%s µs CPU/req)\n' "$r" "$b" "$bc" "$f" "$fc"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mb=$(median "${bare_rps[@]}")
mf=$(median "${full_rps[@]}")
cb=$(median "${bare_cpu[@]}")
cf=$(median "${full_cpu[@]}")
printf 'median: bare %.0f req/s, full stack %.0f req/s (LOG_LEVEL=%s): ratio %.2f (target >= 0.80)\n' "$mb" "$mf" "$level" "$(echo "$mf $mb" | awk '{print $1/$2}')"
printf 'server CPU per request: bare %.1f µs, full stack %.1f µs: capacity ratio %.2f\n' "$cb" "$cf" "$(echo "$cb $cf" | awk '{print $1/$2}')"
