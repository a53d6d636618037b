#!/usr/bin/env bash
# Starts a throwaway local PostgreSQL with example tenants and tenantgate in front of it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
exec cargo run --release --quiet -- dev "$@"
