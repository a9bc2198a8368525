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
# OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, when set, replace always_on
# for the server with telemetry on (e.g. parentbased_traceidratio and 0.1).
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
env=(env -i "PATH=$PATH" "HOME=$HOME" SECURE_SSL_REDIRECT=false SETTINGS=production "DATABASE_URL=$db" "REDIS_URL=$REDIS_URL"
	"CACHE_KEY_PREFIX=bench-otel-$$:" "SECRET_KEY=bench-$(head -c 32 /dev/urandom | base64 | tr -d '/+=')-not-a-real-key"
	ALLOWED_HOSTS=127.0.0.1 "MEDIA_ROOT=$tmp/media" API_THROTTLE_RATE=1000000000/day AUTH_THROTTLE_RATE=1000/min)
(cd "$tmp" && "${env[@]}" ./manouche migrate >/dev/null)
off_port=$(free_port)
on_port=$(free_port)
(cd "$tmp" && exec "${env[@]}" ./manouche runserver "127.0.0.1:$off_port" >/dev/null 2>&1) &
off_pid=$!
pids+=($off_pid)
(cd "$tmp" && exec "${env[@]}" "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port" NEW_RELIC_LICENSE_KEY=bench-key \
	"OTEL_TRACES_SAMPLER=${OTEL_TRACES_SAMPLER:-always_on}" "OTEL_TRACES_SAMPLER_ARG=${OTEL_TRACES_SAMPLER_ARG:-}" ./manouche runserver "127.0.0.1:$on_port" >/dev/null 2>&1) &
on_pid=$!
pids+=($on_pid)
for port in "$off_port" "$on_port"; do
	for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.05; done
done
token=$(curl -fsS -X POST "http://127.0.0.1:$off_port/api/auth/register" -H 'Content-Type: application/json' \
	-d '{"email":"bench@example.com","password":"correct-horse-battery-9"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["auth_token"])')
for port in "$off_port" "$on_port"; do curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/me" >/dev/null; done
# rps PID wrk-args...: prints "req/s server-CPU-µs-per-request" (the CPU
# figure holds on a busy machine, where req/s does not).
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rps() {
	local pid=$1 t0 t1; shift
	t0=$(cpu_ticks "$pid")
	out=$(wrk -t 1 -c "$conns" -d "$dur" "$@")
	t1=$(cpu_ticks "$pid")
	echo "$out" | awk -v dt=$((t1 - t0)) -v hz="$hz" '/requests in/ {n = $1} /^Requests\/sec/ {r = $2} END {printf "%s/%.1f\n", r, dt / hz * 1e6 / n}'
}
declare -a mo mn ho hn
for r in $(seq "$rounds"); do
	mo[$r]=$(rps "$off_pid" -H "Authorization: Bearer $token" "http://127.0.0.1:$off_port/api/me")
	mn[$r]=$(rps "$on_pid" -H "Authorization: Bearer $token" "http://127.0.0.1:$on_port/api/me")
	ho[$r]=$(rps "$off_pid" "http://127.0.0.1:$off_port/health")
	hn[$r]=$(rps "$on_pid" "http://127.0.0.1:$on_port/health")
	echo "round $r (req/s / server µs CPU per request): /api/me off ${mo[$r]} on ${mn[$r]}; /health off ${ho[$r]} on ${hn[$r]}"
done
# median N FIELD values...: the median of field FIELD (1: req/s, 2: CPU) of "a/b" values.
median() { local f=$1; shift; printf '%s\n' "$@" | cut -d/ -f"$f" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
awk -v a="$(median 1 "${mo[@]}")" -v b="$(median 1 "${mn[@]}")" -v c="$(median 1 "${ho[@]}")" -v d="$(median 1 "${hn[@]}")" \
	-v ac="$(median 2 "${mo[@]}")" -v bc="$(median 2 "${mn[@]}")" -v cc="$(median 2 "${ho[@]}")" -v dc="$(median 2 "${hn[@]}")" 'BEGIN {
	printf "median /api/me: off %.0f, on %.0f req/s: ratio %.2f (target >= 0.75); CPU per request %.1f -> %.1f µs: capacity ratio %.2f\n", a, b, b / a, ac, bc, ac / bc
	printf "median /health: off %.0f, on %.0f req/s: ratio %.2f; CPU per request %.1f -> %.1f µs: capacity ratio %.2f\n", c, d, d / c, cc, dc, cc / dc }'
kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true
cat "$tmp/sink.out"
