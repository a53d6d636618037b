#!/usr/bin/env bash
# Compares pgbench through direct PostgreSQL, tenantgate and PgBouncer (transaction pooling),
# in alternating rounds on this machine, and prints TPS, latency and ratios.
#
#   bash benches/pgbench.sh                  # defaults below
#   CLIENTS=16 DURATION=10 ROUNDS=3 SCALE=10 POOL_SIZE=16 bash benches/pgbench.sh
#   CASES="select-only:prepared connect:simple" bash benches/pgbench.sh
#
# A case is WORKLOAD:MODE; workloads: select-only (-S), tpcb (the default script),
# connect (-S with -C: a new connection, with SCRAM authentication, per transaction).
#
# Everything runs on loopback, in a temporary directory, and is stopped on exit.
set -euo pipefail

CLIENTS=${CLIENTS:-16}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
SCALE=${SCALE:-10}
POOL_SIZE=${POOL_SIZE:-16}
CASES=${CASES:-"select-only:simple select-only:extended select-only:prepared tpcb:simple tpcb:extended tpcb:prepared connect:simple"}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/tenantgate-bench-XXXXXX)
chmod 755 "$work"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

log() { echo "# $*" >&2; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Postgres and PgBouncer refuse to run as root.
as_service_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  echo "$dir"
}

ensure_tools() {
  bash "$root/scripts/ensure-postgres.sh"
  if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
    log "installing pgbouncer"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  fi
  PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
  log "building tenantgate (release)"
  (cd "$root" && cargo build --release --quiet)
}

wait_for_port() {
  local port=$1 i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "nothing listens on $port"; return 1
}

start_postgres() {
  local bin; bin=$(pg_bin)
  PG_PORT=$(free_port)
  echo "postgres" > "$work/pwfile"
  chown -R postgres "$work" 2>/dev/null || true
  as_service_user "$bin/initdb" -D "$work/data" -U postgres --pwfile="$work/pwfile" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C >/dev/null
  as_service_user "$bin/postgres" -D "$work/data" -p "$PG_PORT" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$work" -c fsync=off -c max_connections=200 -c shared_buffers=128MB \
    >"$work/postgres.log" 2>&1 &
  pids+=($!)
  wait_for_port "$PG_PORT"
  sleep 0.5
  PGPASSWORD=postgres psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -c "CREATE ROLE tenantgate LOGIN PASSWORD 'benchpw'" -c "CREATE DATABASE bench OWNER tenantgate"
  log "pgbench -i -s $SCALE"
  PGPASSWORD=benchpw pgbench -q -i -s "$SCALE" -h 127.0.0.1 -p "$PG_PORT" -U tenantgate bench >/dev/null 2>&1
}

start_tenantgate() {
  TG_PORT=$(free_port)
  cat >"$work/tenantgate.toml" <<EOF
[proxy]
listen = "127.0.0.1:$TG_PORT"
pool_mode = "transaction"

[[clusters]]
name = "main"
host = "127.0.0.1"
port = $PG_PORT
user = "tenantgate"
password = "benchpw"
pool_size = $POOL_SIZE

[[tenants]]
id = "bench"
isolation = "database"
cluster = "main"
database = "bench"

[[users]]
name = "bench_app"
password = "benchpw"
tenant = "bench"
EOF
  TENANTGATE_LOG=warn "$root/target/release/tenantgate" serve --config "$work/tenantgate.toml" >"$work/tenantgate.log" 2>&1 &
  pids+=($!)
  TG_PID=$!
  wait_for_port "$TG_PORT"
}

start_pgbouncer() {
  BOUNCER_PORT=$(free_port)
  echo '"tenantgate" "benchpw"' >"$work/userlist.txt"
  cat >"$work/pgbouncer.ini" <<EOF
[databases]
bench = host=127.0.0.1 port=$PG_PORT dbname=bench

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $work/userlist.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = 500
logfile = $work/pgbouncer.log
EOF
  chown postgres "$work"/pgbouncer.ini "$work"/userlist.txt 2>/dev/null || true
  as_service_user "$PGBOUNCER" "$work/pgbouncer.ini" >/dev/null 2>&1 &
  pids+=($!)
  wait_for_port "$BOUNCER_PORT"
}

