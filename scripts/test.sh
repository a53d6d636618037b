#!/usr/bin/env bash
# Runs every check and test of tenantgate: formatting, lints, unit and integration tests
# (which start their own PostgreSQL clusters on free loopback ports).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
# psycopg (from PyPI) drives one integration test from another client language.
python3 -c 'import psycopg' 2>/dev/null || python3 -m pip install -q 'psycopg[binary]>=3.1'
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
