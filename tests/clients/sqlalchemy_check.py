"""Exercises tenantgate with the SQLAlchemy ORM, an application-level client that knows
nothing of tenants: its connect-time queries, its unit of work (INSERT, UPDATE, DELETE inside
transactions), over psycopg and over asyncpg.

Run by tests/python_client.rs with ACME_DSN, GLOBEX_DSN and HOOLI_DSN pointing at the proxy.
The row tenant's model has no tenant column at all: the proxy fills it in. Prints "ok" and
exits 0 when everything behaves as on PostgreSQL itself.
"""

import asyncio
import decimal

from sqlalchemy import Numeric, create_engine, func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from common import ACME, GLOBEX, HOOLI, check


def url(dsn, driver):
    return dsn.replace("postgresql://", f"postgresql+{driver}://", 1)


class Base(DeclarativeBase):
    pass


class Order(Base):
    """The application's view of `orders`, the same for every tenant."""

    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    item: Mapped[str]
    amount: Mapped[decimal.Decimal] = mapped_column(Numeric)


def unit_of_work(dsn, own_rows):
    engine = create_engine(url(dsn, "psycopg"), pool_size=2)
    try:
        with Session(engine) as session:
            orders = session.scalars(select(Order).order_by(Order.id)).all()
            check(len(orders) == own_rows, f"{own_rows} own rows, got {len(orders)}")
            session.add(Order(id=7000, item="orm", amount=decimal.Decimal("1.50")))
            session.commit()
            order = session.get(Order, 7000)
            order.amount += 1
            session.commit()
            amount = session.scalar(select(Order.amount).where(Order.id == 7000))
            check(amount == decimal.Decimal("2.50"), f"updated amount, got {amount}")
            # Flushed to the server inside the transaction, then rolled back.
            session.delete(order)
            session.add(Order(id=7001, item="rolled back", amount=1))
            session.flush()
            session.rollback()
            n = session.scalar(select(func.count()).select_from(Order))
            check(n == own_rows + 1, f"the rollback kept the committed row only, got {n}")
            session.delete(session.get(Order, 7000))
            session.commit()
            n = session.scalar(select(func.count()).select_from(Order))
            check(n == own_rows, f"back to {own_rows} rows, got {n}")
    finally:
        engine.dispose()


def row_tenant_without_a_tenant_column():
    unit_of_work(HOOLI, 3)
    engine = create_engine(url(HOOLI, "psycopg"))
    try:
        with Session(engine) as session:
            session.add(Order(id=7002, item="filled in", amount=1))
            session.commit()
            tenant = session.scalar(text("SELECT tenant_id FROM orders WHERE id = 7002"))
            check(tenant == "hooli", f"the proxy filled in the tenant column, got {tenant}")
            session.delete(session.get(Order, 7002))
            session.commit()
    finally:
        engine.dispose()


async def async_engines():
    acme = create_async_engine(url(ACME, "asyncpg"))
    globex = create_async_engine(url(GLOBEX, "asyncpg"))
    try:

        async def count(engine):
            async with engine.connect() as conn:
                return await conn.scalar(select(func.count()).select_from(Order))

        for _ in range(3):
            a, g = await asyncio.gather(count(acme), count(globex))
            check((a, g) == (2, 4), f"acme 2 and globex 4 rows, got {a} and {g}")
    finally:
        await acme.dispose()
        await globex.dispose()


unit_of_work(ACME, 2)
unit_of_work(GLOBEX, 4)
row_tenant_without_a_tenant_column()
asyncio.run(async_engines())
print("ok")
