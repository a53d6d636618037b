//! The rewrite cache: hits, bounds, shapes and reloads.

use super::*;

#[test]
fn cache() {
    let c = catalog();
    let cache = Cache::new(100);
    let sql = "SELECT * FROM orders WHERE id = $1";
    let first = cache.rewrite(&c, sql);
    assert_eq!(cache.len(), 1);
    let second = cache.rewrite(&c, sql);
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
        "the second rewrite is the cached text itself"
    );
    // The text reads the key from the session setting and holds no key of its own: the
    // same entry serves every tenant of the database.
    let added = beyond(&literals(sql).values, &literals(a.as_str()).values).unwrap();
    assert_eq!(added, ["'tenantgate.tenant_id'", "true", "''"]);
    // Refusals and unchanged texts are cached too.
    let refused = cache.rewrite(&c, "SELECT * FROM nosuch");
    assert!(refused.is_err());
    assert_eq!(cache.rewrite(&c, "SELECT * FROM nosuch"), refused);
    assert_eq!(
        cache.rewrite(&c, "SELECT * FROM countries"),
        Ok(Rewritten::Unchanged)
    );
    assert_eq!(cache.len(), 3);
    // A new catalog (a reload) empties the cache: nothing of the old one is served.
    let mut b = builder();
    b.relation("public", "nosuch");
    let reloaded = b.build();
    assert_eq!(
        cache.rewrite(&reloaded, "SELECT * FROM nosuch"),
        Ok(Rewritten::Unchanged)
    );
    assert_eq!(cache.len(), 1);
    assert!(cache.rewrite(&c, "SELECT * FROM nosuch").is_err());
    assert_eq!(cache.len(), 1);
}

#[test]
fn cache_bounds() {
    let c = catalog();
    let full = Cache::new(2);
    for sql in ["SELECT 1", "SELECT 2", "SELECT * FROM orders"] {
        full.rewrite(&c, sql).unwrap();
    }
    assert_eq!(full.len(), 2);
    assert!(matches!(
        full.rewrite(&c, "SELECT * FROM orders"),
        Ok(Rewritten::Changed(_))
    ));
    let none = Cache::new(0);
    none.rewrite(&c, "SELECT 1").unwrap();
    assert!(none.is_empty());
    let long = format!(
        "SELECT * FROM orders WHERE item = E'{}'",
        "x".repeat(17 * 1024)
    );
    let cache = Cache::new(10);
    assert!(matches!(
        cache.rewrite(&c, &long),
        Ok(Rewritten::Changed(_))
    ));
    assert!(cache.is_empty(), "texts over 16 KiB are not cached");
}

#[test]
fn cache_shapes() {
    let c = catalog();
    let cache = Cache::new(10);
    let rewritten = |sql: &str| match cache.rewrite(&c, sql) {
        Ok(Rewritten::Changed(out)) => out.as_str().to_owned(),
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
    assert!(cache.rewrite(&c, "DROP TABLE orders; SELECT 1").is_err());
}

fn rewritten_fresh(c: &Catalog, sql: &str) -> String {
    match rewrite(c, sql) {
        Ok(Rewritten::Changed(out)) => out.as_str().to_owned(),
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn scope_reload() {
    let scope = RowScope::new(catalog());
    let sql = "SELECT * FROM orders";
    let (Ok(Rewritten::Changed(a)), Ok(Rewritten::Changed(b))) =
        (scope.rewrite(sql), scope.rewrite(sql))
    else {
        panic!("{sql} is rewritten");
    };
    assert!(std::ptr::eq(a.as_str(), b.as_str()), "a cache hit");
    assert!(scope.rewrite("SELECT * FROM nosuch").is_err());
    let mut builder = builder();
    builder.relation("public", "nosuch");
    scope.replace(builder.build());
    assert_eq!(
        scope.rewrite("SELECT * FROM nosuch"),
        Ok(Rewritten::Unchanged)
    );
    match scope.rewrite(sql) {
        Ok(Rewritten::Changed(c)) => {
            assert_eq!(c.as_str(), a.as_str());
            assert!(!std::ptr::eq(c.as_str(), a.as_str()), "rewritten anew");
        }
        other => panic!("{other:?}"),
    }
}
