#!/usr/bin/env bash
# Compares pgbench through direct PostgreSQL, tenantgate and PgBouncer (transaction pooling),
# in alternating rounds on this machine, and prints TPS, latency and ratios.
#
#   bash benches/pgbench.sh                  # defaults below
#   CLIENTS=16 DURATION=10 ROUNDS=3 SCALE=10 POOL_SIZE=16 bash benches/pgbench.sh
#   CASES="select-only:prepared connect:simple" bash benches/pgbench.sh
#   BACKEND=unix bash benches/pgbench.sh     # proxies reach Postgres by its socket
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

source "$(dirname "$0")/common.sh"

ensure_tools() {
  build_tenantgate
  if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
    log "installing pgbouncer"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  fi
  PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
}

init_bench_database() {
  PGPASSWORD=postgres psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -c "CREATE DATABASE bench OWNER tenantgate"
  log "pgbench -i -s $SCALE"
  PGPASSWORD=benchpw pgbench -q -i -s "$SCALE" -h 127.0.0.1 -p "$PG_PORT" -U tenantgate bench >/dev/null 2>&1
}

start_tenantgate() {
  TG_PORT=$(free_port)
  {
    proxy_config
    cat <<EOF

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
  } >"$work/tenantgate.toml"
  start_tenantgate_with "$work/tenantgate.toml"
}

start_pgbouncer() {
  BOUNCER_PORT=$(free_port)
  echo '"tenantgate" "benchpw"' >"$work/userlist.txt"
  cat >"$work/pgbouncer.ini" <<EOF
[databases]
bench = host=$(backend_host) port=$PG_PORT dbname=bench

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
pidfile = $work/pgbouncer.pid
EOF
  chown postgres "$work"/pgbouncer.ini "$work"/userlist.txt 2>/dev/null || true
  as_service_user "$PGBOUNCER" "$work/pgbouncer.ini" >/dev/null 2>&1 &
  pids+=($!)
  wait_for_port "$BOUNCER_PORT"
  # Stopping runuser does not stop pgbouncer: its own PID goes on the list too.
  pids+=("$(cat "$work/pgbouncer.pid")")
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
  pgbench_run "$port" "$user" bench "$mode" "${args[@]}"
}

main() {
  ensure_tools
  start_postgres
  init_bench_database
  start_tenantgate
  start_pgbouncer
  declare -A tps lat client
  local cpu_before cpu_after
  for case in $CASES; do
    local workload=${case%%:*} mode=${case##*:}
    for round in $(seq 1 "$ROUNDS"); do
        for target in direct tenantgate pgbouncer; do
          cpu_before=$(awk '{print $14 + $15}' "/proc/$TG_PID/stat")
          read -r t l k < <(run "$target" "$workload" "$mode")
          cpu_after=$(awk '{print $14 + $15}' "/proc/$TG_PID/stat")
          tps[$workload,$mode,$target]+="$t "
          lat[$workload,$mode,$target]+="$l "
          client[$workload,$mode,$target]+="$k "
          if [ "$target" = tenantgate ]; then
            cpu[$workload,$mode]+="$(awk -v c=$((cpu_after - cpu_before)) -v t="$t" -v d="$DURATION" -v hz="$(getconf CLK_TCK)" \
              'BEGIN {printf "%.1f", (c / hz) / (t * d) * 1e6}') "
          fi
          log "$workload $mode round $round $target: $t tps, $l ms"
        done
    done
  done

  echo
  echo "pgbench: $CLIENTS clients, $THREADS threads, ${DURATION}s x $ROUNDS rounds (median), scale $SCALE, pool $POOL_SIZE, proxies reach Postgres by ${BACKEND:-tcp}"
  echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); $(psql --version | head -1); $("$PGBOUNCER" --version 2>/dev/null | head -1)"
  echo
  echo "| workload | mode | direct tps | tenantgate tps | pgbouncer tps | tenantgate/direct | tenantgate/pgbouncer | latency ms (direct / tenantgate / pgbouncer) | tenantgate CPU µs/tx | pgbench CPU µs/tx (direct / tenantgate / pgbouncer) |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for case in $CASES; do
      local workload=${case%%:*} mode=${case##*:} d g b dl gl bl c dk gk bk
      d=$(echo "${tps[$workload,$mode,direct]}" | tr ' ' '\n' | grep . | median)
      g=$(echo "${tps[$workload,$mode,tenantgate]}" | tr ' ' '\n' | grep . | median)
      b=$(echo "${tps[$workload,$mode,pgbouncer]}" | tr ' ' '\n' | grep . | median)
      dl=$(echo "${lat[$workload,$mode,direct]}" | tr ' ' '\n' | grep . | median)
      gl=$(echo "${lat[$workload,$mode,tenantgate]}" | tr ' ' '\n' | grep . | median)
      bl=$(echo "${lat[$workload,$mode,pgbouncer]}" | tr ' ' '\n' | grep . | median)
      c=$(echo "${cpu[$workload,$mode]}" | tr ' ' '\n' | grep . | median)
      dk=$(echo "${client[$workload,$mode,direct]}" | tr ' ' '\n' | grep . | median)
      gk=$(echo "${client[$workload,$mode,tenantgate]}" | tr ' ' '\n' | grep . | median)
      bk=$(echo "${client[$workload,$mode,pgbouncer]}" | tr ' ' '\n' | grep . | median)
      awk -v w="$workload" -v m="$mode" -v d="$d" -v g="$g" -v b="$b" -v dl="$dl" -v gl="$gl" -v bl="$bl" -v c="$c" -v dk="$dk" -v gk="$gk" -v bk="$bk" \
        'function ratio(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "n/a" }
         function tps(x) { return x > 0 ? sprintf("%.0f", x) : "fails" }
         BEGIN {printf "| %s | %s | %s | %s | %s | %s | %s | %s / %s / %s | %s | %s / %s / %s |\n", w, m, tps(d), tps(g), tps(b), ratio(g, d), ratio(g, b), dl, gl, bl, c, dk, gk, bk}'
  done
}

declare -A cpu
main "$@"
