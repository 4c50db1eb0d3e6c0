//! Reading a configured statement without parsing SQL: where its strings, quoted names and
//! comments are, so that what is left can be checked (one statement, a read, which `$n`
//! placeholders it uses) and its placeholders rewritten for MySQL, which takes `?`.
//!
//! The check is a courtesy that names a mistake early, in `check-config`; what guarantees a
//! tenant query never writes is the read-only transaction it runs in.

use super::Dialect;

/// Words that make a statement a write, or a read that takes write locks (`FOR UPDATE`),
/// wherever they stand outside strings, quoted names and comments.
const WRITE_WORDS: &[&str] = &[
    "INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "TRUNCATE", "DROP", "ALTER", "CREATE",
    "GRANT", "REVOKE", "COPY", "CALL", "VACUUM", "ATTACH", "DETACH", "PRAGMA", "INTO", "LOCK",
    "REINDEX", "CLUSTER", "REFRESH", "HANDLER", "LOAD", "RENAME",
];

/// Words a read may start with.
const READ_STARTS: &[&str] = &["SELECT", "WITH", "VALUES", "TABLE"];

/// What a statement is made of, outside its strings, quoted names and comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// Statements with something in them (`;` separates them).
    pub statements: usize,
    /// Upper-cased bare words, in order.
    pub words: Vec<String>,
    /// Each `$n` placeholder: its byte range in the text and its number.
    pub placeholders: Vec<(std::ops::Range<usize>, usize)>,
}

impl Scanned {
    /// The highest `$n` used, 0 when none is.
    pub fn max_placeholder(&self) -> usize {
        self.placeholders.iter().map(|(_, n)| *n).max().unwrap_or(0)
    }
}

/// Scans `sql` as `dialect` reads it (backslash escapes in MySQL strings, dollar-quoted
/// strings in PostgreSQL).
pub(crate) fn scan(sql: &str, dialect: Dialect) -> Result<Scanned, String> {
    let bytes = sql.as_bytes();
    let mut out = Scanned {
        statements: 0,
        words: Vec::new(),
        placeholders: Vec::new(),
    };
    let mut current_has_content = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' | b'"' | b'`' => {
                let backslash = dialect == Dialect::Mysql && c != b'`';
                i = quoted_end(bytes, i, c, backslash)
                    .ok_or_else(|| format!("a {} is not closed", quote_name(c)))?;
                current_has_content = true;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => i = line_end(bytes, i),
            b'#' if dialect == Dialect::Mysql => i = line_end(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = block_comment_end(bytes, i).ok_or("a /* comment is not closed")?;
            }
            b';' => {
                if current_has_content {
                    out.statements += 1;
                }
                current_has_content = false;
                i += 1;
            }
            b'$' => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits > 0 {
                    let end = i + 1 + digits;
                    let n: usize = sql[i + 1..end]
                        .parse()
                        .map_err(|_| "a placeholder number is too large".to_owned())?;
                    if n == 0 {
                        return Err("placeholders are numbered from $1".to_owned());
                    }
                    out.placeholders.push((i..end, n));
                    i = end;
                } else if dialect == Dialect::Postgres
                    && let Some(end) = dollar_quoted_end(sql, i)
                {
                    i = end;
                } else {
                    i += 1;
                }
                current_has_content = true;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let len = bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'$')
                    .count();
                out.words.push(sql[i..i + len].to_ascii_uppercase());
                i += len;
                current_has_content = true;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                current_has_content = true;
                i += 1;
            }
        }
    }
    if current_has_content {
        out.statements += 1;
    }
    Ok(out)
}

/// Why `sql` cannot be a tenant query, if it cannot: not exactly one statement, not a read,
/// or placeholders other than `$1..=$max_placeholder`.
pub(crate) fn check(sql: &str, dialect: Dialect, max_placeholder: usize) -> Result<(), String> {
    let scanned = scan(sql, dialect)?;
    match scanned.statements {
        0 => return Err("is empty; give one SELECT statement".to_owned()),
        1 => {}
        n => {
            return Err(format!(
                "holds {n} statements; give exactly one (a `;` separates statements)"
            ));
        }
    }
    match scanned.words.first() {
        Some(first) if READ_STARTS.contains(&first.as_str()) => {}
        _ => return Err("must be a read: start with SELECT or WITH".to_owned()),
    }
    if let Some(word) = scanned
        .words
        .iter()
        .find(|w| WRITE_WORDS.contains(&w.as_str()))
    {
        return Err(format!(
            "looks like a write ({word}); tenant queries only read, and run in a read-only \
             transaction"
        ));
    }
    if let Some((_, n)) = scanned
        .placeholders
        .iter()
        .find(|(_, n)| *n > max_placeholder)
    {
        let allowed = match max_placeholder {
            1 => "only $1 (the tenant id)".to_owned(),
            _ => format!("only $1 to ${max_placeholder}"),
        };
        return Err(format!("uses ${n}; it is given {allowed}"));
    }
    Ok(())
}

/// `sql` with every `$n` turned into `?` for MySQL, and the parameter each `?` takes
/// (0-based), in order.
pub(crate) fn to_question_marks(sql: &str, scanned: &Scanned) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(sql.len());
    let mut order = Vec::with_capacity(scanned.placeholders.len());
    let mut copied = 0;
    for (range, n) in &scanned.placeholders {
        out.push_str(&sql[copied..range.start]);
        out.push('?');
        order.push(n - 1);
        copied = range.end;
    }
    out.push_str(&sql[copied..]);
    (out, order)
}

fn quote_name(c: u8) -> &'static str {
    match c {
        b'\'' => "string ('…')",
        b'"' => "quoted name (\"…\")",
        _ => "quoted name (`…`)",
    }
}

/// The index after the quote closing the one at `start`; a doubled quote is part of the
/// text, as is a backslash-escaped character where `backslash` applies.
fn quoted_end(bytes: &[u8], start: usize, quote: u8, backslash: bool) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash => i += 2,
            c if c == quote => {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    None
}

fn line_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |p| start + p + 1)
}

fn block_comment_end(bytes: &[u8], start: usize) -> Option<usize> {
    bytes[start + 2..]
        .windows(2)
        .position(|w| w == b"*/")
        .map(|p| start + 2 + p + 2)
}

/// The end of a PostgreSQL dollar-quoted string (`$$…$$`, `$tag$…$tag$`) starting at
/// `start`, or `None` when the `$` starts none.
fn dollar_quoted_end(sql: &str, start: usize) -> Option<usize> {
    let rest = &sql[start + 1..];
    let tag_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    if rest.as_bytes().get(tag_len) != Some(&b'$') {
        return None;
    }
    let tag = &sql[start..start + tag_len + 2];
    let body = start + tag.len();
    sql[body..].find(tag).map(|p| body + p + tag.len())
}
