//! distributed-hashmap: simulator sweeps (1,000 seeds per plan, every check in every seed),
//! weak quorums whose stale reads the checker must find, a majority of a group down, 200 ranks
//! in seconds, real mpirun runs with a crash and with drop, and bad input.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Each over 1,000 seeds; majority quorums (the default) must be linearizable in every seed.
const PLANS: &[(&str, &str)] = &[
    ("no faults, 3 servers", "--np 5 --clients 2"),
    (
        "drop 0.2, dup and delay, 3 of 5 servers per key",
        "--np 7 --clients 2 --replicas 3 --drop 0.2 --dup 0.1 --delay 0..5",
    ),
    // 2 of 5 replicas of every key down: a minority of each group.
    (
        "minority crash per group",
        "--np 8 --clients 2 --replicas 5 --crash 0@15 --crash 4@40 --delay 0..3",
    ),
    (
        "one crash, 3 replicas of 6 servers, anti-entropy",
        "--np 9 --clients 3 --replicas 3 --crash 2@20 --drop 0.1 --anti-entropy 5",
    ),
    // Anti-entropy after the links heal: every live replica must end with the same versions
    // (replicas-converged is required under this plan).
    (
        "lossy links that heal, a crash, anti-entropy: replicas converge",
        "--np 9 --clients 3 --replicas 3 --crash 2@20 --drop 0.1 --dup 0.1 --heal 100 --anti-entropy 5",
    ),
    (
        "partition isolating a minority then heal",
        "--np 7 --clients 2 --partition 0,1|2,3,4,5,6@10..120 --delay 0..2",
    ),
    (
        "a client cut off with a minority, then heal",
        "--np 7 --clients 2 --partition 0,1,6|2,3,4,5@10..120",
    ),
    (
        "read all, write one (R + W > N)",
        "--np 5 --clients 2 --read-quorum 3 --write-quorum 1 --delay 0..5 --drop 0.1",
    ),
];

/// The Raft backend: the same map, workload and checker on Raft's own servers.
const RAFT_PLANS: &[(&str, &str)] = &[
    ("no faults", "--np 5 --clients 2"),
    (
        "leader crash",
        "--np 6 --clients 2 --crash 0@30 --delay 0..3",
    ),
    (
        "lossy links then heal",
        "--np 6 --clients 2 --drop 0.2 --dup 0.1 --delay 0..5 --heal 400",
    ),
    (
        "restarts from stable storage",
        "--np 6 --clients 2 --restart 0@20 --restart 1@60 --restart 0@90",
    ),
    (
        "leader isolated then heal",
        "--np 6 --clients 2 --partition 0|1,2,3,4,5@20..200",
    ),
];

#[test]
fn raft_backend_sweeps() {
    for (name, plan) in RAFT_PLANS {
        let mut argv = args("--backend raft --seeds 0..1000 --ops 60 --keys 8");
        argv.extend(args(plan));
        eprintln!("distributed-hashmap --backend raft sweep: {name}");
        assert_sweep_passes("distributed-hashmap", &argv);
    }
}

#[test]
fn sweeps() {
    for (name, plan) in PLANS {
        let mut argv = args("--seeds 0..1000 --ops 60 --keys 8");
        argv.extend(args(plan));
        eprintln!("distributed-hashmap sweep: {name}");
        assert_sweep_passes("distributed-hashmap", &argv);
    }
}

/// With R + W <= N a read quorum can miss the last write: the checker must catch it in some
/// seeds, and say which operations and why; the exact check and the search agree on every seed.
#[test]
fn weak_quorums_are_caught_reading_stale_values() {
    for quorums in [["1", "1"], ["2", "1"]] {
        let sweep = |checker: &str| {
            direct(
                "distributed-hashmap",
                &args(&format!(
                    "--checker {checker} --sim --np 5 --clients 2 --read-quorum {} \
                     --write-quorum {} --ops 60 --keys 4 --delay 0..5 --seeds 0..1000",
                    quorums[0], quorums[1]
                )),
            )
        };
        let r = sweep("auto");
        assert_eq!(r.code, 1, "R={} W={}: {}", quorums[0], quorums[1], r.stdout);
        let failed = |out: &str| -> Vec<String> {
            out.lines()
                .filter(|l| l.contains("check linearizability FAILED"))
                .map(String::from)
                .collect()
        };
        let caught = failed(&r.stdout).len();
        assert!(caught > 0, "{}", r.stdout);
        let searched = sweep("search");
        assert_eq!(
            failed(&r.stdout),
            failed(&searched.stdout),
            "exact check vs search"
        );
        let example = r
            .stdout
            .lines()
            .find(|l| l.contains("stale read"))
            .expect("a stale read among the violations");
        assert!(
            example.contains("put v") && example.contains("get -> v"),
            "{example}"
        );
        eprintln!(
            "R={} W={} N=3: {caught} of 1000 seeds not linearizable, e.g.\n{example}",
            quorums[0], quorums[1]
        );
        // Nothing else fails: completion holds.
        assert!(
            !r.stdout.contains("check completion FAILED"),
            "{}",
            r.stdout
        );
    }
}

