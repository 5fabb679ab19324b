//! `shared-counter` under real mpirun (one job at a time), in-process threads, and bad input.

mod common;

use common::*;

/// The np values to run RMA at. MPICH 4.0's ch4:ucx carries these atomics as active messages
/// that need the target in MPI: with more ranks than cores one rank starved (13 ops/s, runs
/// past any timeout), so under MPICH only np up to the cores (2 here) is tested; the cluster
/// test runs it at np 6 on 3 emulated hosts. See the README (MPICH).
fn rma_nps(all: &[usize]) -> Vec<usize> {
    if std::env::var("MPIDIST_MPI").as_deref() != Ok("mpich") {
        return all.to_vec();
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kept: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&np| np <= cores.max(2))
        .collect();
    eprintln!("MPICH: shared-counter under mpirun at np {kept:?} only (of {all:?}): more ranks than cores starve under its active-message RMA");
    kept
}

#[test]
fn every_op_and_scheme_at_several_np() {
    let nps = rma_nps(&[1, 2, 4, 8]);
    for op in ["fetch-add", "cas", "max", "swap", "read"] {
        for scheme in ["rma", "legacy"] {
            let tag = format!("{op}-{scheme}");
            let flags = format!("--op {op} --ops 300 --scheme {scheme}");
            for job in mpirun_at("shared-counter", &nps, &flags) {
                let (np, rep) = (job.np, job.report);
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
    // Rank 2 crashes at 30 ms, rank 1 hosts; at np 2 (MPICH, see `rma_nps`) rank 0 crashes.
    let np = *rma_nps(&[4]).first().unwrap_or(&2);
    let crashed = if np == 4 { 2 } else { 0 };
    let crash = format!("{crashed}@30");
    let flags = format!("--ops 1000000 --crash {crash} --host 1");
    let rep = mpirun_at("shared-counter", &[np], &flags).remove(0).report;
    let ranks = rep["ranks"].as_array().unwrap();
    assert_eq!(ranks[crashed]["crashed"], true);
    let done = ranks[crashed]["output"]["ops_done"].as_u64().unwrap();
    assert!(done < 1_000_000, "rank {crashed} stopped early: {done}");
    let total: u64 = ranks
        .iter()
        .map(|r| r["output"]["ops_done"].as_u64().unwrap())
        .sum();
    assert_eq!(rep["throughput"]["final_value"], total);
}

#[test]
fn host_crash_and_bad_input_are_refused() {
    let r = mpirun(2, "shared-counter", &args("--crash 0@5"));
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.matches("centralized").count(), 1, "{}", r.stderr);
    for (flags, needle) in [
        ("--host 3", "rank 3 does not exist"),
        ("--ops 0", "--ops"),
        ("--ops 99999999999", "--ops"),
        ("--op increment", "invalid value 'increment'"),
        ("--drop 0.1", "do not apply"),
    ] {
        let r = direct("shared-counter", &args(&format!("--sim --np 2 {flags}")));
        assert_eq!(r.code, 2, "{flags}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{flags}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
}

#[test]
fn threads_in_process() {
    for op in ["fetch-add", "cas", "max", "swap", "read"] {
        for scheme in ["rma", "legacy"] {
            let r = direct(
                "shared-counter",
                &args(&format!(
                    "--sim --np 4 --op {} --scheme {} --ops 5000",
                    op, scheme
                )),
            );
            assert_eq!(r.code, 0, "{op} {scheme}: {}{}", r.stdout, r.stderr);
        }
    }
}
