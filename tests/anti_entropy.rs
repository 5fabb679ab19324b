//! anti-entropy: simulator sweeps (1,000 seeds per fault plan, for each CRDT and way of
//! syncing), real mpirun runs at np 4, 8 and 16 (gossip, Merkle, deltas, the collective merge
//! and the C originals' outputs), and bad input.

mod common;

use common::*;

/// The fault plans, at np 5 for runs of at most 1 s: safety in every seed, convergence where
/// the plan permits it (the checker decides, and says "not required" otherwise).
const PLANS: &[&str] = &[
    "--crash 1@40 --crash 3@60",          // crashed while updating
    "--crash 2@300",                      // crashed after its updates escaped
    "--drop 0.2 --dup 0.1 --delay 0..10", // lossy, duplicating, reordering
    "--drop 0.3 --heal 400",              // lossy, then reliable
    "--partition 0,1|2,3,4@0..300",       // a partition that heals
    "--crash 0@20 --drop 0.1 --delay 0..10 --partition 0,1|2,3,4@50..250",
];

/// The CRDTs, each with its own way of syncing, so every pair shows up across the tests.
const SETUPS: &[&str] = &[
    "--crdt orset",
    "--crdt lwwmap --deltas --mode push --clock lamport",
    "--crdt pncounter --sync merkle --fanout 2",
    "--crdt gcounter --mode pull --deltas",
    "--crdt lwwmap --sync merkle --skew 50",
    "--crdt orset --deltas --mode push-pull --fanout 2",
];

fn sweep(setup: &str) {
    for plan in PLANS {
        let line = format!("--np 5 --seeds 0..1000 --duration 1000 --updates 10 {setup} {plan}");
        assert_sweep_passes("anti-entropy", &args(&line));
    }
}

#[test]
fn orset_push_pull_sweeps() {
    sweep(SETUPS[0]);
}

#[test]
fn lwwmap_push_deltas_sweeps() {
    sweep(SETUPS[1]);
}

#[test]
fn pncounter_merkle_sweeps() {
    sweep(SETUPS[2]);
}

#[test]
fn gcounter_pull_deltas_sweeps() {
    sweep(SETUPS[3]);
}

#[test]
fn lwwmap_merkle_skewed_clocks_sweeps() {
    sweep(SETUPS[4]);
}

#[test]
fn orset_deltas_fanout_sweeps() {
    sweep(SETUPS[5]);
}

/// A partition that never heals: convergence is not required (and not claimed); safety holds.
#[test]
fn a_partition_that_never_heals_is_judged_not_required() {
    assert_sweep_passes(
        "anti-entropy",
        &args("--np 5 --seeds 0..200 --duration 600 --crdt orset --partition 0,1|2,3,4@0..600"),
    );
    let r = direct(
        "anti-entropy",
        &args("--sim --np 5 --duration 600 --crdt orset --partition 0,1|2,3,4@0..600"),
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("check strong-eventual-consistency: passed (not required: a partition lasts until 600 ms"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("convergence not observed by --duration"));
}

/// One rumour, push-pull: the rounds the report gives stay near log3 n + ln ln n.
#[test]
fn push_pull_spreads_one_rumour_in_about_log3_n_rounds() {
    let report = scratch("ae-rumour.json");
    let r = direct(
        "anti-entropy",
        &args(&format!(
            "--sim --np 64 --writers 1 --updates 1 --report {}",
            report.display()
        )),
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let j = read_json(&report);
    let rounds = j["rounds_to_converge"].as_f64().unwrap();
    let theory = j["theory_rounds"].as_f64().unwrap();
    assert!(
        rounds > 1.0 && rounds < 3.0 * theory,
        "{rounds} rounds against {theory}"
    );
    assert_eq!(j["observed_by"], 64);
}

#[test]
fn mpirun_gossip_merkle_and_deltas_at_4_8_and_16() {
    let rows = [
        (4, "--crdt orset"),
        (8, "--crdt lwwmap --sync merkle"),
        (16, "--crdt pncounter --deltas --mode push"),
        (4, "--crdt gcounter --crash 2@20 --duration 500"),
        (8, "--crdt orset --deltas --drop 0.1"),
        (16, "--crdt lwwmap"),
    ];
    for job in mpirun_matrix("anti-entropy", &rows) {
        assert_eq!(job.report["algorithm"], "anti-entropy");
        assert!(
            job.report["converged_ms"].as_f64().is_some(),
            "{:?}",
            job.flags
        );
    }
}

#[test]
fn mpirun_collective_merge_reproduces_the_c_originals() {
    for np in [4usize, 8, 16] {
        let r = mpirun(
            np,
            "anti-entropy",
            &args("--crdt gcounter --sync allreduce"),
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        let n = np * (np + 1) / 2;
        assert!(
            r.stdout
                .contains(&format!("global counter value {n} = N(N+1)/2 for N = {np}")),
            "{}",
            r.stdout
        );
        assert!(r.stdout.contains(&format!("rank 0: {n};")), "{}", r.stdout);
    }
    let r = mpirun(
        4,
        "anti-entropy",
        &args("--crdt lwwmap --scenario lww-map --sync allreduce --clock lamport"),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for rank in 0..4 {
        assert!(
            r.stdout
                .contains(&format!("rank {rank}: {{a => v2@r1, c => v2@r3}}")),
            "{}",
            r.stdout
        );
    }
    mpirun_at(
        "anti-entropy",
        &[8, 16],
        "--crdt orset --sync allreduce --updates 20",
    );
}

#[test]
fn bad_input_is_refused_in_one_sentence() {
    let cases = [
        ("--sim --np 4 --sync allreduce", "runs under mpirun only"),
        (
            "--sim --np 4 --sync merkle --deltas",
            "--deltas is an option of --sync gossip",
        ),
        (
            "--sim --np 4 --sync merkle --mode pull",
            "--mode is an option of --sync gossip",
        ),
        ("--sim --np 4 --scenario lww-map", "add --crdt lwwmap"),
        (
            "--sim --np 4 --writers 5",
            "--writers 5 exceeds the 4 ranks",
        ),
        (
            "--sim --np 4 --updates 100 --duration 400",
            "past the --duration",
        ),
        ("--sim --np 4 --fanout 0", "--fanout"),
        ("--sim --np 4 --crdt bag", "--crdt"),
        ("--sim --np 4 --restart 1@5", "crash-stop"),
    ];
    for (line, needle) in cases {
        let r = direct("anti-entropy", &args(line));
        assert_eq!(r.code, 2, "{line}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(needle), "{line}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{line}: {}", r.stderr);
    }
    let r = mpirun(2, "anti-entropy", &args("--sync allreduce --drop 0.1"));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("cannot lose a rank or a message"),
        "{}",
        r.stderr
    );
}
