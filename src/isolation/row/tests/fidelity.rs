//! Round trips: what the client wrote comes through the rewrite unchanged.

use super::*;

/// Round trips: the exact text sent, and the client's literals and casts in it unchanged
/// (string forms, escapes, dollar quotes, `$n`, arrays, JSON operators); what sqlparser
/// would print with another meaning is refused instead.
#[test]
fn fidelity() {
    let cases: &[(&str, Expect)] = &[
        (
            "SELECT id::int, CAST(amount AS numeric(10,2)), item::varchar(20) FROM orders",
            Out(
                "SELECT id::INT, CAST(amount AS NUMERIC(10,2)), item::VARCHAR(20) FROM orders WHERE orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT amount::double precision, id::bigint[] FROM orders WHERE id = $1 AND item = $2::text",
            Out(
                "SELECT amount::DOUBLE PRECISION, id::BIGINT[] FROM orders WHERE (id = $1 AND item = $2::TEXT) AND orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT item::text::varchar, id::numeric::int, 1::int8, 'a'::character varying(3) FROM orders",
            Out(
                "SELECT item::TEXT::VARCHAR, id::NUMERIC::INT, 1::INT8, 'a'::CHARACTER VARYING(3) FROM orders WHERE orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT now()::timestamptz, '1'::timestamp(3) with time zone, 'a'::\"char\", 100::money FROM orders",
            Out(
                "SELECT now()::TIMESTAMPTZ, '1'::TIMESTAMP(3) WITH TIME ZONE, 'a'::\"char\", 100::money FROM orders WHERE orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT interval '1 day', date '2020-01-01' FROM orders",
            Out(
                "SELECT INTERVAL '1 day', DATE '2020-01-01' FROM orders WHERE orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT $1, $2::int, $10 FROM orders WHERE id = $3",
            Out(
                "SELECT $1, $2::INT, $10 FROM orders WHERE (id = $3) AND orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT id FROM orders WHERE item = ANY($1::text[])",
            Out(
                "SELECT id FROM orders WHERE (item = ANY($1::TEXT[])) AND orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT $$a 'quoted' $ string$$ || item FROM orders",
            Out(
                "SELECT $$a 'quoted' $ string$$ || item FROM orders WHERE orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT $tag$ it's $$ nested $tag$, $$$$, $q$$$q$ FROM orders",
            Out(
                "SELECT $tag$ it's $$ nested $tag$, $$$$, $q$$$q$ FROM orders WHERE orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT ARRAY[1,2], '{1,2}'::int[], (ARRAY[id, 2])[1] FROM orders",
            Out(
                "SELECT ARRAY[1, 2], '{1,2}'::INT[], (ARRAY[id, 2])[1] FROM orders WHERE orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT a[1], a[1:2], a[2][3] FROM (SELECT ARRAY[1,2,3] AS a FROM orders) s",
            Out(
                "SELECT a[1], a[1:2], a[2][3] FROM (SELECT ARRAY[1, 2, 3] AS a FROM orders WHERE orders.\"tenant_id\" = {kt}) s",
            ),
        ),
        (
            "SELECT CAST($1 AS int[]), '{{1,2},{3,4}}'::int[][], ARRAY[ARRAY[1,2]], ARRAY[]::int[] FROM orders",
            Out(
                "SELECT CAST($1 AS INT[]), '{{1,2},{3,4}}'::INT[][], ARRAY[ARRAY[1, 2]], ARRAY[]::INT[] FROM orders WHERE orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT id FROM orders WHERE id = ANY(ARRAY[1,2]) AND id <> ALL('{3}'::int[]) AND ARRAY[id] && ARRAY[2]",
            Out(
                "SELECT id FROM {O} AS orders WHERE id = ANY(ARRAY[1, 2]) AND id <> ALL('{3}'::INT[]) AND ARRAY[id] && ARRAY[2]",
            ),
        ),
        (
            "SELECT payload -> 'a', payload ->> 'b', payload #> '{a,b}', payload #>> '{a}' FROM events WHERE payload @> '{\"k\":1}' AND payload ? 'k'",
            Out(
                "SELECT payload -> 'a', payload ->> 'b', payload #> '{a,b}', payload #>> '{a}' FROM events WHERE (payload @> '{\"k\":1}' AND payload ? 'k') AND events.\"tenant_id\" = {ki}",
            ),
        ),
        (
            "SELECT payload ?| ARRAY['a','b'], payload ?& ARRAY['a'], payload <@ '{}'::jsonb, payload #- '{a}' FROM events",
            Out(
                "SELECT payload ?| ARRAY['a', 'b'], payload ?& ARRAY['a'], payload <@ '{}'::JSONB, payload #- '{a}' FROM events WHERE events.\"tenant_id\" = {ki}",
            ),
        ),
        (
            "SELECT (payload->>'x')::int, payload -> 0 -> 'a' FROM events WHERE payload @? '$.a' AND payload ? $1",
            Out(
                "SELECT (payload ->> 'x')::INT, payload -> 0 -> 'a' FROM {E} AS events WHERE payload @? '$.a' AND payload ? $1",
            ),
        ),
        (
            "SELECT E'line\\nbreak', E'it\\'s', E'\\\\', e'\\t' FROM orders",
            Out(
                "SELECT E'line\\nbreak', E'it\\'s', E'\\\\', E'\\t' FROM orders WHERE orders.\"tenant_id\" = {kt}",
            ),
        ),
        // Escapes are decoded and printed back escaped: same value, never a closing quote.
        (
            "SELECT E'\\x27; DELETE FROM orders; --', E'\\u0027', E'\\047', E'a''b' FROM orders",
            Out(
                "SELECT E'\\'; DELETE FROM orders; --', E'\\'', E'\\'', E'a\\'b' FROM orders WHERE orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT E'\\x41', E'\\u00e9', E'a\\zb' FROM orders",
            Out("SELECT E'A', E'é', E'azb' FROM orders WHERE orders.\"tenant_id\" = {kt}"),
        ),
        // The guard refuses U& strings in a client's text, and the rewriter in its output.
        (
            "SELECT U&'\\0041', U&'\\0027' FROM orders",
            Refused("Unicode-escaped (U&) strings"),
        ),
        (
            "SELECT 'it''s', 'a\\b', 'two\nlines', N'abc', B'101' FROM orders",
            Out(
                "SELECT 'it''s', 'a\\b', 'two\nlines', N'abc', B'101' FROM orders WHERE orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "SELECT 1e3, .5, 1.5e-3, 1_000 FROM orders",
            Out("SELECT 1e3, .5, 1.5e-3, 1_000 FROM orders WHERE orders.\"tenant_id\" = {kt}"),
        ),
        (
            "SELECT \"Weird \"\"Name\"\"\", item ~* 'x', item LIKE 'a%' ESCAPE '\\' FROM orders -- c",
            Out(
                "SELECT \"Weird \"\"Name\"\"\", item ~* 'x', item LIKE 'a%' ESCAPE '\\' FROM orders WHERE orders.\"tenant_id\" = {kt}",
            ),
        ),
        (
            "INSERT INTO events (id, payload) VALUES ($1, $2::jsonb || '{\"a\": [1, 2]}') RETURNING payload->'a'",
            Out(
                "INSERT INTO events (id, payload, \"tenant_id\") VALUES ($1, $2::JSONB || '{\"a\": [1, 2]}', {ki}) RETURNING payload -> 'a'",
            ),
        ),
        (
            "UPDATE events SET payload = payload || $$ {\"x\": \"it's\"} $$::jsonb WHERE id = $1::int",
            Out(
                "UPDATE events SET payload = payload || $$ {\"x\": \"it's\"} $$::JSONB WHERE (id = $1::INT) AND events.\"tenant_id\" = {ki}",
            ),
        ),
        // Printed with another meaning, so refused.
        ("SELECT X'1F' FROM orders", Refused("a hexadecimal literal")),
        ("SELECT 0x1F FROM orders", Refused("a hexadecimal literal")),
        (
            "SELECT 'a' 'b' FROM orders",
            Refused("adjacent string literals"),
        ),
        (
            "SELECT 'a' -- c\n'b' FROM orders",
            Refused("adjacent string literals"),
        ),
        (
            "SELECT 1abc FROM orders",
            Refused("a number literal with a prefix or suffix"),
        ),
        (
            "SELECT 0b101 FROM orders",
            Refused("a number literal with a prefix or suffix"),
        ),
        (
            "SELECT 0o17 FROM orders",
            Refused("a number literal with a prefix or suffix"),
        ),
        (
            "SELECT U&\"d\\0061t\" FROM orders",
            Refused("a U&\"...\" identifier"),
        ),
        (
            "SELECT - -1 FROM orders",
            Refused("would not read back the same"),
        ),
        // Unchanged statements are forwarded as written, whatever sqlparser would print.
        ("SELECT X'1F', 'a' 'b', - -1 FROM countries", Same),
    ];
    check("fidelity", cases);
    let mut failures = Vec::new();
    for (sql, expect) in cases {
        let Out(out) = expect else { continue };
        let (before, after) = (literals(sql), literals(&expand(out)));
        match beyond(&before.values, &after.values) {
            Some(added) if added.iter().all(|l| added_literal_allowed(l)) => {}
            other => failures.push(format!("{sql}: literals {:?} → {other:?}", before.values)),
        }
        if beyond(&before.types, &after.types).is_none() {
            failures.push(format!(
                "{sql}: casts {:?} → {:?}",
                before.types, after.types
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
