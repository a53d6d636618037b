#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, postgres, psql, pgbench) are installed.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v psql >/dev/null && command -v pgbench >/dev/null; then
  exit 0
fi
if [ -n "${TENANTGATE_PG_BIN:-}" ] && [ -x "$TENANTGATE_PG_BIN/initdb" ]; then
  exit 0
fi
echo "PostgreSQL binaries not found; installing them with apt-get" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-contrib >/dev/null