/// A majority of some groups down for good: their keys' operations time out with the reason,
/// the others complete, and the run passes (completion is not required of those keys).
#[test]
fn a_group_without_a_quorum_fails_its_operations_and_says_why() {
    let report = scratch("hashmap-majority.json");
    let r = direct(
        "distributed-hashmap",
        &args(&format!(
            "--sim --np 6 --replicas 3 --keys 10 --ops 300 --crash 1@30 --crash 2@40 \
             --op-timeout 200 --report {}",
            report.display()
        )),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("did not complete:") && r.stdout.contains("timed out after 200 ms"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("are up at the end, 2 needed"),
        "{}",
        r.stdout
    );
    let j = read_json(&report);
    assert_checks_passed(&j);
    let failed = j["failed_operations"].as_u64().unwrap();
    let done = j["operations"].as_u64().unwrap();
    assert!(failed > 0 && done > failed, "{failed} failed, {done} done");
}

/// 200 ranks simulated in seconds, as every other binary. The ring used to build every
/// segment's group list in every rank, in O(points x walk x replicas): at np 200 (199 servers x
/// 16 points, groups of all 199) that was 116 s and 2 GB; it now keeps per-segment walk lengths
/// and finds a group when asked (0.8 s, 31 MB in release; about 8 s in a debug build).
#[test]
fn two_hundred_ranks_in_seconds() {
    let started = Instant::now();
    let r = direct("distributed-hashmap", &args("--sim --np 200"));
    let took = started.elapsed();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("1000 of 1000 operations completed"),
        "{}",
        r.stdout
    );
    assert!(
        took < Duration::from_secs(30),
        "--sim --np 200 took {took:?} (at most 30 s)"
    );
}

#[test]
fn under_mpirun() {
    let jobs = mpirun_matrix(
        "distributed-hashmap",
        &[
            (4, "--ops 3000 --crash 1@20"),
            (4, "--backend raft --ops 3000 --crash 0@20"),
            (
                6,
                "--backend raft --clients 2 --ops 2000 --restart 1@30 --drop 0.05 --no-fsync",
            ),
            (
                6,
                "--clients 2 --replicas 3 --ops 2000 --drop 0.1 --dup 0.05",
            ),
            (
                8,
                "--clients 3 --replicas 5 --ops 1500 --crash 0@10 --crash 3@30 --anti-entropy 5 \
                 --drop 0.05",
            ),
        ],
    );
    for job in &jobs {
        let j = &job.report;
        let clients: u64 = job.flag("--clients").map_or(1, |v| v.parse().unwrap());
        let ops: u64 = job.flag("--ops").unwrap().parse().unwrap();
        assert_eq!(
            j["operations"].as_u64(),
            Some(clients * ops),
            "{}",
            job.run.stdout
        );
        assert!(j["ops_per_s"].as_f64().unwrap() > 0.0);
        assert!(j["get_latency"]["p99_ms"].as_f64().unwrap() > 0.0);
        assert!(j["put_latency"]["p50_ms"].as_f64().unwrap() > 0.0);
        if !job.has("raft") {
            assert_eq!(j["round_trips_per_put"].as_f64(), Some(2.0));
        }
        // Clocks were synchronized against rank 0: every other rank has an uncertainty.
        let ranks = j["ranks"].as_array().unwrap();
        assert!(ranks[1..]
            .iter()
            .all(|r| r["clock"]["uncertainty_us"].as_i64().unwrap() > 0));
        if job.has("--anti-entropy") {
            assert!(j["anti_entropy"]["exchanges"].as_u64().unwrap() > 0);
        }
    }
}

