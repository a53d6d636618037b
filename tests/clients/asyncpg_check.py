"""Exercises tenantgate with asyncpg, whose statement cache names a server-side prepared
statement for every query and reuses it by name: with a transaction pooler that hands the
next transaction another server connection, that is where drivers break.

Run by tests/python_client.rs with ACME_DSN, GLOBEX_DSN and HOOLI_DSN pointing at the proxy (a
pool of one server connection for all tenants of a database). Prints "ok" and exits 0 when
everything behaves as on PostgreSQL itself.
"""

import asyncio
import datetime
import decimal
import time
import uuid

import asyncpg

from common import ACME, GLOBEX, HOOLI, check


async def cached_statements():
    a = await asyncpg.connect(ACME)
    g = await asyncpg.connect(GLOBEX)
    try:
        # Each fetch reuses the cached named statement, on whichever server connection the
        # transaction gets; the other tenant's turn in between resets that connection.
        for _ in range(3):
            n = await a.fetchval("SELECT count(*) FROM orders WHERE id > $1", 0)
            check(n == 2, f"acme sees 2 rows, got {n}")
            n = await g.fetchval("SELECT count(*) FROM orders WHERE id > $1", 0)
            check(n == 4, f"globex sees 4 rows, got {n}")
        stmt = await a.prepare("SELECT id, item FROM orders WHERE id >= $1 ORDER BY id")
        for _ in range(2):
            rows = await stmt.fetch(1)
            check([r["id"] for r in rows] == [1, 2], f"explicit statement: {rows}")
            await g.fetchval("SELECT 1")
    finally:
        await a.close()
        await g.close()


async def binary_types():
    a = await asyncpg.connect(ACME)
    try:
        u = uuid.uuid4()
        when = datetime.datetime(2026, 11, 23, 12, 30, tzinfo=datetime.timezone.utc)
        row = await a.fetchrow(
            "SELECT $1::uuid AS u, $2::timestamptz AS t, $3::numeric AS n, $4::int[] AS a, "
            "$5::jsonb AS j, $6::bytea AS b",
            u, when, decimal.Decimal("12.345"), [1, 2, 3], '{"k": [1, 2]}', b"\x00\xff",
        )
        check(row["u"] == u and row["t"] == when, f"uuid and timestamptz: {row}")
        check(row["n"] == decimal.Decimal("12.345") and row["a"] == [1, 2, 3], f"{row}")
        check(row["j"] == '{"k": [1, 2]}' and row["b"] == b"\x00\xff", f"{row}")
    finally:
        await a.close()


async def transactions_executemany_and_copy():
    a = await asyncpg.connect(ACME)
    try:
        async with a.transaction():
            # Bind/Execute for every argument set, pipelined before one Sync.
            await a.executemany(
                "INSERT INTO orders (id, item, amount) VALUES ($1, $2, $3)",
                [(500 + i, f"many {i}", i) for i in range(20)],
            )
            await a.copy_records_to_table(
                "orders",
                records=[(600 + i, f"copied {i}", i) for i in range(100)],
                columns=["id", "item", "amount"],
            )
        n = await a.fetchval("SELECT count(*) FROM orders")
        check(n == 122, f"after executemany and binary COPY, 122 rows, got {n}")
        try:
            async with a.transaction():
                await a.execute("INSERT INTO orders (id, item, amount) VALUES (900, 'x', 1)")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        n = await a.fetchval("SELECT count(*) FROM orders WHERE id = 900")
        check(n == 0, "a rolled-back insert is gone")
        out = []
        await a.copy_from_query(
            "SELECT id FROM orders ORDER BY id", output=lambda chunk: _collect(out, chunk)
        )
        check(b"".join(out).count(b"\n") == 122, "COPY TO returns every row")
        await a.execute("DELETE FROM orders WHERE id >= 500")
    finally:
        await a.close()


async def _collect(out, chunk):
    out.append(bytes(chunk))


async def cancel_on_timeout():
    a = await asyncpg.connect(ACME)
    try:
        started = time.monotonic()
        try:
            await a.fetch("SELECT pg_sleep(5)", timeout=0.3)
            raise AssertionError("the query was not cancelled")
        except asyncio.TimeoutError:
            pass
        check(time.monotonic() - started < 4, "the timeout took effect quickly")
        n = await a.fetchval("SELECT count(*) FROM orders")
        check(n == 2, f"the session goes on after a cancel, got {n}")
    finally:
        await a.close()


async def row_tenant_and_refusals():
    h = await asyncpg.connect(HOOLI)
    a = await asyncpg.connect(ACME)
    try:
        for _ in range(3):
            n = await h.fetchval("SELECT count(*) FROM orders WHERE id > $1", 0)
            check(n == 3, f"hooli sees its 3 rows, got {n}")
        try:
            await a.fetch("SELECT * FROM globex.orders")
            raise AssertionError("another tenant's schema was readable")
        except asyncpg.exceptions.InsufficientPrivilegeError:
            pass
        check(await a.fetchval("SELECT count(*) FROM orders") == 2, "usable after a refusal")
    finally:
        await h.close()
        await a.close()


async def pool_resets():
    # asyncpg's pool resets a connection on release with pg_advisory_unlock_all(), CLOSE ALL,
    # UNLISTEN * and RESET ALL: settings go back to login values, the tenant stays confined.
    for dsn, own in ((ACME, 2), (HOOLI, 3)):
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
        try:
            default = None
            for i in range(3):
                async with pool.acquire() as c:
                    if default is None:
                        default = await c.fetchval("SHOW lock_timeout")
                    check(await c.fetchval("SHOW lock_timeout") == default, "reset on release")
                    await c.execute("SET lock_timeout = '4s'")
                    n = await c.fetchval("SELECT count(*) FROM orders WHERE id > $1", 0)
                    check(n == own, f"{own} own rows after {i} resets, got {n}")
        finally:
            await pool.close()


async def startup_settings():
    # asyncpg sends server_settings as startup parameters: ones that confine the session are
    # refused, unless they hold what the proxy pins anyway.
    for settings in ({"search_path": "globex"}, {"role": "postgres"}):
        try:
            c = await asyncpg.connect(ACME, server_settings=settings)
        except asyncpg.InsufficientPrivilegeError:
            continue
        n = await c.fetchval("SELECT count(*) FROM orders")
        await c.close()
        raise AssertionError(f"{settings} was accepted; acme then saw {n} orders")
    a = await asyncpg.connect(ACME, server_settings={"search_path": "acme"})
    try:
        n = await a.fetchval("SELECT count(*) FROM orders")
        check(n == 2, f"with its own search_path acme sees 2 rows, got {n}")
    finally:
        await a.close()
    # The next client of the connection still gets its own context.
    g = await asyncpg.connect(GLOBEX)
    try:
        n = await g.fetchval("SELECT count(*) FROM orders")
        check(n == 4, f"globex sees 4 rows, got {n}")
    finally:
        await g.close()


async def main():
    for step in (
        pool_resets,
        cached_statements,
        binary_types,
        transactions_executemany_and_copy,
        cancel_on_timeout,
        row_tenant_and_refusals,
        startup_settings,
    ):
        await step()
    print("ok")


asyncio.run(main())
