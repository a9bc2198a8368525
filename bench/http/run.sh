#!/usr/bin/env bash
# GET /health through the whole Manouche stack (the real binary, production
# settings: JSON access log at info, helmet, allowed hosts, NUM_PROXIES=1)
# against a bare Fiber handler (bench/http/bare), measured with wrk, rounds
# alternating so that load from elsewhere on the machine hits both alike.
#
#   bench/http/run.sh [DURATION] [ROUNDS] [CONNECTIONS]      (default 10s 3 32)
#
# Needs wrk (apt-get install -y wrk). Prints req/s per round, the medians and
# the ratio full/bare (target: at least 0.80). LOG_LEVEL=warn in the
# environment measures the stack without the access log line.
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
pids+=($!)

fullenv=(env -i "PATH=$PATH" "HOME=$HOME" SETTINGS=production
	"SECRET_KEY=bench-$(head -c 32 /dev/urandom | base64 | tr -d '/+=')-not-a-real-secret-key"
	"DATABASE_URL=sqlite://$tmp/db.sqlite3" ALLOWED_HOSTS=127.0.0.1 "MEDIA_ROOT=$tmp/media"
	"LOG_LEVEL=$level")
(cd "$tmp" && "${fullenv[@]}" ./manouche migrate >/dev/null)
(cd "$tmp" && exec "${fullenv[@]}" ./manouche runserver "127.0.0.1:$full_port" >/dev/null 2>&1) &
pids+=($!)

for port in "$bare_port" "$full_port"; do
	for _ in $(seq 200); do
		curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
		sleep 0.05
	done
	curl -fsS "http://127.0.0.1:$port/health" >/dev/null
done

rps() { wrk -t 1 -c "$conns" -d "$1" "http://127.0.0.1:$2/health" | awk '/^Requests\/sec/ {print $2}'; }
rps 2s "$bare_port" >/dev/null
rps 2s "$full_port" >/dev/null

bare_all=()
full_all=()
for r in $(seq "$rounds"); do
	b=$(rps "$dur" "$bare_port")
	f=$(rps "$dur" "$full_port")
	bare_all+=("$b")
	full_all+=("$f")
	printf 'round %d: bare %s req/s, full stack %s req/s\n' "$r" "$b" "$f"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mb=$(median "${bare_all[@]}")
mf=$(median "${full_all[@]}")
printf 'median: bare %.0f req/s, full stack %.0f req/s (LOG_LEVEL=%s), ratio %.2f (target >= 0.80)\n' "$mb" "$mf" "$level" "$(echo "$mf $mb" | awk '{print $1/$2}')"
