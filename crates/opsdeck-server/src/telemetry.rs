//! Logging set-up: JSON lines (one object per event, with the request's span fields) when
//! not on a terminal or when asked, human-readable text on a terminal. Logs go to stderr;
//! stdout stays free for command output.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt as _;

use crate::config::LogFormat;

/// Installs the global subscriber. `level` is an `EnvFilter` directive such as `info` or
/// `opsdeck=debug,sqlx=warn`.
pub fn init(format: LogFormat, level: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(level)
        .map_err(|e| anyhow::anyhow!("log.level {level:?} is not a valid filter: {e}"))?;
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let writer = std::io::stderr.with_max_level(tracing::Level::TRACE);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.compact().try_init()
    };
    result.map_err(|e| anyhow::anyhow!("could not install the logger: {e}"))
}
