//! Cron schedules and run durations in words, for people scanning a list: the common
//! shapes of a five-field expression (`*/5 * * * *`, `30 2 * * *`, `0 9 * * 1-5`) and the
//! `@daily`-style aliases. Anything else is shown as written: a wrong description would be
//! worse than none.

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A schedule in words, or `None` when its shape is not one of the easy ones.
pub fn schedule_words(expr: &str) -> Option<String> {
    let alias = match expr.trim().to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => Some("every year on 1 January at 00:00"),
        "@monthly" => Some("on the 1st of every month at 00:00"),
        "@weekly" => Some("every Sunday at 00:00"),
        "@daily" | "@midnight" => Some("every day at 00:00"),
        "@hourly" => Some("every hour, on the hour"),
        _ => None,
    };
    if let Some(words) = alias {
        return Some(words.to_owned());
    }
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let [minute, hour, day, month, weekday] = fields.as_slice() else {
        return None;
    };
    if *month != "*" {
        return None;
    }
    let minute_n = number(minute, 59);
    let at = |h: u32, m: u32| format!("{h:02}:{m:02}");
    match (*day, *weekday) {
        ("*", "*") => match (minute_n, number(hour, 23)) {
            (Some(m), Some(h)) => Some(format!("every day at {}", at(h, m))),
            (Some(0), None) if *hour == "*" => Some("every hour, on the hour".to_owned()),
            (Some(m), None) if *hour == "*" => Some(format!("every hour at :{m:02}")),
            (Some(m), None) => step(hour).map(|n| match m {
                0 => format!("every {n} hours, on the hour"),
                m => format!("every {n} hours at :{m:02}"),
            }),
            (None, _) if *hour != "*" => None,
            (None, _) if *minute == "*" => Some("every minute".to_owned()),
            (None, _) => step(minute).map(|n| format!("every {n} minutes")),
        },
        ("*", days) => {
            let time = at(number(hour, 23)?, minute_n?);
            Some(format!("{} at {time}", weekdays(days)?))
        }
        (day, "*") => {
            let time = at(number(hour, 23)?, minute_n?);
            let day = number(day, 31).filter(|d| *d > 0)?;
            Some(format!("on day {day} of every month at {time}"))
        }
        _ => None,
    }
}

/// A plain number no larger than `max`.
fn number(field: &str, max: u32) -> Option<u32> {
    field
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= max && !field.starts_with('+'))
}

/// `*/n` with n > 1.
fn step(field: &str) -> Option<u32> {
    field
        .strip_prefix("*/")
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| *n > 1)
}

/// A day-of-week field in words: `1-5` → on weekdays, `0,6` → on weekends, `1,3` →
/// on Monday and Wednesday, `FRI` → every Friday.
fn weekdays(field: &str) -> Option<String> {
    let upper = field.to_ascii_uppercase();
    match upper.as_str() {
        "1-5" | "MON-FRI" => return Some("on weekdays".to_owned()),
        "0,6" | "6,0" | "SAT,SUN" | "SUN,SAT" | "6-7" => {
            return Some("on weekends".to_owned());
        }
        _ => {}
    }
    let days = upper
        .split(',')
        .map(day_index)
        .collect::<Option<Vec<usize>>>()?;
    let names: Vec<&str> = days.iter().map(|d| DAYS[*d]).collect();
    match names.as_slice() {
        [one] => Some(format!("every {one}")),
        [init @ .., last] => Some(format!("on {} and {last}", init.join(", "))),
        [] => None,
    }
}

fn day_index(field: &str) -> Option<usize> {
    let by_name = DAYS.iter().position(|d| d[..3].eq_ignore_ascii_case(field));
    by_name.or_else(|| {
        // Cron allows 7 for Sunday, as 0.
        let n = field.parse::<usize>().ok().filter(|n| *n <= 7)?;
        Some(n % 7)
    })
}

/// A run's duration: `420 ms`, `12.3 s`, `4 min 12 s`, `2 h 5 min`.
pub fn duration_ms(ms: u64) -> String {
    let seconds = ms / 1000;
    match ms {
        0..=999 => format!("{ms} ms"),
        1000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, (seconds % 3600) / 60),
    }
}
