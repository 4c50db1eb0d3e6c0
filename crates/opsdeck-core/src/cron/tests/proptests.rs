//! Properties over generated histories of pings and evaluator steps, time only moving
//! forward: the cursor never goes back, open runs stay unique and bounded, alerts
//! alternate down and recovered, evaluating twice at one instant changes nothing, and the
//! stored status is the derived one.

use proptest::prelude::*;

use super::*;
use crate::alert::AlertKind;

#[derive(Debug, Clone)]
enum Event {
    Ping(PingKind, Option<u8>),
    Tick,
}

fn event() -> impl Strategy<Value = Event> {
    let kind = prop_oneof![
        Just(PingKind::Success),
        Just(PingKind::Start),
        Just(PingKind::Fail),
        Just(PingKind::Log),
        (0u8..3).prop_map(PingKind::Exit),
    ];
    prop_oneof![
        (kind, proptest::option::of(0u8..4)).prop_map(|(k, rid)| Event::Ping(k, rid)),
        Just(Event::Tick),
    ]
}

fn settings() -> impl Strategy<Value = MonitorSettings> {
    (1u32..4, 1u32..4, proptest::option::of(5u64..90)).prop_map(|(fail, recover, max)| {
        MonitorSettings {
            failure_threshold: fail,
            recovery_threshold: recover,
            max_runtime: max.map(mins),
            ..MonitorSettings::default()
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn histories_keep_the_invariants(
        settings in settings(),
        history in proptest::collection::vec((event(), 0i64..150), 1..40),
    ) {
        let mut sim = Sim::new(hourly(settings));
        let mut now = t0();
        let mut last_cursor = None;
        for (event, gap) in history {
            now += chrono::Duration::minutes(gap);
            let alerts_before = sim.alerts.len();
            match event {
                Event::Ping(kind, rid) => {
                    let mut p = ping(kind);
                    if let Some(n) = rid {
                        p = p.with_rid(Uuid::from_u128(u128::from(n) + 1));
                    }
                    sim.ping(p, now);
                }
                Event::Tick => {
                    sim.tick(now);
                    let again = evaluate(&sim.spec, &mut sim.state.clone(), now, &[]);
                    prop_assert!(again.is_empty(), "a second step at {now} did {again:?}");
                }
            }
            prop_assert!(sim.alerts.len() <= alerts_before + 1);
            prop_assert!(sim.state.cursor >= last_cursor);
            last_cursor = sim.state.cursor;
            let mut ids: Vec<Uuid> = sim.state.open_runs.iter().map(|r| r.run_id).collect();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(ids.len(), sim.state.open_runs.len());
            prop_assert!(ids.len() <= OPEN_RUNS_MAX);
            prop_assert_eq!(sim.state.status, derive_status(&sim.spec, &sim.state, now));
            prop_assert_eq!(
                sim.state.status == MonitorStatus::Down,
                sim.state.health == Health::Down
            );
        }
        for (n, alert) in sim.alerts.iter().enumerate() {
            let expected = if n % 2 == 0 { AlertKind::Down } else { AlertKind::Recovered };
            prop_assert_eq!(alert.kind, expected);
        }
    }
}
