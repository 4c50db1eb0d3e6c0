//! What can be read of an RQ job's call without unpickling anything: RQ's `description`,
//! the call as Python's `repr` wrote it (`billing.charge('acme', 7, plan='pro')`), read as
//! `{"func", "args", "kwargs"}` for `tenant_path`.
//!
//! Only literals are read: strings (with Python's escapes), integers, floats, `True`,
//! `False`, `None`. Any other argument (an object, a list, a dict) is `null`, and so is
//! every argument from one RQ cut short (it ends an argument's text longer than 75
//! characters with `...`) onwards, since where it ends cannot be known.

use serde_json::{Map, Value, json};

/// The call of `description`, or `None` when it is not one.
pub(super) fn parse(description: &str) -> Option<Value> {
    let open = description.find('(')?;
    let func = description[..open].trim();
    let inner = description[open + 1..].strip_suffix(')')?;
    let mut args = Vec::new();
    let mut kwargs = Map::new();
    for item in split_top_level(inner) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        match keyword(item) {
            Some((name, value)) => {
                kwargs.insert(name.to_owned(), literal(value));
            }
            None => args.push(literal(item)),
        }
    }
    Some(json!({"func": func, "args": args, "kwargs": kwargs}))
}

/// The items of an argument list, split at commas outside quotes and brackets. An unclosed
/// quote (an argument RQ cut short) ends the list there.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    if quote.is_none() && depth == 0 {
        items.push(&text[start..]);
    } else {
        // Cut short: the last item is unreadable, and so is anything it swallowed.
        items.push("...");
    }
    items
}

/// `name=value` at the top level of an item.
fn keyword(item: &str) -> Option<(&str, &str)> {
    let eq = item.find('=')?;
    let name = &item[..eq];
    let mut chars = name.chars();
    let first = chars.next()?;
    if !(first.is_alphabetic() || first == '_') || !chars.all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    Some((name, &item[eq + 1..]))
}

/// A Python literal as JSON; `null` for anything else.
fn literal(text: &str) -> Value {
    match text {
        "None" => return Value::Null,
        "True" => return Value::Bool(true),
        "False" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(n) = text.parse::<i64>() {
        return json!(n);
    }
    if let Ok(x) = text.parse::<f64>()
        && x.is_finite()
    {
        return json!(x);
    }
    string(text).map_or(Value::Null, Value::String)
}

/// A Python `str` repr: `'…'` or `"…"` with backslash escapes.
fn string(text: &str) -> Option<String> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = text.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            if c == quote {
                return None;
            }
            out.push(c);
            continue;
        }
        let escaped = chars.next()?;
        let hex = |chars: &mut std::str::Chars<'_>, n: usize| {
            let digits: String = chars.by_ref().take(n).collect();
            u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
        };
        out.push(match escaped {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '0' => '\0',
            'x' => hex(&mut chars, 2)?,
            'u' => hex(&mut chars, 4)?,
            'U' => hex(&mut chars, 8)?,
            other => other,
        });
    }
    Some(out)
}
