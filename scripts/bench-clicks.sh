#!/usr/bin/env bash
# Share-link redirect throughput: the real /s/CODE handler (durable click
# recording with group commit) against a bare gin handler sending the same
# 302, on SQLite and on MariaDB, in one run; then the click rows counted
# against the 302s wrk received. Figures go to docs/PERFORMANCE.md.
#
#   scripts/bench-clicks.sh                  # SQLite + MariaDB at 127.0.0.1:3306
#   MYSQL_DSN= scripts/bench-clicks.sh       # SQLite only
#   CONNS=64 SECS=10 scripts/bench-clicks.sh
#   ROUNDS=3 scripts/bench-clicks.sh         # bare, SQLite, MariaDB, three times over
#   PROFILE=/tmp/prof scripts/bench-clicks.sh  # serve through benchclicks (same app)
#                                            # and write a CPU profile per run there
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-64}
SECS=${SECS:-10}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-1}
PROFILE=${PROFILE:-}
MYSQL_DSN=${MYSQL_DSN-root@tcp(127.0.0.1:3306)/}
PORT_BARE=${PORT_BARE:-18090}
PORT_APP=${PORT_APP:-18091}
UA='Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.44'
export RMREF_JWT_SECRET=bench-jwt-secret-0123456789abcdefghij
export RMREF_HASH_KEY=bench-hash-key-0123456789
export RMREF_LOG_LEVEL=error

command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)"; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/rmref" ./cmd/rmref
go build -o "$tmp/benchclicks" ./scripts/benchclicks

# wrk counts every status; this script tallies the 302s it received.
cat > "$tmp/count302.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() found = 0 end
function response(status, headers, body) if status == 302 then found = found + 1 end end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("found") end
  io.write(string.format("302s received: %d\n", n))
end
LUA

wait_up() { # port
  for _ in $(seq 200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/s/x" || true)" != 000 ] && return 0
    sleep 0.1
  done
  echo "server on :$1 did not start"; exit 1
}

run_wrk() { # url label
  echo "== $2"
  wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency -H "User-Agent: $UA" -s "$tmp/count302.lua" "$1" | tee "$tmp/wrk.out" |
    grep -E 'Requests/sec|Latency |  50%|  99%|302s received|Non-2xx|Socket errors'
}

bench_bare() {
  "$tmp/benchclicks" bare -listen "127.0.0.1:$PORT_BARE" & pids+=($!)
  local pid=$!
  wait_up "$PORT_BARE"
  run_wrk "http://127.0.0.1:$PORT_BARE/s/BARE0000/wechat_friend" "bare gin 302 (load $(cut -d' ' -f1-3 /proc/loadavg))"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

bench_db() { # label dsn
  local code
  code=$("$tmp/benchclicks" seed -db "$2" | head -1)
  if [ -n "$PROFILE" ]; then
    mkdir -p "$PROFILE"
    RMREF_DB="$2" RMREF_LISTEN="127.0.0.1:$PORT_APP" "$tmp/benchclicks" serve -cpuprofile "$PROFILE/$1.pprof" & pids+=($!)
  else
    RMREF_DB="$2" RMREF_LISTEN="127.0.0.1:$PORT_APP" "$tmp/rmref" serve & pids+=($!)
  fi
  local pid=$!
  wait_up "$PORT_APP"
  run_wrk "http://127.0.0.1:$PORT_APP/s/$code/wechat_friend" "rmref /s/CODE on $1 (load $(cut -d' ' -f1-3 /proc/loadavg))"
  kill -TERM "$pid"; wait "$pid" || true
  echo "click rows in the database: $("$tmp/benchclicks" count -db "$2")"
}

have_mysql=
if [ -n "$MYSQL_DSN" ] && mysql -h127.0.0.1 -uroot -e 'SELECT 1' >/dev/null 2>&1; then have_mysql=1; fi

for round in $(seq "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && echo "#### round $round"
  bench_bare
  rm -f "$tmp"/bench.db*
  bench_db sqlite "$tmp/bench.db"
  if [ -n "$have_mysql" ]; then
    mysql -h127.0.0.1 -uroot -e 'DROP DATABASE IF EXISTS rmref_bench; CREATE DATABASE rmref_bench CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'
    bench_db mariadb "${MYSQL_DSN}rmref_bench"
    mysql -h127.0.0.1 -uroot -e 'DROP DATABASE IF EXISTS rmref_bench'
  else
    echo "== MariaDB skipped (no server at 127.0.0.1:3306 or MYSQL_DSN empty)"
  fi
done
