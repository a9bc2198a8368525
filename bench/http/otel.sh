#!/usr/bin/env bash
# GET /api/me (valid token, warm cache) and GET /health on two servers of the
# same binary and database: telemetry off, and telemetry on with every
# request sampled and exported to a local OTLP receiver (bench/otlpsink),
# measured with wrk, rounds alternating so that load from elsewhere on the
# machine hits both alike (target: /api/me on at least 0.75 of off).
#
#   DATABASE_URL=postgres://app:app@127.0.0.1:5432/app?sslmode=disable \
#   REDIS_URL=redis://127.0.0.1:6379/0 bench/http/otel.sh [DURATION] [ROUNDS] [CONNECTIONS]
#
# It creates a scratch schema in that database and drops it afterwards. Needs wrk.
set -euo pipefail
dur=${1:-5s}
rounds=${2:-3}
conns=${3:-32}
: "${DATABASE_URL:?set DATABASE_URL to a Postgres URL}"
: "${REDIS_URL:?set REDIS_URL to a Redis URL}"
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
schema="bench_otel_$$"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	psql -q "$DATABASE_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
psql -q "$DATABASE_URL" -c "CREATE SCHEMA $schema" >/dev/null
sep='?'; case "$DATABASE_URL" in *\?*) sep='&';; esac
db="${DATABASE_URL}${sep}search_path=$schema"
(cd "$root" && go build -o "$tmp/manouche" . && go build -o "$tmp/otlpsink" ./bench/otlpsink)
sink_port=$(free_port)
"$tmp/otlpsink" "127.0.0.1:$sink_port" >"$tmp/sink.out" &
sink_pid=$!
pids+=($sink_pid)
env=(env -i "PATH=$PATH" "HOME=$HOME" SETTINGS=production "DATABASE_URL=$db" "REDIS_URL=$REDIS_URL"
	"CACHE_KEY_PREFIX=bench-otel-$$:" "SECRET_KEY=bench-$(head -c 32 /dev/urandom | base64 | tr -d '/+=')-not-a-real-key"
	ALLOWED_HOSTS=127.0.0.1 "MEDIA_ROOT=$tmp/media" API_THROTTLE_RATE=1000000000/day AUTH_THROTTLE_RATE=1000/min)
(cd "$tmp" && "${env[@]}" ./manouche migrate >/dev/null)
off_port=$(free_port)
on_port=$(free_port)
(cd "$tmp" && exec "${env[@]}" ./manouche runserver "127.0.0.1:$off_port" >/dev/null 2>&1) &
pids+=($!)
(cd "$tmp" && exec "${env[@]}" "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port" NEW_RELIC_LICENSE_KEY=bench-key \
	OTEL_TRACES_SAMPLER=always_on ./manouche runserver "127.0.0.1:$on_port" >/dev/null 2>&1) &
pids+=($!)
for port in "$off_port" "$on_port"; do
	for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.05; done
done
token=$(curl -fsS -X POST "http://127.0.0.1:$off_port/api/auth/register" -H 'Content-Type: application/json' \
	-d '{"email":"bench@example.com","password":"correct-horse-battery-9"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["auth_token"])')
for port in "$off_port" "$on_port"; do curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/me" >/dev/null; done
rps() { wrk -t 1 -c "$conns" -d "$dur" "$@" | awk '/^Requests\/sec/ {print $2}'; }
declare -a mo mn ho hn
for r in $(seq "$rounds"); do
	mo[$r]=$(rps -H "Authorization: Bearer $token" "http://127.0.0.1:$off_port/api/me")
	mn[$r]=$(rps -H "Authorization: Bearer $token" "http://127.0.0.1:$on_port/api/me")
	ho[$r]=$(rps "http://127.0.0.1:$off_port/health")
	hn[$r]=$(rps "http://127.0.0.1:$on_port/health")
	echo "round $r: /api/me off ${mo[$r]} on ${mn[$r]} req/s; /health off ${ho[$r]} on ${hn[$r]} req/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
a=$(median "${mo[@]}"); b=$(median "${mn[@]}"); c=$(median "${ho[@]}"); d=$(median "${hn[@]}")
awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" 'BEGIN {
	printf "median /api/me: off %.0f, on %.0f req/s: ratio %.2f (target >= 0.75)\n", a, b, b / a
	printf "median /health: off %.0f, on %.0f req/s: ratio %.2f\n", c, d, d / c }'
kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true
cat "$tmp/sink.out"
