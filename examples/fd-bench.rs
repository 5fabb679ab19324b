//! `scripts/bench failure-detection`: figures of the failure detector and leader election,
//! from the deterministic simulator (virtual time, so they do not depend on this machine's
//! load), over 20 seeds each.
//! - detection latency and false suspicions, fixed vs adaptive, at np 8 under
//!   `--delay 0..20 --drop 0.05` with rank 7 crashed at 1 s, 4 s runs;
//! - election time after the leader crashes at 1 s, leader changes and messages per election,
//!   omega vs ballot, at np 4 and 8 (the leader at 1 s is found by running the seed without
//!   the crash first: runs are deterministic, so both agree until the crash).
//!
//! Usage: `fd-bench --out FILE`.

use serde_json::json;

use mpidist::algos::failure_detector::{
    detection_latencies, false_suspicions, Args as FdBinArgs, FailureDetector, FdArgs, Mode,
};
use mpidist::algos::leader_election::{
    election_times, Args as LeArgs, Ballots, LeaderElection, Variant,
};
use mpidist::shared::faults::{Crash, FaultPlan};
use mpidist::shared::runtime::sim::{simulate, SimConfig};
use mpidist::shared::Algorithm;

const SEEDS: u64 = 20;

fn fd_args(mode: Mode, duration: u64) -> FdArgs {
    FdArgs {
        mode,
        period: 10,
        timeout_initial: 30,
        delta: 20,
        duration,
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let out = argv
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| argv.get(i + 1))
        .expect("--out FILE")
        .clone();

    let mut fd = serde_json::Map::new();
    for mode in [Mode::Fixed, Mode::Adaptive] {
        let args = FdBinArgs {
            fd: fd_args(mode, 4000),
        };
        let (mut lat, mut quarters, mut heartbeats) = (Vec::new(), [0u64; 4], 0u64);
        for seed in 0..SEEDS {
            let faults = FaultPlan {
                crashes: vec![Crash {
                    rank: 7,
                    at_ms: 1000,
                }],
                drop: 0.05,
                delay_ms: Some((0, 20)),
                ..Default::default()
            };
            let cfg = SimConfig {
                np: 8,
                seed,
                faults,
                timeout_us: 60_000_000,
                record: false,
            };
            let run = simulate::<FailureDetector>(&args, &cfg);
            assert!(FailureDetector::check(&args, &run).iter().all(|c| c.passed));
            lat.extend(detection_latencies(&run).into_iter().filter_map(|(_, l)| l));
            let (q, _) = false_suspicions(&run, 4000);
            for i in 0..4 {
                quarters[i] += q[i];
            }
            heartbeats += run.metrics().total.sent;
        }
        let name = format!("{mode:?}").to_lowercase();
        println!(
            "failure detector, {name}, np 8, delay 0..20 ms, drop 0.05: detection latency mean {:.1} ms (max {:.1}); false suspicions per run {:.1}, by quarter {:?} (sum of {SEEDS} runs); {} heartbeats per run",
            mean(&lat),
            lat.iter().copied().fold(0.0, f64::max),
            quarters.iter().sum::<u64>() as f64 / SEEDS as f64,
            quarters,
            heartbeats / SEEDS
        );
        fd.insert(
            name,
            json!({
                "detection_latency_ms_mean": mean(&lat),
                "detection_latency_ms_max": lat.iter().copied().fold(0.0, f64::max),
                "false_suspicions_per_run": quarters.iter().sum::<u64>() as f64 / SEEDS as f64,
                "false_suspicions_by_quarter": quarters,
                "heartbeats_per_run": heartbeats / SEEDS,
            }),
        );
    }

    let mut le = serde_json::Map::new();
    for variant in [Variant::Omega, Variant::Ballot] {
        for np in [4usize, 8] {
            let args = LeArgs {
                variant,
                ballots: Ballots::Local,
                fd: fd_args(Mode::Adaptive, 3000),
            };
            let (mut times, mut changes, mut msgs, mut elections) = (Vec::new(), 0.0, 0u64, 0u64);
            for seed in 0..SEEDS {
                let base = SimConfig {
                    np,
                    seed,
                    faults: FaultPlan::default(),
                    timeout_us: 60_000_000,
                    record: false,
                };
                let calm = simulate::<LeaderElection>(&args, &base);
                let leader_at = |t: f64| {
                    calm.ranks[0]
                        .output
                        .changes
                        .iter()
                        .rev()
                        .find(|c| c.at_ms <= t)
                        .and_then(|c| c.leader)
                };
                let Some(leader) = leader_at(1000.0) else {
                    continue;
                };
                let cfg = SimConfig {
                    faults: FaultPlan {
                        crashes: vec![Crash {
                            rank: leader,
                            at_ms: 1000,
                        }],
                        ..Default::default()
                    },
                    ..base
                };
                let run = simulate::<LeaderElection>(&args, &cfg);
                assert!(LeaderElection::check(&args, &run).iter().all(|c| c.passed));
                times.extend(election_times(&run).into_iter().filter_map(|(_, _, t)| t));
                let correct = run.correct_ranks().count() as f64;
                changes += run
                    .correct_ranks()
                    .map(|r| r.output.changes.len())
                    .sum::<usize>() as f64
                    / correct;
                let m = run.metrics();
                let sent = |k: &str| m.sent_of(k);
                msgs += sent("RequestVote") + sent("Vote");
                elections += run.ranks.iter().map(|r| r.output.candidacies).sum::<u64>();
            }
            let key = format!("{variant:?}_np{np}").to_lowercase();
            let per_election = if elections > 0 {
                msgs as f64 / elections as f64
            } else {
                0.0
            };
            println!(
                "leader election, {variant:?}, np {np}: election time after a leader crash mean {:.1} ms (max {:.1}); leader changes per rank {:.1}; {:.1} messages per election",
                mean(&times),
                times.iter().copied().fold(0.0, f64::max),
                changes / SEEDS as f64,
                per_election
            );
            le.insert(
                key,
                json!({
                    "election_time_ms_mean": mean(&times),
                    "election_time_ms_max": times.iter().copied().fold(0.0, f64::max),
                    "leader_changes_per_rank": changes / SEEDS as f64,
                    "messages_per_election": per_election,
                    "runs": times.len(),
                }),
            );
        }
    }
    let all = json!({ "failure_detector": fd, "leader_election": le, "seeds": SEEDS });
    std::fs::write(&out, serde_json::to_string_pretty(&all).unwrap()).expect("write");
}