#[test]
fn bad_input() {
    for (flags, says) in [
        (
            "--sim --np 4 --replicas 4",
            "--replicas 4 is more than the 3 servers",
        ),
        (
            "--sim --np 4 --write-quorum 4",
            "--write-quorum 4 is more than the 3 replicas",
        ),
        (
            "--sim --np 6 --replicas 3 --read-quorum 5",
            "--read-quorum 5 is more than the 3 replicas",
        ),
        ("--sim --np 4 --keys 0", "--keys must be at least 1"),
        ("--sim --np 2 --clients 2", "leaves no server"),
        (
            "--sim --np 4 --restart 1@10",
            "the abd backend is crash-stop",
        ),
        (
            "--sim --np 4 --backend raft --replicas 2",
            "are for --backend abd",
        ),
        (
            "--sim --np 4 --backend raft --restart 3@10",
            "rank 3 is a client",
        ),
    ] {
        let r = direct("distributed-hashmap", &args(flags));
        assert_eq!(r.code, 2, "{flags}: {}{}", r.stdout, r.stderr);
        let first = r.stderr.lines().next().unwrap_or_default();
        assert!(first.contains(says), "{flags}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    let r = mpirun(4, "distributed-hashmap", &args("--replicas 9"));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--replicas 9"), "{}", r.stderr);
}

/// The "N operations on K keys" of a linearizability check line.
fn checked_ops(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.contains("check linearizability: passed ("))
        .unwrap_or_else(|| panic!("no passed linearizability check in\n{stdout}"));
    let from = line.find("passed (").unwrap() + "passed (".len();
    let to = from + line[from..].find(" keys").unwrap();
    line[from..to].to_string()
}