# run TARGET WORKLOAD MODE -> "tps latency_ms"
run() {
  local target=$1 workload=$2 mode=$3 port user args=()
  case $target in
    direct) port=$PG_PORT; user=tenantgate ;;
    tenantgate) port=$TG_PORT; user=bench_app ;;
    pgbouncer) port=$BOUNCER_PORT; user=tenantgate ;;
  esac
  case $workload in
    select-only) args+=(-S) ;;
    connect) args+=(-S -C) ;;
  esac
  local out failed
  if ! out=$(PGPASSWORD=benchpw timeout $((DURATION + 60)) pgbench -n -h 127.0.0.1 -p "$port" -U "$user" \
    -c "$CLIENTS" -j "$THREADS" -T "$DURATION" -M "$mode" "${args[@]}" bench 2>&1); then
    log "pgbench against $target failed: $(echo "$out" | grep -m1 -i error)"
    echo "0 0"; return 0
  fi
  failed=$(echo "$out" | awk -F': ' '/number of failed transactions/ {split($2, a, " "); print a[1]}')
  if [ "${failed:-0}" != "0" ]; then log "$target: $failed failed transactions"; echo "0 0"; return 0; fi
  echo "$(echo "$out" | awk '/^tps = / {print $3}') $(echo "$out" | awk '/^latency average/ {print $4}')"
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

main() {
  ensure_tools
  start_postgres
  start_tenantgate
  start_pgbouncer
  declare -A tps lat
  local cpu_before cpu_after
  for case in $CASES; do
    local workload=${case%%:*} mode=${case##*:}
    for round in $(seq 1 "$ROUNDS"); do
        for target in direct tenantgate pgbouncer; do
          cpu_before=$(awk '{print $14 + $15}' "/proc/$TG_PID/stat")
          read -r t l < <(run "$target" "$workload" "$mode")
          cpu_after=$(awk '{print $14 + $15}' "/proc/$TG_PID/stat")
          tps[$workload,$mode,$target]+="$t "
          lat[$workload,$mode,$target]+="$l "
          if [ "$target" = tenantgate ]; then
            cpu[$workload,$mode]+="$(awk -v c=$((cpu_after - cpu_before)) -v t="$t" -v d="$DURATION" -v hz="$(getconf CLK_TCK)" \
              'BEGIN {printf "%.1f", (c / hz) / (t * d) * 1e6}') "
          fi
          log "$workload $mode round $round $target: $t tps, $l ms"
        done
    done
  done

  echo
  echo "pgbench: $CLIENTS clients, $THREADS threads, ${DURATION}s x $ROUNDS rounds (median), scale $SCALE, pool $POOL_SIZE"
  echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); $(psql --version | head -1); $("$PGBOUNCER" --version 2>/dev/null | head -1)"
  echo
  echo "| workload | mode | direct tps | tenantgate tps | pgbouncer tps | tenantgate/direct | tenantgate/pgbouncer | latency ms (direct / tenantgate / pgbouncer) | tenantgate CPU µs/tx |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for case in $CASES; do
      local workload=${case%%:*} mode=${case##*:} d g b dl gl bl c
      d=$(echo "${tps[$workload,$mode,direct]}" | tr ' ' '\n' | grep . | median)
      g=$(echo "${tps[$workload,$mode,tenantgate]}" | tr ' ' '\n' | grep . | median)
      b=$(echo "${tps[$workload,$mode,pgbouncer]}" | tr ' ' '\n' | grep . | median)
      dl=$(echo "${lat[$workload,$mode,direct]}" | tr ' ' '\n' | grep . | median)
      gl=$(echo "${lat[$workload,$mode,tenantgate]}" | tr ' ' '\n' | grep . | median)
      bl=$(echo "${lat[$workload,$mode,pgbouncer]}" | tr ' ' '\n' | grep . | median)
      c=$(echo "${cpu[$workload,$mode]}" | tr ' ' '\n' | grep . | median)
      awk -v w="$workload" -v m="$mode" -v d="$d" -v g="$g" -v b="$b" -v dl="$dl" -v gl="$gl" -v bl="$bl" -v c="$c" \
        'function ratio(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "n/a" }
         function tps(x) { return x > 0 ? sprintf("%.0f", x) : "fails" }
         BEGIN {printf "| %s | %s | %s | %s | %s | %s | %s | %s / %s / %s | %s |\n", w, m, tps(d), tps(g), tps(b), ratio(g, d), ratio(g, b), dl, gl, bl, c}'
  done
}

declare -A cpu
main "$@"
