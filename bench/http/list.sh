#!/usr/bin/env bash
# The generated list endpoint under load, cached and uncached, beside /api/me,
# /health and a bare Fiber handler, all in one run (issue 14's benchmark).
#
#   DATABASE_URL=postgres://app:app@127.0.0.1:5432/app?sslmode=disable \
#   REDIS_URL=redis://127.0.0.1:6379/0 bench/http/list.sh [DURATION] [ROUNDS] [CONNECTIONS] [THREADS]
#   (defaults: 10s 2 64 2, i.e. wrk -t2 -c64)
#
# In a temporary copy of the project it runs
#   go run . startapp blog --model Post --fields "title:string body:text"
# mounts the same view set a second time with NoCache (/api/blog/posts_uncached:
# the database on every request), builds the binary, migrates a scratch schema
# of DATABASE_URL (dropped afterwards), inserts 1,000 posts, registers a user
# (on a process of its own, stopped before the measured one starts: argon2id
# would add its 19 MiB to the PSS) and serves with SETTINGS=production, Postgres and Redis (a key prefix of its
# own). Then, rounds alternating so that load from elsewhere hits each alike:
#   GET /api/blog/posts?per_page=20           (bearer token, model cache)
#   GET /api/blog/posts_uncached?per_page=20  (bearer token, database)
#   GET /api/me                               (bearer token)
#   GET /health, and GET /health on bench/http/bare (bare Fiber)
# It prints req/s per round and the medians, the ratios to the targets, the
# web process's CPU time per request, and its peak PSS (sampled from
# /proc/PID/smaps_rollup every 100 ms during the whole run). Needs wrk, psql,
# curl, python3.
set -euo pipefail
dur=${1:-10s}
rounds=${2:-2}
conns=${3:-64}
threads=${4:-2}
: "${DATABASE_URL:?set DATABASE_URL to a Postgres URL}"
: "${REDIS_URL:?set REDIS_URL to a Redis URL}"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
schema="bench_list_$$"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	psql -q "$DATABASE_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# A copy of the project with the benchmark's app, as the scaffold tests make one.
mkdir "$tmp/src"
tar -C "$root" --exclude=.git --exclude='./apps/blog' -cf - . | tar -C "$tmp/src" -xf -
(cd "$tmp/src" && rm -rf apps/blog && go run . startapp blog --model Post --fields "title:string body:text" >/dev/null)
cat >>"$tmp/src/apps/blog/posts.go" <<'EOF'

// postsUncached is posts without the model cache, for bench/http/list.sh.
var postsUncached = &rest.ModelViewSet[Post]{Path: "/posts_uncached", NoCache: true}
EOF
sed -i 's|^func (App) Routes(r fiber.Router, p \*core.Project) { rest.Mount(r, p, resources) }|func (App) Routes(r fiber.Router, p *core.Project) {\n\trest.Mount(r, p, resources)\n\tpostsUncached.Routes(r, p)\n}|' "$tmp/src/apps/blog/app.go"
grep -q 'postsUncached.Routes' "$tmp/src/apps/blog/app.go" || { echo "could not mount the uncached view set" >&2; exit 1; }
(cd "$tmp/src" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$tmp/manouche" . && go build -o "$tmp/bare" ./bench/http/bare)

psql -q "$DATABASE_URL" -c "CREATE SCHEMA $schema" >/dev/null
sep='?'; case "$DATABASE_URL" in *\?*) sep='&';; esac
db="${DATABASE_URL}${sep}search_path=$schema"
port=$(free_port)
bare_port=$(free_port)
env=(env -i "PATH=$PATH" "HOME=$HOME" SETTINGS=production "DATABASE_URL=$db" "REDIS_URL=$REDIS_URL"
	"CACHE_KEY_PREFIX=bench-list-$$:" "SECRET_KEY=bench-$(head -c 32 /dev/urandom | base64 | tr -d '/+=')-not-a-real-key"
	ALLOWED_HOSTS=127.0.0.1 "MEDIA_ROOT=$tmp/media" API_THROTTLE_RATE=1000000000/day AUTH_THROTTLE_RATE=1000/min
	SECURE_SSL_REDIRECT=false) # plain HTTP from wrk (on Heroku the router terminates TLS)
(cd "$tmp" && "${env[@]}" ./manouche migrate >/dev/null)
PGOPTIONS="-c search_path=$schema" psql -q "$DATABASE_URL" -c "INSERT INTO blog_posts (id, created_at, updated_at, title, body)
	SELECT md5('post' || i)::uuid, now() - i * interval '1 minute', now() - i * interval '1 minute',
	       'Post number ' || i, repeat('The body of a post, with some words in it. ', 12)
	FROM generate_series(1, 1000) AS i" >/dev/null

wait_health() {
	for _ in $(seq 200); do curl -fsS "http://127.0.0.1:$1/health" >/dev/null 2>&1 && break; sleep 0.05; done
	curl -fsS "http://127.0.0.1:$1/health" >/dev/null
}
# The sign-up (argon2id: 19 MiB) runs on a process of its own, as it would on
# another dyno: the measured process only looks the token up.
(cd "$tmp" && exec "${env[@]}" ./manouche runserver "127.0.0.1:$port" >"$tmp/signup.log" 2>&1) &
signup_pid=$!
wait_health "$port"
token=$(curl -fsS -X POST "http://127.0.0.1:$port/api/auth/register" -H 'Content-Type: application/json' \
	-d '{"email":"bench@example.com","password":"correct-horse-battery-9"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["auth_token"])')
