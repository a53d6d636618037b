#!/usr/bin/env bash
# Row isolation's cost: pgbench through tenantgate as a row tenant (every statement rewritten
# to filter on the tenant column) against the same workload as a schema tenant (no rewriting),
# in alternating rounds, and prints TPS and the ratio.
#
#   bash benches/rows.sh
#   CLIENTS=16 DURATION=10 ROUNDS=3 SCALE=10 MODES="simple prepared" bash benches/rows.sh
#   TENANT_INDEX=tenant_id bash benches/rows.sh
#
# The row tenant's pgbench tables carry a tenant_id column and rows of a second tenant, so
# the filter has work to do; the schema tenant's tables are plain pgbench tables.
set -euo pipefail
source "$(dirname "$0")/common.sh"

CLIENTS=${CLIENTS:-16}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
SCALE=${SCALE:-10}
POOL_SIZE=${POOL_SIZE:-16}
MODES=${MODES:-"simple extended prepared"}
WORKLOADS=${WORKLOADS:-"select-only tpcb"}
# Index on the shared tables' tenant column: "none" (pgbench's primary keys only, the same
# indexes the schema tenant has) or "tenant_id" (an index of its own). Postgres plans every
# statement around each index it could use, so an index the statement does not need costs
# planning time (see README).
TENANT_INDEX=${TENANT_INDEX:-none}

pgbench_init() {
  local db=$1
  PGPASSWORD=benchpw pgbench -q -i -s "$SCALE" -h 127.0.0.1 -p "$PG_PORT" -U tenantgate "$db" >/dev/null 2>&1
}

setup_databases() {
  PGPASSWORD=postgres psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -c "CREATE DATABASE schemas OWNER tenantgate" -c "CREATE DATABASE rows OWNER tenantgate"
  log "pgbench -i -s $SCALE in schema t1 of database schemas"
  psql_as_owner schemas -c "CREATE SCHEMA t1"
  PGOPTIONS="-c search_path=t1" pgbench_init schemas
  log "pgbench -i -s $SCALE in database rows, with a tenant column and a second tenant"
  pgbench_init rows
  psql_as_owner rows <<'SQL'
ALTER TABLE pgbench_accounts ADD COLUMN tenant_id text NOT NULL DEFAULT 't1';
ALTER TABLE pgbench_branches ADD COLUMN tenant_id text NOT NULL DEFAULT 't1';
ALTER TABLE pgbench_tellers ADD COLUMN tenant_id text NOT NULL DEFAULT 't1';
ALTER TABLE pgbench_history ADD COLUMN tenant_id text NOT NULL DEFAULT 't1';
-- Tenant t2's rows live in the same tables under other keys.
INSERT INTO pgbench_accounts (aid, bid, abalance, filler, tenant_id)
  SELECT aid + 100000000, bid, 0, filler, 't2' FROM pgbench_accounts;
VACUUM ANALYZE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history;
SQL
  if [ "$TENANT_INDEX" = tenant_id ]; then
    psql_as_owner rows -c "CREATE INDEX ON pgbench_accounts (tenant_id)"
  fi
}

start_tenantgate() {
  TG_PORT=$(free_port)
  {
    proxy_config
    cat <<CONF

[[tenants]]
id = "t1"
isolation = "schema"
cluster = "main"
database = "schemas"

[[tenants]]
id = "r1"
key = "t1"
isolation = "row"
cluster = "main"
database = "rows"

[[users]]
name = "schema_app"
password = "benchpw"
tenant = "t1"

[[users]]
name = "row_app"
password = "benchpw"
tenant = "r1"

[row]
tenant_column = "tenant_id"
enforcement = "rewrite"
CONF
  } >"$work/tenantgate.toml"
  start_tenantgate_with "$work/tenantgate.toml"
}

# run USER DATABASE WORKLOAD MODE -> tps
run() {
  local user=$1 db=$2 workload=$3 mode=$4 args=() tps latency
  [ "$workload" = select-only ] && args+=(-S)
  read -r tps latency _ < <(pgbench_run "$TG_PORT" "$user" "$db" "$mode" "${args[@]}")
  echo "$tps"
}

main() {
  build_tenantgate
  start_postgres
  setup_databases
  start_tenantgate
  declare -A tps
  for workload in $WORKLOADS; do
    for mode in $MODES; do
      for round in $(seq 1 "$ROUNDS"); do
        for target in schema row; do
          local t
          if [ $target = schema ]; then t=$(run schema_app schemas "$workload" "$mode"); else t=$(run row_app rows "$workload" "$mode"); fi
          tps[$workload,$mode,$target]+="$t "
          log "$workload $mode round $round $target tenant: $t tps"
        done
      done
    done
  done
  local leaked
  leaked=$(psql_as_owner rows -At -c "SELECT count(*) FROM pgbench_history WHERE tenant_id <> 't1'")
  echo
  echo "pgbench through tenantgate: $CLIENTS clients, $THREADS threads, ${DURATION}s x $ROUNDS rounds (median), scale $SCALE, pool $POOL_SIZE"
  echo "index on the tenant column: $TENANT_INDEX; history rows written under another tenant's key: $leaked"
  echo
  echo "| workload | mode | schema tenant tps | row tenant tps (rewrite) | row/schema |"
  echo "|---|---|---|---|---|"
  for workload in $WORKLOADS; do
    for mode in $MODES; do
      local s r
      s=$(echo "${tps[$workload,$mode,schema]}" | tr ' ' '\n' | grep . | median)
      r=$(echo "${tps[$workload,$mode,row]}" | tr ' ' '\n' | grep . | median)
      awk -v w="$workload" -v m="$mode" -v s="$s" -v r="$r" \
        'BEGIN {printf "| %s | %s | %.0f | %.0f | %s |\n", w, m, s, r, (s > 0 ? sprintf("%.2f", r / s) : "n/a")}'
    done
  done
}

main "$@"
