//! What is wrong with one field of a cron expression, in words a person fixing a crontab
//! can act on (`61 is out of range (minutes are 0–59)`), where the cron library would say
//! `Component error: Number out of bounds.`.

/// One of the five fields: its name in messages, its range and the names it accepts.
struct Field {
    plural: &'static str,
    min: u32,
    max: u32,
    /// Names standing for `min`, `min + 1`, …, as cron accepts them (3 letters, any case).
    names: &'static [&'static str],
    extra: &'static str,
}

const FIELDS: [Field; 5] = [
    Field {
        plural: "minutes",
        min: 0,
        max: 59,
        names: &[],
        extra: "",
    },
    Field {
        plural: "hours",
        min: 0,
        max: 23,
        names: &[],
        extra: "",
    },
    Field {
        plural: "days of the month",
        min: 1,
        max: 31,
        names: &[],
        extra: "",
    },
    Field {
        plural: "months",
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
        extra: " or jan–dec",
    },
    Field {
        plural: "days of the week",
        min: 0,
        max: 7,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
        extra: ", Sunday being 0 or 7, or sun–sat",
    },
];

/// Why `value`, field `index` (0 = minute) of an expression, cannot be read; `None` when
/// this reading finds nothing wrong (the caller then says what the library said).
pub(super) fn problem(index: usize, value: &str) -> Option<String> {
    let field = FIELDS.get(index)?;
    value.split(',').find_map(|item| item_problem(field, item))
}

fn item_problem(field: &Field, item: &str) -> Option<String> {
    if item.is_empty() {
        return Some("an empty item between commas".to_owned());
    }
    let (base, step) = match item.split_once('/') {
        Some((base, step)) => (base, Some(step)),
        None => (item, None),
    };
    if let Some(step) = step {
        match step.parse::<u32>() {
            Err(_) => return Some(format!("the step {step:?} after `/` is not a number")),
            Ok(0) => return Some("a step of 0 never moves on: use 1 or more".to_owned()),
            Ok(n) if n > field.max => {
                return Some(format!(
                    "a step of {n} is more than the {} go up to ({})",
                    field.plural,
                    span(field)
                ));
            }
            Ok(_) => {}
        }
    }
    // `L`, `W` and `#` (last, weekday, nth) are the library's to judge.
    if base == "*" || base == "?" || base.contains('#') || base.ends_with(['L', 'W']) {
        return None;
    }
    let (start, end) = match base.split_once('-') {
        Some((start, end)) => (start, Some(end)),
        None => (base, None),
    };
    let first = match value_of(field, start) {
        Ok(first) => first,
        Err(problem) => return Some(problem),
    };
    if let Some(end) = end {
        let last = match value_of(field, end) {
            Ok(last) => last,
            Err(problem) => return Some(problem),
        };
        if last < first {
            return Some(format!(
                "the range {base} runs backwards: write the smaller end first"
            ));
        }
    }
    None
}

/// The number `text` stands for in `field`, or why it stands for none.
fn value_of(field: &Field, text: &str) -> Result<u32, String> {
    if let Ok(number) = text.parse::<u32>() {
        return if (field.min..=field.max).contains(&number) {
            Ok(number)
        } else {
            Err(format!(
                "{number} is out of range ({} are {}{})",
                field.plural,
                span(field),
                field.extra
            ))
        };
    }
    let lower = text.to_ascii_lowercase();
    match field.names.iter().position(|name| *name == lower) {
        Some(offset) => Ok(field.min + u32::try_from(offset).unwrap_or(0)),
        None if field.names.is_empty() => Err(format!(
            "{text:?} is not a number ({} are {})",
            field.plural,
            span(field)
        )),
        None => Err(format!(
            "{text:?} is neither a number nor a name ({} are {}{})",
            field.plural,
            span(field),
            field.extra
        )),
    }
}

fn span(field: &Field) -> String {
    format!("{}–{}", field.min, field.max)
}
