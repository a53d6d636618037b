"""Exercises tenantgate with psycopg 3, a client in another language than the proxy's tests.

Run by tests/python_client.rs with ACME_DSN, GLOBEX_DSN and HOOLI_DSN pointing at the proxy. Prints
"ok" and exits 0 when everything behaves as on PostgreSQL itself.
"""

import threading
import time

import psycopg

from common import ACME, GLOBEX, HOOLI, check


def prepared_and_binary():
    # prepare_threshold=0: every statement becomes a named, server-side prepared statement.
    # autocommit: an open transaction would hold the tenant's only server connection.
    options = dict(prepare_threshold=0, autocommit=True)
    with psycopg.connect(ACME, **options) as a, psycopg.connect(GLOBEX, **options) as g:
        for _ in range(3):
            (n,) = a.execute("SELECT count(*) FROM orders WHERE id > %s", (0,)).fetchone()
            check(n == 2, f"acme sees 2 rows, got {n}")
            (n,) = g.execute("SELECT count(*) FROM orders WHERE id > %s", (0,)).fetchone()
            check(n == 4, f"globex sees 4 rows, got {n}")
        with a.cursor(binary=True) as cur:
            cur.execute("SELECT id, item, amount FROM orders ORDER BY id")
            rows = cur.fetchall()
            check(rows[0][0] == 1 and rows[0][1] == "acme item 1", f"binary rows: {rows}")
        # Past prepared_max psycopg releases its oldest statements with SQL DEALLOCATE.
        a.prepared_max = 2
        for _ in range(2):
            for k in range(5):
                (n,) = a.execute(f"SELECT count(*) + {k} FROM orders WHERE id > %s", (1,)).fetchone()
                check(n == 1 + k, f"statement {k}: got {n}")


def row_tenant_prepared():
    # psycopg prepares with libpq's PQsendPrepare (a Parse and a Sync alone), which the proxy
    # answers without a backend: the statement it keeps must be the row tenant's rewrite.
    with psycopg.connect(HOOLI, prepare_threshold=0, autocommit=True) as h:
        for _ in range(3):
            (n,) = h.execute("SELECT count(*) FROM orders WHERE id > %s", (0,)).fetchone()
            check(n == 3, f"hooli sees its 3 rows, got {n}")


def transactions_and_copy():
    with psycopg.connect(ACME) as a:
        with a.transaction():
            a.execute("INSERT INTO orders VALUES (%s, %s, %s)", (500, "py", 1))
            with a.cursor().copy("COPY orders (id, item, amount) FROM STDIN") as copy:
                for i in range(600, 700):
                    copy.write_row((i, f"copied {i}", i))
        (n,) = a.execute("SELECT count(*) FROM orders").fetchone()
        check(n == 103, f"after insert and copy, 103 rows, got {n}")
        out = bytearray()
        with a.cursor().copy("COPY orders TO STDOUT") as copy:
            for chunk in copy:
                out += chunk
        check(out.count(b"\n") == 103, "COPY TO STDOUT returns every row")
        a.execute("DELETE FROM orders WHERE id >= 500")
        a.commit()


def pipeline():
    with psycopg.connect(ACME, autocommit=True) as a:
        with a.pipeline():
            cursors = [a.execute("SELECT %s::int + 1", (i,)) for i in range(20)]
        values = [c.fetchone()[0] for c in cursors]
        check(values == list(range(1, 21)), f"pipelined results in order: {values}")


def cancel():
    with psycopg.connect(ACME, autocommit=True) as a:
        threading.Timer(0.3, a.cancel).start()
        started = time.monotonic()
        try:
            a.execute("SELECT pg_sleep(5)")
            raise AssertionError("the query was not cancelled")
        except psycopg.errors.QueryCanceled:
            pass
        check(time.monotonic() - started < 4, "cancel took effect quickly")
        (n,) = a.execute("SELECT count(*) FROM orders").fetchone()
        check(n == 2, "the session goes on after a cancel")


def refusals():
    with psycopg.connect(ACME, autocommit=True) as a:
        try:
            a.execute("SELECT * FROM globex.orders")
            raise AssertionError("another tenant's schema was readable")
        except psycopg.errors.InsufficientPrivilege:
            pass


for step in (
    prepared_and_binary,
    row_tenant_prepared,
    transactions_and_copy,
    pipeline,
    cancel,
    refusals,
):
    step()
print("ok")
