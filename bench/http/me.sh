#!/usr/bin/env bash
# GET /api/me with a valid token (warm cache) against GET /health, on the real
# binary with Postgres and Redis, measured with wrk in the same run, rounds
# alternating (target: /api/me at least 0.70 of /health's requests per second).
#
#   DATABASE_URL=postgres://app:app@127.0.0.1:5432/app?sslmode=disable \
#   REDIS_URL=redis://127.0.0.1:6379/0 bench/http/me.sh [DURATION] [ROUNDS] [CONNECTIONS]
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
schema="bench_me_$$"
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	psql -q "$DATABASE_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }
psql -q "$DATABASE_URL" -c "CREATE SCHEMA $schema" >/dev/null
sep='?'; case "$DATABASE_URL" in *\?*) sep='&';; esac
db="${DATABASE_URL}${sep}search_path=$schema"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
(cd "$root" && go build -o "$tmp/manouche" .)
env=(env -i "PATH=$PATH" "HOME=$HOME" SECURE_SSL_REDIRECT=false SETTINGS=production "DATABASE_URL=$db" "REDIS_URL=$REDIS_URL"
	"CACHE_KEY_PREFIX=bench-me-$$:" "SECRET_KEY=bench-$(head -c 32 /dev/urandom | base64 | tr -d '/+=')-not-a-real-key"
	ALLOWED_HOSTS=127.0.0.1 "MEDIA_ROOT=$tmp/media" API_THROTTLE_RATE=1000000000/day AUTH_THROTTLE_RATE=1000/min)
(cd "$tmp" && "${env[@]}" ./manouche migrate >/dev/null)
(cd "$tmp" && exec "${env[@]}" ./manouche runserver "127.0.0.1:$port" >/dev/null 2>&1) &
pid=$!
for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.05; done
token=$(curl -fsS -X POST "http://127.0.0.1:$port/api/auth/register" -H 'Content-Type: application/json' \
	-d '{"email":"bench@example.com","password":"correct-horse-battery-9"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["auth_token"])')
curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/me" >/dev/null
rps() { wrk -t 1 -c "$conns" -d "$dur" "$@" | awk '/^Requests\/sec/ {print $2}'; }
declare -a h m
for r in $(seq "$rounds"); do
	h[$r]=$(rps "http://127.0.0.1:$port/health")
	m[$r]=$(rps -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/me")
	echo "round $r: /health ${h[$r]} req/s, /api/me ${m[$r]} req/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mh=$(median "${h[@]}"); mm=$(median "${m[@]}")
awk -v h="$mh" -v m="$mm" 'BEGIN {printf "median: /health %.0f req/s, /api/me %.0f req/s: ratio %.2f (target >= 0.70)\n", h, m, m / h}'