kill "$signup_pid"
wait "$signup_pid" 2>/dev/null || true

(cd "$tmp" && exec "${env[@]}" ./manouche runserver "127.0.0.1:$port" >"$tmp/server.log" 2>&1) &
pids+=($!)
"$tmp/bare" "127.0.0.1:$bare_port" &
bare_pid=$!
pids+=($bare_pid)
wait_health "$port"
wait_health "$bare_port"
web_pid=$(pgrep -f "manouche runserver 127.0.0.1:$port" | head -1)
auth="Authorization: Bearer $token"
list="http://127.0.0.1:$port/api/blog/posts?per_page=20"
plain="http://127.0.0.1:$port/api/blog/posts_uncached?per_page=20"
n=$(curl -fsS -H "$auth" "$list" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["count"], len(d["results"]))')
[ "$n" = "1000 20" ] || { echo "unexpected list: count and length $n" >&2; exit 1; }
[ "$(curl -fsS -H "$auth" "$list")" = "$(curl -fsS -H "$auth" "$plain" | sed 's|posts_uncached|posts|g')" ] ||
	{ echo "the cached and uncached lists differ" >&2; exit 1; }

# PSS of the web process (kB), sampled every 100 ms during the whole run.
: >"$tmp/pss.log"
(while kill -0 "$web_pid" 2>/dev/null; do
	awk '/^Pss:/ {print $2}' "/proc/$web_pid/smaps_rollup" 2>/dev/null >>"$tmp/pss.log" || true
	sleep 0.1
done) &
pids+=($!)
# pss_peak FROM: the largest sample from line FROM on, in MB.
pss_peak() { tail -n +"$1" "$tmp/pss.log" | sort -n | tail -1 | awk '{printf "%.1f", $1 / 1024}'; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# run PID URL [wrk args]: "req/s µs-CPU-per-request p99 web-PSS-peak-MB" of one wrk run.
run() {
	local pid=$1 url=$2 t0 t1 out
	shift 2
	local from=$(($(wc -l <"$tmp/pss.log") + 1))
	t0=$(cpu_ticks "$pid")
	out=$(wrk -t "$threads" -c "$conns" -d "$dur" --latency "$@" "$url")
	t1=$(cpu_ticks "$pid")
	if echo "$out" | grep -q 'Non-2xx'; then echo "non-2xx answers from $url:" >&2; echo "$out" >&2; exit 1; fi
	echo "$out" | awk -v dt=$((t1 - t0)) -v hz="$hz" -v pss="$(pss_peak "$from")" '
		/requests in/ {n = $1}
		/^Requests\/sec/ {r = $2}
		/^ +99%/ {p = $2}
		END {printf "%s %.1f %s %s\n", r, dt / hz * 1e6 / n, p, pss}'
}
names=(list_cached list_uncached me health bare)
declare -A rps cpu p99
# Warm-up, not measured: every endpoint for a few seconds.
for name in "${names[@]}"; do
	case $name in
	list_cached) wrk -t "$threads" -c "$conns" -d 2s -H "$auth" "$list" >/dev/null ;;
	list_uncached) wrk -t "$threads" -c "$conns" -d 2s -H "$auth" "$plain" >/dev/null ;;
	me) wrk -t "$threads" -c "$conns" -d 2s -H "$auth" "http://127.0.0.1:$port/api/me" >/dev/null ;;
	esac
done
measured=$(($(wc -l <"$tmp/pss.log") + 1))
for r in $(seq "$rounds"); do
	line="round $r:"
	for name in "${names[@]}"; do
		case $name in
		list_cached) out=$(run "$web_pid" "$list" -H "$auth") ;;
		list_uncached) out=$(run "$web_pid" "$plain" -H "$auth") ;;
		me) out=$(run "$web_pid" "http://127.0.0.1:$port/api/me" -H "$auth") ;;
		health) out=$(run "$web_pid" "http://127.0.0.1:$port/health") ;;
		bare) out=$(run "$bare_pid" "http://127.0.0.1:$bare_port/health") ;;
		esac
		read -r q c l m <<<"$out"
		rps[$name]+="$q "
		cpu[$name]+="$c "
		p99[$name]+="$l "
		line+=" $name $q req/s ($c µs CPU, p99 $l, web PSS peak $m MB);"
	done
	echo "$line"
done
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A med
for name in "${names[@]}"; do
	med[$name]=$(median "${rps[$name]}")
	printf '%-14s median %8.0f req/s, CPU per request %s µs, p99 %s\n' "$name" "${med[$name]}" "$(median "${cpu[$name]}")" "$(echo ${p99[$name]})"
done
awk -v c="${med[list_cached]}" -v u="${med[list_uncached]}" -v m="${med[me]}" -v h="${med[health]}" -v b="${med[bare]}" 'BEGIN {
	printf "list cached: %.1fx Django (410 req/s; target >= 10x, aim 20x), %.1fx the uncached list (%.1fx Django)\n", c / 410, c / u, u / 410
	printf "/api/me: %.0f req/s, %.2f of /health\n", m, m / h
	printf "/health: %.2f of bare Fiber (target >= 0.80)\n", h / b
}'
echo "peak PSS of the web process under the measured load: $(pss_peak "$measured") MB (target <= 60 MB);" \
	"over the whole run, warm-up included: $(pss_peak 1) MB"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
