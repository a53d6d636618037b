// node-postgres through tenantgate, as an unmodified app uses it: a client pool, named
// prepared statements, transactions, typed parameters, a startup statement_timeout, and
// refusals; for a schema tenant and a row tenant on a proxy pool of one connection.
'use strict';
const assert = require('node:assert/strict');
const { Pool } = require('pg');

async function expectError(client, sql, code) {
  try {
    await client.query(sql);
  } catch (e) {
    assert.equal(e.code, code, `${sql}: ${e.message}`);
    return;
  }
  assert.fail(`${sql} should fail with ${code}`);
}

async function tenant(url, expectedOrders) {
  const pool = new Pool({ connectionString: url, max: 4 });
  try {
    // Named statements, prepared by pg once per client, shared by clients that interleave.
    const counts = await Promise.all(
      Array.from({ length: 12 }, () =>
        pool.query({ name: 'orders-above', text: 'SELECT count(*)::int AS n FROM orders WHERE id > $1', values: [0] }),
      ),
    );
    for (const r of counts) assert.equal(r.rows[0].n, expectedOrders);

    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('INSERT INTO orders (id, item, amount) VALUES ($1, $2, $3)', [9001, 'node', 1.5]);
      const inside = await client.query('SELECT count(*)::int AS n FROM orders');
      assert.equal(inside.rows[0].n, expectedOrders + 1);
      await client.query('ROLLBACK');
      const typed = await client.query(
        'SELECT $1::jsonb AS j, $2::int[] AS a, $3::timestamptz AS t, $4::bytea AS b',
        [{ k: [1, 'x'] }, [1, 2, 3], new Date('2026-01-02T03:04:05Z'), Buffer.from([0, 255])],
      );
      assert.deepEqual(typed.rows[0].j, { k: [1, 'x'] });
      assert.deepEqual(typed.rows[0].a, [1, 2, 3]);
      assert.equal(typed.rows[0].t.toISOString(), '2026-01-02T03:04:05.000Z');
      assert.deepEqual([...typed.rows[0].b], [0, 255]);
      await expectError(client, 'SET search_path = pg_catalog', '42501');
      await expectError(client, 'SELECT * FROM no_such_table_here', url.includes('/saas') ? '42501' : '42P01');
      const after = await client.query('SELECT count(*)::int AS n FROM orders');
      assert.equal(after.rows[0].n, expectedOrders);
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
  // pg sends statement_timeout in the startup packet; it holds on every server connection.
  const timed = new Pool({ connectionString: url, max: 1, statement_timeout: 500 });
  try {
    for (let i = 0; i < 2; i++) await expectError(timed, 'SELECT pg_sleep(2)', '57014');
  } finally {
    await timed.end();
  }
}

(async () => {
  await tenant(process.env.ACME_DSN, 2);
  await tenant(process.env.HOOLI_DSN, 3);
  console.log('ok');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
