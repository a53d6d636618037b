#!/usr/bin/env bash
# Runs every check and test of tenantgate: formatting, lints, unit and integration tests
# (which start their own PostgreSQL clusters on free loopback ports).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-postgres.sh
# psycopg, asyncpg and the SQLAlchemy ORM (from PyPI) drive integration tests from another
# client language.
python3 -c 'import psycopg' 2>/dev/null || python3 -m pip install -q 'psycopg[binary]>=3.1'
python3 -c 'import asyncpg' 2>/dev/null || python3 -m pip install -q 'asyncpg>=0.29'
python3 -c 'import sqlalchemy, greenlet' 2>/dev/null || python3 -m pip install -q 'sqlalchemy[asyncio]>=2.0'
# pgjdbc (Debian's package) drives the Java test; the JDK runs its source file directly.
if [ ! -f /usr/share/java/postgresql.jar ] || ! command -v javac >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    default-jdk-headless libpostgresql-jdbc-java >/dev/null
fi
# node-postgres (from the npm registry) drives another.
if ! command -v npm >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
[ -d tests/clients/node/node_modules/pg ] || npm ci --prefix tests/clients/node --no-audit --no-fund --silent
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
