//! single-paxos: the model checker over the real state machine, simulator sweeps (1,000 seeds
//! per fault plan), real mpirun runs with a crash and with drop, and bad input.

mod common;

use common::*;
use mpidist::algos::single_paxos::model::{explore, ModelConfig};

#[test]
fn model_checker_proves_agreement_and_validity_on_two_proposers_three_acceptors() {
    let r = explore(ModelConfig::default());
    eprintln!(
        "single-paxos model: {} states, {} transitions, depth {}, {} with a decision",
        r.states, r.transitions, r.max_depth, r.deciding_states
    );
    assert!(r.complete, "the state space was cut at {} states", r.states);
    assert_eq!(r.violation, None);
    assert!(r.states > 10_000 && r.deciding_states > 0, "{r:?}");
}

#[test]
fn model_checker_finds_the_originals_bugs() {
    // A minority quorum (1 of 3): two proposers get different values chosen.
    let r = explore(ModelConfig {
        quorum: 1,
        ..ModelConfig::default()
    });
    let v = r.violation.expect("a minority quorum must break agreement");
    assert!(v.starts_with("agreement"), "{v}");
    // Accepting in phase 1 (the C original): a value nobody proposed gets decided.
    let r = explore(ModelConfig {
        accept_in_phase1: true,
        ..ModelConfig::default()
    });
    assert!(
        r.violation.is_some(),
        "phase-1 accept must break a property: {r:?}"
    );
}

/// The fault plans, each over 1,000 seeds: every check (safety, and termination wherever the
/// plan permits it) must pass in every seed.
const PLANS: &[&str] = &[
    "--np 4",
    "--np 6",
    "--np 8 --drop 0.2 --dup 0.1 --delay 0..5 --heal 300",
    // np 7: client 0, proposers 1-2, acceptors 3-5, learner 6.
    "--np 7 --proposers 2 --acceptors 3 --learners 1 --crash 1@2",
    "--np 7 --proposers 2 --acceptors 3 --learners 1 --crash 3@1 --crash 1@3",
    // Crash during phase 2 (Accept goes out about 3 ms in), with loss.
    "--np 7 --proposers 2 --acceptors 3 --learners 1 --crash 1@3 --drop 0.1 --heal 200",
    // The proposer cut off, then healed.
    "--np 7 --proposers 2 --acceptors 3 --learners 1 --partition 1|0,2,3,4,5,6@0..150",
    // Dueling proposers with equal timeouts.
    "--np 8 --proposers 3 --acceptors 3 --learners 1",
    "--np 5 --colocate --crash 0@2 --drop 0.1 --heal 200",
];

#[test]
fn sweeps() {
    for plan in PLANS {
        let mut argv = args("--seeds 0..1000");
        argv.extend(args(plan));
        assert_sweep_passes("single-paxos", &argv);
    }
}

#[test]
fn a_minority_quorum_is_caught_by_the_checker_in_some_seeds() {
    // Three clients with different values, two proposers, and a quorum of 1 of 3 acceptors.
    let plan = "--seeds 0..300 --np 9 --proposers 2 --acceptors 3 --learners 1 --delay 0..5";
    let r = direct("single-paxos", &args(plan));
    assert_eq!(r.code, 0, "with a majority: {}", r.stdout);
    let r = direct("single-paxos", &args(&format!("{plan} --quorum 1")));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("check uniform-agreement FAILED"),
        "{}",
        r.stdout
    );
}

#[test]
fn under_mpirun() {
    // np 5 by default: client 0, proposer 1, acceptors 2-3, learner 4; np 8: two of each.
    let jobs = mpirun_matrix(
        "single-paxos",
        &[
            (4, ""),
            (5, "--colocate --crash 0@1 --drop 0.2"),
            (5, "--proposers 2 --acceptors 1 --learners 1 --crash 1@0"),
            (8, "--crash 2@1 --drop 0.1"),
        ],
    );
    for job in &jobs {
        let j = &job.report;
        let decided = j["decided"].as_u64().expect("a value was decided");
        // Every correct client and learner reports that value; it is some client's.
        let mut proposed = Vec::new();
        let mut deciders = 0;
        for rank in j["ranks"].as_array().unwrap() {
            proposed.extend(rank["output"]["proposed"].as_u64());
            if rank["crashed"].as_bool() == Some(true) {
                continue;
            }
            for what in ["learned", "heard"] {
                for d in rank["output"][what].as_array().unwrap() {
                    assert_eq!(d[0].as_u64(), Some(decided), "{what} at {rank}");
                    deciders += 1;
                }
            }
        }
        assert!(proposed.contains(&decided), "{decided} not in {proposed:?}");
        assert!(deciders >= 2, "{j}");
        assert!(j["messages"].as_u64().unwrap() > 0);
        assert!(j["ballots"].as_u64().unwrap() >= 1);
        // The roles' own communicators agreed too.
        let groups = j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "role-groups");
        let detail = groups.expect("a role-groups check under MPI")["detail"]
            .as_str()
            .unwrap();
        assert!(
            detail.contains("learners") && detail.contains(&decided.to_string()),
            "{detail}"
        );
    }
}

#[test]
fn under_mpirun_a_run_that_cannot_decide_says_so_and_ends() {
    // The only proposer crashes at once: nobody can decide, and the ranks give up at 500 ms.
    let report = scratch("single-paxos-no-proposer.json");
    let flags = format!("--report {} --crash 1@0 --give-up 500", report.display());
    let r = mpirun(5, "single-paxos", &args(&flags));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = read_json(&report);
    assert!(j["decided"].is_null(), "{j}");
    let termination = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "termination")
        .expect("a termination check");
    assert!(
        termination["detail"]
            .as_str()
            .unwrap()
            .contains("not required: every proposer crashes"),
        "{termination}"
    );
    assert!(
        j["ranks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["output"]["gave_up"] == true),
        "a rank gave up: {j}"
    );
}

#[test]
fn bad_input() {
    for (flags, says) in [
        ("--sim --np 3", "at least 4 ranks"),
        (
            "--sim --np 4 --proposers 2 --acceptors 1 --learners 1",
            "leave no rank for a client",
        ),
        ("--sim --np 5 --acceptors 0", "at least 1"),
        ("--sim --np 5 --colocate --proposers 2", "--colocate"),
    ] {
        let r = direct("single-paxos", &args(flags));
        assert_eq!(r.code, 2, "{flags}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(says), "{flags}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert_eq!(
            r.stderr.trim().lines().count(),
            1,
            "one sentence: {}",
            r.stderr
        );
    }
}

#[test]
fn a_duel_ended_only_by_give_up_is_not_termination() {
    // Six proposers with no backoff duel; when they give up, the last ballot completes. That
    // decision is not the algorithm terminating, and the check says so.
    let r = direct(
        "single-paxos",
        &args("--sim --np 6 --colocate --delay 0..5 --backoff 0 --patience 5 --seed 3"),
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("check termination: FAILED (correct rank 0 gave up after"),
        "{}",
        r.stdout
    );
}
