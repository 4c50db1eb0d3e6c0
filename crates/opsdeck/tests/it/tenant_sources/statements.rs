//! The configuration's check of a tenant statement: one read, with only its placeholders,
//! judged outside strings, quoted names and comments as each database reads them.

use opsdeck_connectors::tenants::{Dialect, check_statement};

fn verdict(sql: &str, dialect: Dialect) -> Result<(), String> {
    check_statement(sql, dialect, 1)
}

#[test]
fn reads_pass_whatever_their_strings_and_comments_say() {
    for (sql, dialect) in [
        ("SELECT name FROM accounts WHERE id = $1", Dialect::Postgres),
        (
            "  select name from accounts where id = $1;  ",
            Dialect::Postgres,
        ),
        (
            "WITH a AS (SELECT * FROM accounts) SELECT * FROM a WHERE id = $1",
            Dialect::Sqlite,
        ),
        (
            "SELECT 'DELETE; UPDATE' AS note, \"update\" FROM t WHERE id = $1",
            Dialect::Postgres,
        ),
        (
            "SELECT 1 -- DELETE FROM accounts; DROP TABLE x\n WHERE $1 = $1",
            Dialect::Sqlite,
        ),
        ("SELECT /* INSERT; */ 1 WHERE $1 <> ''", Dialect::Mysql),
        ("SELECT 1 # DROP TABLE x;\n", Dialect::Mysql),
        (
            "SELECT 'it\\'s; DELETE' FROM t WHERE id = $1",
            Dialect::Mysql,
        ),
        ("SELECT `delete` FROM t WHERE id = $1", Dialect::Mysql),
        (
            "SELECT $$a; DELETE$$ || $tag$b;$tag$ WHERE $1 = ''",
            Dialect::Postgres,
        ),
        (
            "SELECT replace(name, 'a', 'b') FROM t WHERE id = $1",
            Dialect::Sqlite,
        ),
        ("SELECT name FROM accounts", Dialect::Postgres),
    ] {
        assert_eq!(verdict(sql, dialect), Ok(()), "{sql}");
    }
}

#[test]
fn writes_several_statements_and_other_placeholders_are_refused() {
    for (sql, dialect, says) in [
        ("", Dialect::Postgres, "empty"),
        ("-- nothing\n", Dialect::Postgres, "empty"),
        ("SELECT 1; SELECT 2", Dialect::Postgres, "2 statements"),
        ("SELECT 1; DELETE FROM t", Dialect::Mysql, "2 statements"),
        (
            "UPDATE t SET a = 1 WHERE id = $1",
            Dialect::Postgres,
            "start with SELECT",
        ),
        (
            "DELETE FROM t WHERE id = $1",
            Dialect::Sqlite,
            "start with SELECT",
        ),
        (
            "PRAGMA writable_schema = 1",
            Dialect::Sqlite,
            "start with SELECT",
        ),
        (
            "WITH gone AS (DELETE FROM t WHERE id = $1 RETURNING *) SELECT * FROM gone",
            Dialect::Postgres,
            "looks like a write (DELETE)",
        ),
        (
            "SELECT * FROM t WHERE id = $1 FOR UPDATE",
            Dialect::Postgres,
            "UPDATE",
        ),
        (
            "SELECT * INTO copy FROM t WHERE id = $1",
            Dialect::Postgres,
            "INTO",
        ),
        (
            "SELECT * FROM t WHERE id = $1 AND x = $2",
            Dialect::Postgres,
            "uses $2",
        ),
        ("SELECT * FROM t WHERE id = $0", Dialect::Postgres, "$1"),
        ("SELECT 'unterminated", Dialect::Postgres, "not closed"),
        ("SELECT 1 /* unterminated", Dialect::Mysql, "not closed"),
        // In MySQL a backslash escapes the quote, so the string runs on to the end.
        ("SELECT 'a\\'; DELETE FROM t", Dialect::Mysql, "not closed"),
    ] {
        match verdict(sql, dialect) {
            Err(message) => assert!(message.contains(says), "{sql}: {message}"),
            Ok(()) => panic!("{sql} was accepted"),
        }
    }
    // The directory takes $1 and $2.
    assert_eq!(
        check_statement(
            "SELECT id FROM t WHERE $1 = '' LIMIT $2",
            Dialect::Postgres,
            2
        ),
        Ok(())
    );
}

#[test]
fn url_schemes_name_their_database() {
    for (url, dialect) in [
        ("postgres://u@h/db", Dialect::Postgres),
        ("postgresql://u@h/db", Dialect::Postgres),
        ("mysql://u@h/db", Dialect::Mysql),
        ("mariadb://u@h/db", Dialect::Mysql),
        ("sqlite:///var/lib/app.db", Dialect::Sqlite),
    ] {
        assert_eq!(
            opsdeck_connectors::tenants::check_url(url),
            Ok(dialect),
            "{url}"
        );
    }
    let refused = opsdeck_connectors::tenants::check_url("redis://:pw-secret@cache/0").unwrap_err();
    assert!(!refused.contains("pw-secret"), "{refused}");
}
