//! [`Observation`]: what one probe run found, before the monitor times and scrubs it.

use opsdeck_core::health::Status;

/// What one probe run found, before timing and scrubbing.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub status: Status,
    /// A measurement other than latency (latency is the monitor's).
    pub observed_value: Option<f64>,
    pub observed_unit: Option<&'static str>,
    /// What is wrong, for warn and fail.
    pub output: Option<String>,
}

impl Observation {
    pub fn pass() -> Self {
        Self {
            status: Status::Pass,
            observed_value: None,
            observed_unit: None,
            output: None,
        }
    }

    pub fn warn(output: impl Into<String>) -> Self {
        Self {
            status: Status::Warn,
            output: Some(output.into()),
            ..Self::pass()
        }
    }

    pub fn fail(output: impl Into<String>) -> Self {
        Self {
            status: Status::Fail,
            output: Some(output.into()),
            ..Self::pass()
        }
    }

    pub fn with_value(mut self, value: f64, unit: &'static str) -> Self {
        self.observed_value = Some(value);
        self.observed_unit = Some(unit);
        self
    }
}
