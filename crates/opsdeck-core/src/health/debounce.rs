//! Flap damping: a check's *reported* status flips only after `threshold` consecutive
//! results differ from it, so one lost packet does not page anyone. The first result a
//! check ever gives is reported at once: there is nothing to protect yet.
//!
//! When the streak completes, the report flips to the latest result of the streak, not the
//! worst: "not pass for three results, now warn" reports warn.

use super::{CheckResult, Status, StatusChange};

/// The rule: how many consecutive differing results it takes to flip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debounce {
    threshold: u32,
}

impl Debounce {
    /// `threshold` results in a row before a flip; 0 is taken as 1 (every change reported).
    pub fn new(threshold: u32) -> Self {
        Self {
            threshold: threshold.max(1),
        }
    }

    pub fn threshold(self) -> u32 {
        self.threshold
    }

    /// Feeds one result to a check's state; returns the change to record and alert on when
    /// the reported status flips (or is first set).
    pub fn observe(self, state: &mut DebounceState, result: &CheckResult) -> Option<StatusChange> {
        let Some(reported) = state.reported else {
            state.reported = Some(result.status);
            state.streak = 0;
            return Some(change(None, result));
        };
        if result.status == reported {
            state.streak = 0;
            return None;
        }
        state.streak = state.streak.saturating_add(1);
        if state.streak < self.threshold {
            return None;
        }
        state.reported = Some(result.status);
        state.streak = 0;
        Some(change(Some(reported), result))
    }
}

impl Default for Debounce {
    /// Every change reported at once.
    fn default() -> Self {
        Self::new(1)
    }
}

/// One check's damping state: what is reported, and how many results in a row have
/// differed from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DebounceState {
    reported: Option<Status>,
    streak: u32,
}

impl DebounceState {
    /// A check that has never reported.
    pub fn new() -> Self {
        Self::default()
    }

    /// Carries on from a stored status (the latest [`StatusChange`] after a restart), so a
    /// restart neither re-reports nor loses it.
    pub fn resume(reported: Status) -> Self {
        Self {
            reported: Some(reported),
            streak: 0,
        }
    }

    pub fn reported(&self) -> Option<Status> {
        self.reported
    }

    /// Results in a row that differed from the reported status.
    pub fn streak(&self) -> u32 {
        self.streak
    }
}

fn change(from: Option<Status>, result: &CheckResult) -> StatusChange {
    StatusChange {
        name: result.name.clone(),
        from,
        to: result.status,
        at: result.at,
        output: result.output.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::tests::result_at;
    use Status::*;

    /// The statuses reported after each result, `None` where nothing flipped.
    fn run(threshold: u32, statuses: &[Status]) -> Vec<Option<(Option<Status>, Status)>> {
        let debounce = Debounce::new(threshold);
        let mut state = DebounceState::new();
        statuses
            .iter()
            .enumerate()
            .map(|(i, &status)| {
                let seconds = i64::try_from(i).unwrap() * 15;
                debounce
                    .observe(&mut state, &result_at(status, seconds))
                    .map(|c| (c.from, c.to))
            })
            .collect()
    }

    #[test]
    fn first_result_is_reported_at_once() {
        assert_eq!(run(3, &[Fail]), [Some((None, Fail))]);
    }

    #[test]
    fn threshold_one_reports_every_change() {
        assert_eq!(
            run(1, &[Pass, Pass, Fail, Warn, Warn]),
            [
                Some((None, Pass)),
                None,
                Some((Some(Pass), Fail)),
                Some((Some(Fail), Warn)),
                None
            ]
        );
        assert_eq!(Debounce::new(0), Debounce::default());
    }

    #[test]
    fn flips_only_after_threshold_results_in_a_row() {
        assert_eq!(
            run(3, &[Pass, Fail, Fail, Fail, Fail]),
            [
                Some((None, Pass)),
                None,
                None,
                Some((Some(Pass), Fail)),
                None
            ]
        );
    }

    #[test]
    fn one_good_result_resets_the_streak() {
        assert_eq!(
            run(2, &[Pass, Fail, Pass, Fail, Pass]),
            [Some((None, Pass)), None, None, None, None]
        );
    }

    #[test]
    fn mixed_bad_results_flip_to_the_latest() {
        assert_eq!(
            run(3, &[Pass, Warn, Fail, Warn]),
            [Some((None, Pass)), None, None, Some((Some(Pass), Warn))]
        );
    }

    #[test]
    fn change_carries_time_and_output_of_the_completing_result() {
        let debounce = Debounce::new(2);
        let mut state = DebounceState::resume(Pass);
        assert_eq!(debounce.observe(&mut state, &result_at(Fail, 0)), None);
        assert_eq!(state.streak(), 1);
        let last = result_at(Fail, 15);
        let change = debounce.observe(&mut state, &last).expect("flip");
        assert_eq!(change.at, last.at);
        assert_eq!(change.output, last.output);
        assert_eq!(change.name, last.name);
        assert_eq!(state.reported(), Some(Fail));
        assert_eq!(state.streak(), 0);
    }

    #[test]
    fn resumed_state_does_not_report_the_same_status_again() {
        let mut state = DebounceState::resume(Warn);
        assert_eq!(
            Debounce::new(1).observe(&mut state, &result_at(Warn, 0)),
            None
        );
    }
}
