//! Acceptance: the circuit breaker's transitions and their timing, across 1,000 seeds.

mod support;

use std::time::Duration;

use bulkhead_core::{ChatModel, Error, ErrorKind};
use bulkhead_retry::{Circuit, CircuitBreaker, CircuitConfig, CircuitState};
use support::{Scripted, Step, request, unavailable};

const OPEN: Duration = Duration::from_secs(15);
const MS: Duration = Duration::from_millis(1);

/// A tiny seeded generator for shuffling and spacing calls.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn shuffled(&mut self, failures: usize, successes: usize) -> Vec<bool> {
        let mut v: Vec<bool> = (0..failures + successes).map(|i| i < failures).collect();
        for i in (1..v.len()).rev() {
            v.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
        v
    }
}

fn config() -> CircuitConfig {
    CircuitConfig {
        failure_ratio: 0.5,
        min_requests: 20,
        window: Duration::from_secs(30),
        open: OPEN,
        half_open_probes: 3,
    }
}

/// Send one call per outcome through a breaker, spaced by up to 100 ms; return the states seen.
async fn play(
    breaker: &CircuitBreaker<Scripted>,
    outcomes: &[bool],
    rng: &mut Rng,
) -> Vec<CircuitState> {
    let mut states = Vec::new();
    for &fail in outcomes {
        tokio::time::advance(MS * (rng.next() % 100) as u32).await;
        breaker.inner().push(if fail {
            Step::Fail(unavailable())
        } else {
            Step::Ok
        });
        let _ = breaker.chat(request()).await;
        states.push(breaker.state());
    }
    states
}

fn breaker() -> CircuitBreaker<Scripted> {
    CircuitBreaker::new(Scripted::new([]), Circuit::new("upstream", config()))
}

async fn assert_rejected(breaker: &CircuitBreaker<Scripted>) {
    let calls = breaker.inner().calls();
    let err: Error = breaker
        .chat(request())
        .await
        .expect_err("the call should fail");
    assert_eq!(err.kind(), ErrorKind::CircuitOpen);
    assert_eq!(
        breaker.inner().calls(),
        calls,
        "an open circuit must not call upstream"
    );
}

#[tokio::test(start_paused = true)]
async fn breaker_transitions_are_exact_across_a_thousand_seeds() {
    for seed in 0..1_000 {
        let mut rng = Rng(seed);

        // 9 failures in 20: below the ratio, never opens.
        let healthy = breaker();
        let states = play(&healthy, &rng.shuffled(9, 11), &mut rng).await;
        assert!(
            states.iter().all(|s| *s == CircuitState::Closed),
            "seed {seed}"
        );

        // 10 failures in the first 19 (above the ratio, below min_requests) stays closed; a
        // 20th outcome, even a success, makes exactly 0.5 and opens it.
        let b = breaker();
        let states = play(&b, &rng.shuffled(10, 9), &mut rng).await;
        assert!(
            states.iter().all(|s| *s == CircuitState::Closed),
            "seed {seed}"
        );
        play(&b, &[false], &mut rng).await;
        assert_eq!(b.state(), CircuitState::Open, "seed {seed}");
        assert_rejected(&b).await;

        // Still open 1 ms before open_secs; half-open at open_secs.
        tokio::time::advance(OPEN - MS).await;
        assert_eq!(b.state(), CircuitState::Open, "seed {seed}");
        assert_rejected(&b).await;
        tokio::time::advance(MS).await;
        assert_eq!(b.state(), CircuitState::HalfOpen, "seed {seed}");

        // Exactly 3 probes are admitted; the fourth is rejected while they are in flight.
        let circuit = b.circuit();
        let probes: Vec<_> = (0..3)
            .map(|_| circuit.try_acquire().expect("a probe is admitted"))
            .collect();
        assert!(probes.iter().all(|p| p.is_probe()));
        assert!(circuit.try_acquire().is_err(), "seed {seed}");
        // Successful probes close it (the last one does).
        let mut probes = probes.into_iter();
        probes.next().expect("probe").success();
        probes.next().expect("probe").success();
        assert_eq!(b.state(), CircuitState::HalfOpen, "seed {seed}");
        probes.next().expect("probe").success();
        assert_eq!(b.state(), CircuitState::Closed, "seed {seed}");

        // Open it again; a failed probe reopens it for another open_secs.
        play(&b, &[true; 20], &mut rng).await;
        assert_eq!(b.state(), CircuitState::Open, "seed {seed}");
        tokio::time::advance(OPEN).await;
        let probe_calls = b.inner().calls();
        play(&b, &[true], &mut rng).await;
        assert_eq!(
            b.inner().calls(),
            probe_calls + 1,
            "the probe reached upstream"
        );
        assert_eq!(
            b.state(),
            CircuitState::Open,
            "seed {seed}: failed probe reopens"
        );
        // The play above advanced up to 99 ms before the probe; reopen counts from the probe.
        tokio::time::advance(OPEN - MS).await;
        assert_eq!(b.state(), CircuitState::Open, "seed {seed}");
        tokio::time::advance(MS).await;
        assert_eq!(b.state(), CircuitState::HalfOpen, "seed {seed}");
    }
}

#[tokio::test(start_paused = true)]
async fn bad_requests_do_not_open_the_circuit_and_old_outcomes_expire() {
    let b = breaker();
    let mut rng = Rng(1);
    let bad = vec![Step::Fail(Error::bad_request("no")); 30];
    for step in bad {
        b.inner().push(step);
        let _ = b.chat(request()).await;
    }
    assert_eq!(b.state(), CircuitState::Closed);
    // 15 failures, then 31 s later 5 more: the first 15 have left the window.
    play(&b, &[true; 15], &mut rng).await;
    tokio::time::advance(Duration::from_secs(31)).await;
    play(&b, &[true; 5], &mut rng).await;
    assert_eq!(b.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_frees_its_slot() {
    let b = breaker();
    play(&b, &[true; 20], &mut Rng(0)).await;
    tokio::time::advance(OPEN).await;
    let probes: Vec<_> = (0..3)
        .map(|_| b.circuit().try_acquire().expect("a probe is admitted"))
        .collect();
    assert!(b.circuit().try_acquire().is_err());
    drop(probes);
    assert!(b.circuit().try_acquire().is_ok());
}
