# Helpers the benchmark scripts share: a throwaway PostgreSQL on loopback, ports, cleanup.
# Source it; it sets `root`, `work` and an EXIT trap that stops every PID in `pids`.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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

wait_for_port() {
  local port=$1 i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "nothing listens on $port"; return 1
}

build_tenantgate() {
  bash "$root/scripts/ensure-postgres.sh"
  log "building tenantgate (release)"
  (cd "$root" && cargo build --release --quiet)
}

# A cluster with role tenantgate (password benchpw); sets PG_PORT.
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
  # Stopping runuser does not stop the postmaster: its own PID goes on the list too.
  pids+=("$(head -n 1 "$work/data/postmaster.pid")")
  sleep 0.5
  PGPASSWORD=postgres psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -c "CREATE ROLE tenantgate LOGIN PASSWORD 'benchpw'"
}

# psql as tenantgate on database $1, with the remaining arguments.
psql_as_owner() {
  local db=$1; shift
  PGPASSWORD=benchpw psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U tenantgate -d "$db" "$@"
}

# Where the proxies reach Postgres: BACKEND=tcp (loopback, the default) or BACKEND=unix (its
# socket directory, as a proxy on the database machine would).
backend_host() {
  case ${BACKEND:-tcp} in
    tcp) echo 127.0.0.1 ;;
    unix) echo "$work" ;;
    *) log "BACKEND must be tcp or unix"; return 1 ;;
  esac
}

# Prints the [proxy] and [[clusters]] sections of a benchmark configuration for tenantgate on
# TG_PORT in front of the cluster on PG_PORT; the caller appends tenants and users.
proxy_config() {
  cat <<CONF
[proxy]
listen = "127.0.0.1:$TG_PORT"
pool_mode = "transaction"

[[clusters]]
name = "main"
host = "$(backend_host)"
port = $PG_PORT
user = "tenantgate"
password = "benchpw"
pool_size = $POOL_SIZE
CONF
}

# Starts tenantgate with configuration file $1; sets TG_PID.
start_tenantgate_with() {
  TENANTGATE_LOG=warn "$root/target/release/tenantgate" serve --config "$1" >"$work/tenantgate.log" 2>&1 &
  pids+=($!)
  TG_PID=$!
  wait_for_port "$TG_PORT"
}

# pgbench_run PORT USER DB MODE [ARGS...] -> "tps latency_ms client_cpu_us_per_tx"; "0 0 0"
# when a transaction failed. Call it in a subshell of its own (`< <(pgbench_run …)`): the
# client's CPU time is read from the shell's `times`, which counts every child it waited for.
pgbench_run() {
  local port=$1 user=$2 db=$3 mode=$4 out failed tps times="$work/times.$BASHPID"
  shift 4
  if ! out=$(PGPASSWORD=benchpw timeout $((DURATION + 60)) pgbench -n -h 127.0.0.1 -p "$port" -U "$user" \
    -c "$CLIENTS" -j "$THREADS" -T "$DURATION" -M "$mode" "$@" "$db" 2>&1); then
    log "pgbench as $user on port $port failed: $(echo "$out" | grep -m1 -i error)"
    echo "0 0 0"; return 0
  fi
  failed=$(echo "$out" | awk -F': ' '/number of failed transactions/ {split($2, a, " "); print a[1]}')
  if [ "${failed:-0}" != "0" ]; then log "$user: $failed failed transactions"; echo "0 0 0"; return 0; fi
  tps=$(echo "$out" | awk '/^tps = / {print $3}')
  # Not in a `$(…)` or a pipeline: those run `times` in a fresh subshell, with no children.
  times >"$times"
  echo "$tps $(echo "$out" | awk '/^latency average/ {print $4}') $(cpu_us_per_tx "$times" "$tps")"
  rm -f "$times"
}

# cpu_us_per_tx TIMES_FILE TPS: the CPU time (user + system) of the finished children in the
# output of `times`, in µs per transaction at TPS over $DURATION seconds: how much of the
# machine the load generator itself takes.
cpu_us_per_tx() {
  awk -v t="$2" -v d="$DURATION" 'NR == 2 {
    split($1, u, /[ms]/); split($2, s, /[ms]/)
    printf "%.1f", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) / (t * d) * 1e6 }' "$1"
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
