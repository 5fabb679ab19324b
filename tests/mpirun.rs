//! Both binaries under real mpirun (through scripts/mpirun), one job at a time.

mod common;

use common::*;
use serde_json::Value;

/// The report of one job that must pass, at np `np`.
fn run_ok(np: usize, name: &str, flags: &str) -> Value {
    mpirun_at(name, &[np], flags).remove(0).report
}

#[test]
fn lamport_star_at_several_np() {
    for job in mpirun_at("lamport", &[1, 2, 4, 8], "") {
        let (np, rep) = (job.np, job.report);
        assert_eq!(rep["ranks"][0]["output"]["replies"], np - 1);
        // 2 messages per responder, each delivered.
        assert_eq!(rep["metrics"]["messages_delivered"], 2 * (np - 1));
        assert_eq!(
            rep["metrics"]["communication_steps"],
            if np > 1 { 2 } else { 0 }
        );
    }
}

#[test]
fn lamport_random_with_crash_and_drop() {
    let flags = "--pattern random --events 20 --crash 1@5 --drop 0.2";
    for job in mpirun_at("lamport", &[2, 4, 8], flags) {
        let rep = job.report;
        assert_eq!(rep["ranks"][1]["crashed"], true);
        assert_eq!(rep["ranks"][0]["crashed"], false);
    }
}

#[test]
fn vector_ring_at_several_np() {
    for job in mpirun_at("vector", &[1, 2, 4, 8], "--rounds 3") {
        let (np, rep) = (job.np, job.report);
        assert_eq!(rep["ranks"][0]["output"]["rounds"], 3);
        // Every rank ticks twice per round (rank 0: send, then receive; the others: receive,
        // then send), and rank 0's last receive has seen everything. Alone, one tick a round.
        let per_rank = if np == 1 { 3 } else { 2 * 3 };
        assert_eq!(
            rep["ranks"][0]["output"]["vc"],
            Value::from(vec![per_rank; np])
        );
    }
}

#[test]
fn vector_random_with_crash_drop_and_delay() {
    let flags = "--pattern random --events 15 --crash 0@4 --drop 0.1 --delay 0..3 --dup 0.1";
    for job in mpirun_at("vector", &[2, 4, 8], flags) {
        let rep = job.report;
        assert_eq!(rep["ranks"][0]["crashed"], true);
    }
}

#[test]
fn lost_token_gives_up_after_patience() {
    let rep = run_ok(4, "vector", "--drop 1 --patience 100");
    assert_eq!(rep["ranks"][0]["output"]["gave_up"], true);
    assert_eq!(rep["metrics"]["messages_dropped"], 1);
}

#[test]
fn trace_parses_with_the_shiviz_regex_and_svg_is_xml() {
    let trace = scratch("mpi-trace.log");
    let svg = scratch("mpi-diagram.svg");
    let r = mpirun(
        4,
        "lamport",
        &args(&format!(
            "--pattern random --events 8 --drop 0.2 --crash 3@3 --trace {} --diagram {}",
            trace.to_str().unwrap(),
            svg.to_str().unwrap()
        )),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let re = regex::Regex::new(mpidist::shared::observe::trace::SHIVIZ_REGEX).unwrap();
    let log = std::fs::read_to_string(&trace).unwrap();
    let mut lines = 0;
    for line in log.lines() {
        let caps = re
            .captures(line)
            .unwrap_or_else(|| panic!("line does not match: {line}"));
        let host = &caps["host"];
        let clock: serde_json::Map<String, Value> = serde_json::from_str(&caps["clock"]).unwrap();
        assert!(clock[host].as_u64().unwrap() >= 1, "own entry: {line}");
        lines += 1;
    }
    assert!(lines >= 4 * 8, "one line per event: {lines}");
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
}

#[test]
fn timeout_with_messages_in_flight_exits_3_without_a_panic() {
    // A token that never stops circulating, and a random workload still sending delayed
    // messages: the run ends at the timeout with traffic in flight.
    for (name, flags) in [
        ("vector", "--rounds 100000 --timeout 0.5"),
        (
            "lamport",
            "--pattern random --events 100000 --delay 0..5 --timeout 0.5",
        ),
    ] {
        let r = mpirun(4, name, &args(flags));
        assert_eq!(r.code, 3, "{name}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("did NOT finish"), "{}", r.stdout);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
}

#[test]
fn partition_that_heals() {
    let rep = run_ok(
        4,
        "lamport",
        "--pattern random --events 30 --partition 0,1|2,3@0..20",
    );
    assert!(
        rep["metrics"]["messages_dropped"].as_u64().unwrap() > 0,
        "{}",
        rep["metrics"]
    );
}

#[test]
fn timeout_exits_3() {
    let r = mpirun(2, "vector", &args("--drop 1 --patience 60000 --timeout 1"));
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("did NOT finish"), "{}", r.stdout);
}

#[test]
fn bad_input_under_mpirun_says_one_sentence_once() {
    let r = mpirun(2, "lamport", &args("--crash 5@10"));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.matches("rank 5 does not exist").count(),
        1,
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"));
    let r = mpirun(2, "vector", &args("--drop 1.5"));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.matches("between 0 and 1").count(),
        1,
        "{}",
        r.stderr
    );
}

/// A real `kill -9` of one rank, by `scripts/kill RANK` (found by its rank, nothing else
/// signalled): MPI ends the job, and the wrapper says which rank died, by which signal, and
/// how to crash a rank the algorithms survive.
#[test]
fn a_rank_killed_by_a_signal_is_explained() {
    let _guard = mpirun_lock();
    let kill = |line: &str| {
        std::process::Command::new(root().join("scripts/kill"))
            .args(args(line))
            .output()
            .unwrap()
    };
    // No job: nothing to signal, said in one sentence.
    let none = kill("1");
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no running rank 1"));
    let child = std::process::Command::new(root().join("scripts/mpirun"))
        .args(args("-np 3"))
        .arg(bin("raft"))
        .args(args("--requests 100000000 --timeout 60"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Rank 1, as soon as it runs.
    let started = std::time::Instant::now();
    let said = loop {
        let out = kill("--binary raft 1 KILL");
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "rank 1 never found: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(
        said.starts_with("scripts/kill: sent SIGKILL to rank 1 of raft (pid "),
        "{said}"
    );
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(137), "{stderr}");
    assert!(
        stderr.contains("was killed by signal 9 (Killed), and MPI ended the whole job")
            && stderr.contains("use --crash RANK@MS"),
        "{stderr}"
    );
    // Open MPI names the rank; Hydra only its process id.
    let pid = said
        .rsplit("pid ")
        .next()
        .unwrap()
        .trim()
        .trim_end_matches(')');
    assert!(
        stderr.contains("rank 1 on host") || stderr.contains(&format!("(PID {pid})")),
        "the dead rank named: {stderr}"
    );
}