/// `--history` writes a simulated run's client history, never-answered operations included, one
/// JSON object a line; `--check-history` reads it back, runs nothing and agrees with the run.
/// Raft's key-value clients' history is checked the same way.
#[test]
fn a_history_written_by_a_run_is_checked_on_its_own() {
    for (i, (binary, flags, ops)) in [
        (
            "distributed-hashmap",
            "--np 6 --clients 2 --replicas 3 --keys 4 --ops 80 --crash 1@20 --crash 2@30 \
             --op-timeout 100 --drop 0.05",
            160,
        ),
        (
            "distributed-hashmap",
            "--np 6 --clients 2 --backend raft --keys 4 --ops 80 --crash 0@20 --crash 5@40 \
             --delay 0..3",
            160,
        ),
        (
            "raft",
            "--np 6 --clients 2 --requests 150 --keys 4 --crash 0@20 --crash 5@40",
            300,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let file = scratch(&format!("history-{i}.jsonl"));
        let path = file.to_str().unwrap();
        let mut argv = args("--sim --seed 3");
        argv.extend(args(flags));
        argv.extend(["--history", path]);
        let run = direct(binary, &argv);
        assert_eq!(
            run.code, 0,
            "{binary} {flags}: {}{}",
            run.stdout, run.stderr
        );
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // A crashed client submitted fewer; every line is one operation of the format.
        assert!(
            lines.len() <= ops && lines.len() > ops / 3,
            "{binary} {flags}: {} lines",
            lines.len()
        );
        for l in &lines {
            let o = l.as_object().unwrap();
            assert!(o["client"].is_u64() && o["key"].is_string() && o["call"].is_i64());
            assert!(
                o["ret"].is_null() || o["ret"].as_i64() >= o["call"].as_i64(),
                "{l}"
            );
            match o["op"].as_str() {
                Some("put") => assert!(o["value"].is_string(), "{l}"),
                Some("get") => assert!(o["output"].is_string() || o["output"].is_null()),
                _ => panic!("{l}"),
            }
            assert!(
                !o.contains_key("eps"),
                "no clock uncertainty in the simulator: {l}"
            );
        }
        assert!(
            lines.iter().any(|l| l["ret"].is_null()),
            "{binary} {flags}: some operation never returned"
        );
        let check = direct("distributed-hashmap", &["--check-history", path]);
        assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
        assert!(
            check.stdout.contains("result: the history is linearizable"),
            "{}",
            check.stdout
        );
        if binary == "distributed-hashmap" {
            assert_eq!(checked_ops(&check.stdout), checked_ops(&run.stdout));
        }
    }
}

fn history_file(name: &str, text: &str) -> String {
    let file = scratch(name);
    std::fs::write(&file, text).unwrap();
    file.to_str().unwrap().to_string()
}

/// Hand-made histories: a stale read is refused (exit 1); a value written twice with a put never
/// answered is linearizable (the get saw the first put) by both checkers; a search out of
/// budget is undecided (exit 4); a bad line is named (exit 2).
#[test]
fn check_history_judges_hand_made_histories() {
    let stale = history_file(
        "stale.jsonl",
        r#"{"client": 1, "op": "put", "key": "x", "value": "a", "call": 0, "ret": 10}
{"client": 1, "op": "put", "key": "x", "value": "b", "call": 11, "ret": 12}
{"client": 2, "op": "get", "key": "x", "output": "a", "call": 13, "ret": 14, "eps": 0}
"#,
    );
    for checker in ["auto", "search"] {
        let r = direct(
            "distributed-hashmap",
            &["--check-history", &stale, "--checker", checker],
        );
        assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
        assert!(
            r.stdout
                .contains("check linearizability: FAILED (x: stale read")
                && r.stdout.contains("client 2 get -> a [0.013, 0.014] ms")
                && r.stdout.contains("NOT linearizable (exit 1)"),
            "{}",
            r.stdout
        );
    }
    // With 2 µs of clock uncertainty the get may have overlapped the second put.
    let loose = history_file(
        "loose.jsonl",
        &std::fs::read_to_string(&stale)
            .unwrap()
            .replace("\"eps\": 0", "\"eps\": 2"),
    );
    let r = direct("distributed-hashmap", &["--check-history", &loose]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    let repeated = history_file(
        "repeated.jsonl",
        r#"{"client": 1, "op": "put", "key": "x", "value": "a", "call": 0, "ret": 10}
{"client": 2, "op": "get", "key": "x", "output": "a", "call": 11, "ret": 12}
{"client": 3, "op": "put", "key": "x", "value": "a", "call": 20, "ret": null}
"#,
    );
    for checker in ["auto", "search"] {
        let r = direct(
            "distributed-hashmap",
            &["--check-history", &repeated, "--checker", checker],
        );
        assert_eq!(r.code, 0, "--checker {checker}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout
                .contains("3 operations (1 never returned) on 1 keys by 3 clients"),
            "{}",
            r.stdout
        );
    }
    let r = direct(
        "distributed-hashmap",
        &[
            "--check-history",
            &repeated,
            "--checker",
            "search",
            "--search-budget",
            "1",
        ],
    );
    assert_eq!(r.code, 4, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("check linearizability: UNDECIDED") && r.stdout.contains("(exit 4)"),
        "{}",
        r.stdout
    );

    let bad = history_file(
        "bad.jsonl",
        r#"{"client": 1, "op": "put", "key": "x", "value": "a", "call": 0, "ret": 10}
{"client": 2, "op": "get", "key": "x", "call": 11, "ret": 12}
"#,
    );
    for (argv, says) in [
        (
            vec!["--check-history", bad.as_str()],
            "bad.jsonl line 2: a get that returned needs an \"output\"",
        ),
        (
            vec!["--check-history", "/nonexistent/h.jsonl"],
            "cannot read /nonexistent/h.jsonl",
        ),
        (
            vec!["--check-history", bad.as_str(), "--sim", "--np", "4"],
            "runs nothing",
        ),
        (
            vec![
                "--sim",
                "--np",
                "4",
                "--seeds",
                "0..2",
                "--history",
                bad.as_str(),
            ],
            "--history writes the files of one run",
        ),
    ] {
        let r = direct("distributed-hashmap", &argv);
        assert_eq!(r.code, 2, "{argv:?}: {}{}", r.stdout, r.stderr);
        let first = r.stderr.lines().next().unwrap_or_default();
        assert!(first.contains(says), "{argv:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    let r = direct("raft", &args("--seeds 0..2 --np 4 --history x.jsonl"));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let r = direct(
        "distributed-hashmap",
        &args("--sim --np 4 --ops 5 --history /nonexistent-dir/h.jsonl"),
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("cannot write the history to /nonexistent-dir/h.jsonl"),
        "{}",
        r.stderr
    );
}

/// A check the search could not decide exits 4, in a single run and in a sweep.
#[test]
fn an_undecided_check_exits_4() {
    let flags = "--sim --np 4 --ops 20 --keys 2 --checker search --search-budget 1";
    let r = direct("distributed-hashmap", &args(flags));
    assert_eq!(r.code, 4, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("check linearizability: UNDECIDED (no violation found")
            && r.stdout.contains("a check is UNDECIDED")
            && r.stdout.contains("(exit 4)"),
        "{}",
        r.stdout
    );
    let r = direct(
        "distributed-hashmap",
        &args(&format!("{flags} --seeds 0..3")),
    );
    assert_eq!(r.code, 4, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("0 passed, 0 failed a check, 0 did not finish, 3 undecided")
            && r.stdout.contains("check linearizability UNDECIDED: "),
        "{}",
        r.stdout
    );
}
