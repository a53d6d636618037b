#!/usr/bin/env bash
# Runs every check and test of tenantgate: formatting, lints, unit and integration tests
# (which start their own PostgreSQL clusters on free loopback ports).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
