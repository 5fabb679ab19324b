//! Simulator sweeps: safety in every seed, with and without faults; liveness where the fault
//! plan lets the run finish; determinism.

mod common;

use common::*;
use mpidist::algos::clocks::lamport::{self, Lamport, LamportArgs};
use mpidist::algos::clocks::vector::{self, Vector, VectorArgs};
use mpidist::shared::faults::{parse_partition, Crash, FaultPlan};
use mpidist::shared::observe::report::Ending;
use mpidist::shared::runtime::sim::{simulate, SimConfig};
use mpidist::shared::Algorithm;

const SEEDS: u64 = 1000;

fn plans() -> Vec<(&'static str, FaultPlan)> {
    vec![
        ("none", FaultPlan::default()),
        (
            "lossy",
            FaultPlan {
                drop: 0.15,
                dup: 0.1,
                delay_ms: Some((0, 4)),
                ..Default::default()
            },
        ),
        (
            "crashes",
            FaultPlan {
                crashes: vec![Crash { rank: 1, at_ms: 2 }, Crash { rank: 3, at_ms: 0 }],
                drop: 0.05,
                ..Default::default()
            },
        ),
        (
            "partition",
            FaultPlan {
                partitions: vec![parse_partition("0,1|2,3,4@0..5").unwrap()],
                delay_ms: Some((0, 2)),
                ..Default::default()
            },
        ),
    ]
}

/// Every seed: every check passes and the run finishes (all these plans allow it).
fn sweep<A: Algorithm>(args: &A::Args, np_of: impl Fn(u64) -> usize) {
    for (name, faults) in plans() {
        for seed in 0..SEEDS {
            let np = np_of(seed);
            let cfg = SimConfig {
                np,
                seed,
                faults: faults.clone(),
                timeout_us: 60_000_000,
                record: false,
            };
            let run = simulate::<A>(args, &cfg);
            assert_eq!(
                run.ending,
                Ending::Finished,
                "{} {name} seed {seed} np {np}",
                A::NAME
            );
            for c in A::check(args, &run) {
                assert!(c.passed, "{} {name} seed {seed} np {np}: {c:?}", A::NAME);
            }
        }
    }
}

// np from 5 to 8 so that the plans' ranks exist; the seed picks it.
fn np_of(seed: u64) -> usize {
    5 + (seed % 4) as usize
}

#[test]
fn lamport_star_sweep() {
    let args = LamportArgs {
        pattern: lamport::Pattern::Star,
        events: 10,
        patience: 50,
    };
    sweep::<Lamport>(&args, np_of);
}

#[test]
fn lamport_random_sweep() {
    let args = LamportArgs {
        pattern: lamport::Pattern::Random,
        events: 8,
        patience: 50,
    };
    sweep::<Lamport>(&args, np_of);
}

#[test]
fn vector_ring_sweep() {
    let args = VectorArgs {
        pattern: vector::Pattern::Ring,
        rounds: 3,
        events: 10,
        patience: 50,
    };
    sweep::<Vector>(&args, np_of);
}

#[test]
fn vector_random_sweep() {
    let args = VectorArgs {
        pattern: vector::Pattern::Random,
        rounds: 1,
        events: 8,
        patience: 50,
    };
    sweep::<Vector>(&args, np_of);
}

#[test]
fn random_pattern_produces_concurrency_and_the_checker_counts_it() {
    let args = VectorArgs {
        pattern: vector::Pattern::Random,
        rounds: 1,
        events: 10,
        patience: 50,
    };
    let cfg = SimConfig {
        np: 4,
        seed: 3,
        faults: FaultPlan::default(),
        timeout_us: 10_000_000,
        record: false,
    };
    let run = simulate::<Vector>(&args, &cfg);
    let counts = vector::pair_counts(run.history.as_ref().unwrap());
    assert!(counts.concurrent > 0 && counts.ordered > 0, "{counts:?}");
}

#[test]
fn one_seed_twice_gives_the_same_trace_and_report() {
    let run = |seed: &str| {
        let trace = scratch(&format!("det-{seed}-{}.log", rand_suffix()));
        let report = scratch(&format!("det-{seed}-{}.json", rand_suffix()));
        let r = direct(
            "vector",
            &args(&format!(
                "--sim --np 6 --pattern random --drop 0.1 --dup 0.1 --delay 0..3 --crash 2@3 \
                 --seed {seed} --trace {} --report {}",
                trace.to_str().unwrap(),
                report.display()
            )),
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        (
            std::fs::read(trace).unwrap(),
            std::fs::read(report).unwrap(),
            r.stdout,
        )
    };
    let a = run("42");
    let b = run("42");
    assert_eq!(a, b, "same seed, same run, byte for byte");
    let c = run("43");
    assert_ne!(a.0, c.0, "another seed, another run");
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn cli_sweep_exits_0_and_reports_the_count() {
    assert_sweep_passes(
        "lamport",
        &args("--np 4 --seeds 0..1000 --pattern random --drop 0.1 --crash 2@1"),
    );
}

#[test]
fn cli_sweep_prints_the_reproducing_command_of_a_failing_seed() {
    // A timeout shorter than the run makes every seed fail to finish: exit 3, one command each.
    let r = direct(
        "vector",
        &args("--np 3 --seeds 5..7 --timeout 0.001 --rounds 50"),
    );
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stdout.contains("reproduce: "), "{}", r.stdout);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("reproduce: "))
        .unwrap();
    let cmd: Vec<&str> = line
        .split("reproduce: ")
        .nth(1)
        .unwrap()
        .split(' ')
        .collect();
    assert!(
        cmd.contains(&"--seed") && cmd.contains(&"5") && !cmd.contains(&"--seeds"),
        "{line}"
    );
    let again = direct("vector", &cmd[1..]);
    assert_eq!(
        again.code, 3,
        "the printed command reproduces the failure: {}",
        again.stdout
    );
}

