//! The lexer against Postgres' scanner rules: statement splitting, strings, comments.

use super::lexer::*;

#[test]
fn statement_ends_match_the_statements() {
    let sql = "SELECT ';'; ;RESET ALL /* ; */;CLOSE ALL; -- x;\n";
    let ends = statement_ends(sql).unwrap();
    assert_eq!(ends.len(), statements(sql).unwrap().len());
    let pieces: Vec<&str> = [0]
        .iter()
        .chain(&ends)
        .zip(&ends)
        .map(|(a, b)| &sql[*a..*b])
        .collect();
    assert_eq!(
        pieces,
        ["SELECT ';';", " ;RESET ALL /* ; */;", "CLOSE ALL;"]
    );
    assert_eq!(statement_ends("SELECT 1").unwrap(), [8]);
}

#[test]
fn literal_spans_are_plain_numbers_and_strings() {
    let sql = "SELECT 1, 2.5e3, 'a''b', $1, E'x', $$y$$, \"3\", t9 -- 'c' 4\n, 'd'\n'e' /* 5 */";
    let spans: Vec<&str> = literal_spans(sql)
        .unwrap()
        .into_iter()
        .map(|r| &sql[r])
        .collect();
    assert_eq!(spans, ["1", "2.5e3", "'a''b'", "'d'\n'e'"]);
}

fn words(sql: &str) -> Vec<String> {
    statements(sql)
        .unwrap()
        .concat()
        .iter()
        .map(|t| match t {
            Token::Word {
                text,
                quoted: false,
            } => text.to_string(),
            Token::Word { text, quoted: true } => format!("\"{text}\""),
            Token::Str(s) => format!("'{s}'"),
            Token::Punct(c) => c.to_string(),
            Token::Cast => "::".into(),
            Token::Op(o) => o.to_string(),
            Token::Literal => "#".into(),
        })
        .collect()
}

#[test]
fn folds_unquoted_and_keeps_quoted_identifiers() {
    assert_eq!(
        words("SELECT Foo, \"Bar\"\"x\" FROM s.T"),
        ["select", "foo", ",", "\"Bar\"x\"", "from", "s", ".", "t"]
    );
}

#[test]
fn comments_nest_and_hide_everything() {
    assert_eq!(
        words("set /* a /* b */ role x; */ search_path -- ; role\n= x"),
        ["set", "search_path", "=", "x"]
    );
    assert!(statements("select /* /* */").is_err());
}

#[test]
fn strings_follow_standard_conforming_rules() {
    // Backslash is literal: the string ends at the second quote.
    assert_eq!(words(r"select 'a\' , b"), ["select", r"'a\'", ",", "b"]);
    assert_eq!(
        words(r"select E'a\'b', 'it''s'"),
        ["select", "'a'b'", ",", "'it's'"]
    );
    assert_eq!(words(r"select E'\x41\101\u0041'"), ["select", "'AAA'"]);
}

#[test]
fn strings_continue_across_newlines_in_their_own_mode() {
    assert_eq!(words("select 'oth'\n'er.t'"), ["select", "'other.t'"]);
    assert_eq!(
        words("select 'a' -- c\n 'b', 'c' 'd'"),
        ["select", "'ab'", ",", "'c'", "'d'"]
    );
    // The continued part of an E string still escapes: `\'` does not end it.
    assert_eq!(
        words("select E'x'\n'\\' ; set role y; --'"),
        ["select", "'x' ; set role y; --'"]
    );
    // Bit strings know no `''`: the second quote ends them.
    assert_eq!(words("select B'01''x'"), ["select", "'01'", "'x'"]);
}

#[test]
fn dollar_quotes_and_parameters() {
    assert_eq!(
        words("select $1, $tag$ ; ' $$ $tag$, a$b"),
        ["select", "#", ",", "' ; ' $$ '", ",", "a$b"]
    );
    assert_eq!(
        statements("do $$ begin; end $$; select 1").unwrap().len(),
        2
    );
    assert!(statements("select $x$ open").is_err());
}

#[test]
fn splits_statements_outside_quotes() {
    let s = statements("select ';'; set role x;;").unwrap();
    assert_eq!(s.len(), 2);
    assert!(s[1][0].is_kw("set"));
}

#[test]
fn refuses_unicode_escapes_and_garbage() {
    assert!(statements("select U&\"\\0061\"").is_err());
    assert!(statements("select u&'x'").is_err());
    assert!(statements("select 'open").is_err());
    assert!(statements("select \"\"").is_err());
    assert!(statements("select \\").is_err());
    // `U & "x"` with spaces is an operator expression, not an escape.
    assert!(statements("select u & \"x\"").is_ok());
}

#[test]
fn operators_stop_at_comments() {
    assert_eq!(words("select 1 +-- x\n 2"), ["select", "#", "+", "#"]);
    assert_eq!(words("a.b::int"), ["a", ".", "b", "::", "int"]);
}
