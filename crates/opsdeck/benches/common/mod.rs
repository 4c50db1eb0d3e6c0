//! What the benchmarks share: their settings from the environment and the process's CPU
//! time, by which they compare routes on a saturated machine.

use std::time::Duration;

/// The environment variable `name` as a number, or `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time used by this process so far (all threads: server, audit writer, database and
/// clients), from `/proc/self/stat`; `None` where there is no such file.
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces; the fields after it are plain numbers.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the file (11 and 12 after the name), in
    // USER_HZ ticks, which Linux fixes at 100 per second for userspace.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