#[test]
fn sim_report_has_the_documented_schema() {
    let report = scratch("schema.json");
    let r = direct(
        "lamport",
        &args(&format!(
            "--sim --np 3 --dup 0.3 --report {}",
            report.display()
        )),
    );
    assert_eq!(r.code, 0);
    let rep = read_json(&report);
    for key in [
        "algorithm",
        "driver",
        "np",
        "seed",
        "args",
        "faults",
        "faults_text",
        "ending",
        "elapsed_s",
        "checks",
        "summary",
        "metrics",
        "ranks",
    ] {
        assert!(!rep[key].is_null(), "missing {key}");
    }
    for key in [
        "messages_sent",
        "messages_delivered",
        "messages_dropped",
        "messages_duplicated",
        "messages_lost_to_crash",
        "bytes_sent",
        "decode_failures",
        "by_kind",
        "communication_steps",
    ] {
        assert!(!rep["metrics"][key].is_null(), "missing metrics.{key}");
    }
    assert_eq!(rep["algorithm"], "lamport");
    assert_eq!(rep["ranks"].as_array().unwrap().len(), 3);
    assert_eq!(rep["metrics"]["by_kind"]["Request"]["sent"], 2);
    assert_checks_passed(&rep);
}

#[test]
fn happens_before_pair_count_matches_brute_force() {
    use mpidist::shared::observe::history::happened_before;
    let args = VectorArgs {
        pattern: vector::Pattern::Random,
        rounds: 1,
        events: 12,
        patience: 50,
    };
    for seed in 0..20 {
        let faults = FaultPlan {
            drop: 0.1,
            dup: 0.1,
            delay_ms: Some((0, 3)),
            crashes: vec![Crash { rank: 2, at_ms: 4 }],
            ..Default::default()
        };
        let cfg = SimConfig {
            np: 5,
            seed,
            faults,
            timeout_us: 10_000_000,
            record: false,
        };
        let run = simulate::<Vector>(&args, &cfg);
        let h = run.history.as_ref().unwrap();
        let vcs: Vec<&Vec<u64>> = h
            .events()
            .filter(|(_, e)| e.kind != mpidist::shared::observe::history::EventKind::Crash)
            .map(|(_, e)| &e.vc)
            .collect();
        let mut ordered = 0u64;
        for a in &vcs {
            for b in &vcs {
                ordered += u64::from(happened_before(a, b));
            }
        }
        assert_eq!(vector::pair_counts(h).ordered, ordered, "seed {seed}");
    }
}

#[test]
fn duplicated_tokens_do_not_count_as_rounds() {
    let args = VectorArgs {
        pattern: vector::Pattern::Ring,
        rounds: 4,
        events: 1,
        patience: 50,
    };
    for seed in 0..200 {
        let faults = FaultPlan {
            dup: 0.5,
            delay_ms: Some((0, 3)),
            ..Default::default()
        };
        let cfg = SimConfig {
            np: 5,
            seed,
            faults,
            timeout_us: 10_000_000,
            record: false,
        };
        let run = simulate::<Vector>(&args, &cfg);
        let o = &run.ranks[0].output;
        assert_eq!((o.rounds, o.gave_up), (4, false), "seed {seed}");
        // Every rank forwarded each trip exactly once: 4 trips of 5 hops, plus the copies.
        let tokens = run.metrics().total.sent;
        assert_eq!(tokens, 4 * 5, "seed {seed}");
    }
}

#[test]
fn large_histories_are_checked_in_linear_time() {
    // Far above the pairwise limit: the checkers take the linear path and still pass.
    let args = VectorArgs {
        pattern: vector::Pattern::Random,
        rounds: 1,
        events: 2000,
        patience: 50,
    };
    let cfg = SimConfig {
        np: 4,
        seed: 9,
        faults: FaultPlan::default(),
        timeout_us: 60_000_000,
        record: false,
    };
    let run = simulate::<Vector>(&args, &cfg);
    assert!(run.history.as_ref().unwrap().events().count() > vector::PAIRWISE_LIMIT);
    for c in Vector::check(&args, &run) {
        assert!(c.passed, "{c:?}");
    }
    let largs = LamportArgs {
        pattern: lamport::Pattern::Random,
        events: 2000,
        patience: 50,
    };
    let run = simulate::<Lamport>(&largs, &cfg);
    for c in Lamport::check(&largs, &run) {
        assert!(c.passed, "{c:?}");
    }
}
