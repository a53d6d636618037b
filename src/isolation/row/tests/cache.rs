//! The rewrite cache: hits, bounds, shapes and reloads.

use super::*;

#[test]
fn cache() {
    let c = catalog();
    let cache = Cache::new(100);
    let sql = "SELECT * FROM orders WHERE id = $1";
    let first = cache.remembered(&c, sql);
    assert_eq!(cache.len(), 1);
    let second = cache.remembered(&c, sql);
    assert_eq!(cache.len(), 1);
    assert_eq!(
        first,
        rewrite(&c, sql),
        "the cache gives what rewrite gives"
    );
    let (Ok(Rewritten::Changed(a)), Ok(Rewritten::Changed(b))) = (&first, &second) else {
        panic!("{first:?}");
    };
    assert!(
        std::ptr::eq(a.as_str(), b.as_str()),
        "the second rewrite is the cached template itself"
    );
    // The template holds no key: the same entry serves every tenant, each with its own key
    // where the marker stands.
    let added = beyond(&literals(sql).values, &literals(a.as_str()).values).unwrap();
    assert_eq!(added, [KEY_MARKER]);
    let mine = cache
        .rewrite(&c, sql, &RowKey::new("acme"))
        .unwrap()
        .unwrap();
    let theirs = cache
        .rewrite(&c, sql, &RowKey::new("o'k\\"))
        .unwrap()
        .unwrap();
    assert_eq!(mine.as_str(), a.as_str().replace(KEY_MARKER, "'acme'"));
    assert_eq!(
        theirs.as_str(),
        a.as_str().replace(KEY_MARKER, "E'o''k\\\\'")
    );
    assert_eq!(cache.len(), 1);
    // Refusals and unchanged texts are cached too.
    let key = RowKey::new("acme");
    let refused = cache.rewrite(&c, "SELECT * FROM nosuch", &key);
    assert!(refused.is_err());
    assert_eq!(cache.rewrite(&c, "SELECT * FROM nosuch", &key), refused);
    assert_eq!(cache.rewrite(&c, "SELECT * FROM countries", &key), Ok(None));
    assert_eq!(cache.len(), 3);
    // A new catalog (a reload) empties the cache: nothing of the old one is served.
    let mut b = builder();
    b.relation("public", "nosuch");
    let reloaded = b.build();
    assert_eq!(
        cache.rewrite(&reloaded, "SELECT * FROM nosuch", &key),
        Ok(None)
    );
    assert_eq!(cache.len(), 1);
    assert!(cache.rewrite(&c, "SELECT * FROM nosuch", &key).is_err());
    assert_eq!(cache.len(), 1);
}

/// The key marker is the rewriter's alone: a client that writes it, anywhere, is refused,
/// and a template where it is not a parameter of its own is never made.
#[test]
fn the_key_marker_cannot_be_forged() {
    let c = catalog();
    for sql in [
        "SELECT * FROM orders WHERE id = $2000000000",
        "SELECT * FROM orders WHERE item = '$2000000000'",
        "SELECT * FROM orders WHERE item = $$ $2000000000 $$",
        "SELECT * FROM countries /* $2000000000 */",
        "SELECT * FROM orders WHERE id = $20000000001",
    ] {
        let refused = rewrite(&c, sql).expect_err(sql);
        assert!(
            refused.detail.contains("tenantgate reserves"),
            "{sql}: {refused:?}"
        );
    }
    // Spelled so that the printed text holds it inside a string: refused, not filled.
    let sql = r"SELECT * FROM orders WHERE item = E'\x242000000000'";
    match rewrite(&c, sql) {
        Err(v) => assert!(v.detail.contains("would not read back"), "{v:?}"),
        Ok(Rewritten::Changed(t)) => assert!(!t.as_str().contains(KEY_MARKER), "{}", t.as_str()),
        Ok(Rewritten::Unchanged) => panic!("{sql} reads a tenant table"),
    }
}

#[test]
fn cache_bounds() {
    let c = catalog();
    let full = Cache::new(2);
    for sql in ["SELECT 1", "SELECT 2", "SELECT * FROM orders"] {
        full.remembered(&c, sql).unwrap();
    }
    assert_eq!(full.len(), 2);
    assert!(matches!(
        full.remembered(&c, "SELECT * FROM orders"),
        Ok(Rewritten::Changed(_))
    ));
    let none = Cache::new(0);
    none.remembered(&c, "SELECT 1").unwrap();
    assert!(none.is_empty());
    let long = format!(
        "SELECT * FROM orders WHERE item = E'{}'",
        "x".repeat(17 * 1024)
    );
    let cache = Cache::new(10);
    assert!(matches!(
        cache.remembered(&c, &long),
        Ok(Rewritten::Changed(_))
    ));
    assert!(cache.is_empty(), "texts over 16 KiB are not cached");
}

#[test]
fn cache_shapes() {
    let c = catalog();
    let cache = Cache::new(10);
    let key = RowKey::new("acme");
    let rewritten = |sql: &str| match cache.rewrite(&c, sql, &key) {
        Ok(Some(out)) => out.as_str().to_owned(),
        other => panic!("{sql}: {other:?}"),
    };
    let one = rewritten("SELECT item FROM orders WHERE id = 1 AND item <> 'a''b'");
    let two = rewritten("SELECT item FROM orders WHERE id = 22 AND item <> 'c'");
    assert_eq!(cache.len(), 1, "one shape serves both texts");
    assert_eq!(
        one,
        rewritten_fresh(
            &c,
            "SELECT item FROM orders WHERE id = 1 AND item <> 'a''b'"
        )
    );
    assert_eq!(
        two,
        rewritten_fresh(&c, "SELECT item FROM orders WHERE id = 22 AND item <> 'c'")
    );
    // No parameter may stand for a type modifier: that text is rewritten as it is.
    let sql = "SELECT amount::numeric(10, 2) FROM orders WHERE id = 3";
    assert_eq!(rewritten(sql), rewritten_fresh(&c, sql));
    assert_eq!(cache.len(), 3, "the failed shape and the text itself");
    // Texts with parameters are looked up as they are.
    rewritten("SELECT item FROM orders WHERE id = $1 LIMIT 5");
    rewritten("SELECT item FROM orders WHERE id = $1 LIMIT 5");
    rewritten("SELECT item FROM orders WHERE id = $1 LIMIT 6");
    assert_eq!(cache.len(), 5);
    // A refusal is a refusal whatever the literals.
    assert!(
        cache
            .rewrite(&c, "DROP TABLE orders; SELECT 1", &key)
            .is_err()
    );
}

fn rewritten_fresh(c: &Catalog, sql: &str) -> String {
    match rewrite(c, sql) {
        Ok(Rewritten::Changed(out)) => out.for_tenant(&RowKey::new("acme")).as_str().to_owned(),
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn scope_reload() {
    let scope = RowScope::new(catalog());
    let key = RowKey::new("acme");
    let sql = "SELECT * FROM orders";
    let Ok(Some(a)) = scope.rewrite(sql, &key) else {
        panic!("{sql} is rewritten");
    };
    assert!(scope.rewrite("SELECT * FROM nosuch", &key).is_err());
    let mut builder = builder();
    builder.relation("public", "nosuch");
    scope.replace(builder.build());
    assert_eq!(scope.rewrite("SELECT * FROM nosuch", &key), Ok(None));
    assert_eq!(scope.rewrite(sql, &key), Ok(Some(a)));
}
