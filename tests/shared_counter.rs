//! `shared-counter` under real mpirun (one job at a time), in-process threads, and bad input.

mod common;

use common::*;

fn report_of(np: usize, args: &[&str], tag: &str) -> serde_json::Value {
    let report = scratch(&format!("counter-{tag}-{np}.json"));
    let mut all = args.to_vec();
    let rp = report.to_str().unwrap().to_string();
    all.extend(["--report", &rp]);
    let r = mpirun(np, "shared-counter", &all);
    assert_eq!(r.code, 0, "np={np} {args:?}\n{}{}", r.stdout, r.stderr);
    read_json(&report)
}

#[test]
fn every_op_and_scheme_at_several_np() {
    for np in [1, 2, 4, 8] {
        for op in ["fetch-add", "cas", "max", "swap", "read"] {
            for scheme in ["rma", "legacy"] {
                let tag = format!("{op}-{scheme}");
                let rep = report_of(np, &["--op", op, "--ops", "300", "--scheme", scheme], &tag);
                assert_checks_passed(&rep);
                assert_eq!(rep["throughput"]["operations"], 300 * np as u64, "{tag}");
                if op == "fetch-add" || op == "cas" {
                    assert_eq!(rep["throughput"]["final_value"], 300 * np as u64, "{tag}");
                }
                assert!(rep["throughput"]["ops_per_s"].as_f64().unwrap() > 0.0);
            }
        }
    }
}

#[test]
fn a_crashed_rank_stops_and_the_checks_count_what_it_did() {
    let rep = report_of(
        4,
        &["--ops", "1000000", "--crash", "2@30", "--host", "1"],
        "crash",
    );
    assert_checks_passed(&rep);
    let ranks = rep["ranks"].as_array().unwrap();
    assert_eq!(ranks[2]["crashed"], true);
    let done2 = ranks[2]["output"]["ops_done"].as_u64().unwrap();
    assert!(done2 < 1_000_000, "rank 2 stopped early: {done2}");
    let total: u64 = ranks
        .iter()
        .map(|r| r["output"]["ops_done"].as_u64().unwrap())
        .sum();
    assert_eq!(rep["throughput"]["final_value"], total);
}

#[test]
fn host_crash_and_bad_input_are_refused() {
    let r = mpirun(2, "shared-counter", &["--crash", "0@5"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.matches("centralized").count(), 1, "{}", r.stderr);
    for (args, needle) in [
        (vec!["--host", "3"], "rank 3 does not exist"),
        (vec!["--ops", "0"], "--ops"),
        (vec!["--ops", "99999999999"], "--ops"),
        (vec!["--op", "increment"], "invalid value 'increment'"),
        (vec!["--drop", "0.1"], "do not apply"),
    ] {
        let mut a = vec!["--sim", "--np", "2"];
        a.extend(args.iter().copied());
        let r = direct("shared-counter", &a);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
}

#[test]
fn threads_in_process() {
    for op in ["fetch-add", "cas", "max", "swap", "read"] {
        for scheme in ["rma", "legacy"] {
            let r = direct(
                "shared-counter",
                &[
                    "--sim", "--np", "4", "--op", op, "--scheme", scheme, "--ops", "5000",
                ],
            );
            assert_eq!(r.code, 0, "{op} {scheme}: {}{}", r.stdout, r.stderr);
        }
    }
}
