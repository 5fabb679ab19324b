//! Errors said at once, once, in one sentence, and the ways a run ends early (issue 21): output
//! files opened before the run, a closed stdout, SIGINT and SIGTERM, `--data-dir` reuse,
//! restarts refused by binaries that cannot recover, the timeout line, `--seeds` without
//! `--np`.
//!
//! Tests named `mpirun_*` need a real mpirun (scripts/test runs them); the others run binaries
//! directly under the simulator.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Bad input: exit 2, nothing on stdout (nothing ran), the sentence once, no panic.
fn assert_refused_before_the_run(r: &Run, needle: &str) {
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "", "the run started before the refusal");
    assert_eq!(r.stderr.matches(needle).count(), 1, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

/// Send `signal` (a `kill` name: INT, TERM, STOP, CONT) to process `pid`.
fn signal(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} {pid} failed");
}

/// Send `signal` to every process of process group `pgid`, as a terminal sends a Ctrl-C to
/// its foreground group.
fn signal_group(pgid: u32, signal: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} -- -{pgid} failed");
}

/// SIGKILL `pid` and every process below it (the tree first: once the parent is gone, its
/// children are orphans, out of reach).
fn kill_tree(pid: u32) {
    let mut all = descendants(pid);
    all.push(pid);
    for p in all {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(p.to_string())
            .status();
    }
}

/// Wait for `child`, at most `limit`; its output. Past the limit it is killed with every
/// process below it (an mpirun job's launcher and ranks, which would otherwise keep its
/// output pipes open and the wait going).
fn wait(child: Child, limit: Duration) -> Run {
    let pid = child.id();
    let started = Instant::now();
    let watchdog = std::thread::spawn(move || {
        while started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(100));
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
        }
        kill_tree(pid);
    });
    let out = child.wait_with_output().unwrap();
    let _ = watchdog.join();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn spawn(name: &str, flags: &[&str]) -> Child {
    Command::new(bin(name))
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn outputs_that_cannot_be_written_are_refused_before_the_run() {
    for flag in ["--report", "--trace", "--diagram", "--history"] {
        let what = flag.trim_start_matches("--");
        let good = scratch(&format!("written-first-{what}.json"));
        let _ = std::fs::remove_file(&good);
        // A long run: were it started, the refusal would come a minute late.
        let other = if flag == "--report" {
            "--trace"
        } else {
            "--report"
        };
        let r = direct(
            "raft",
            &[
                &args("--sim --np 4 --requests 2000000 --timeout 86400")[..],
                &[flag, "/nonexistent-mpidist-dir/out", other],
                &[good.to_str().unwrap()],
            ]
            .concat(),
        );
        assert_refused_before_the_run(
            &r,
            &format!("cannot write the {what} to /nonexistent-mpidist-dir/out"),
        );
        // The good one, created by the check, is not left behind empty.
        assert!(!good.exists(), "{} left behind", good.display());
    }
    // A folder is not a file.
    let dir = scratch("a-folder");
    std::fs::create_dir_all(&dir).unwrap();
    let r = direct(
        "lamport",
        &["--sim", "--np", "2", "--report", dir.to_str().unwrap()],
    );
    assert_refused_before_the_run(&r, "cannot write the report to");
}

#[test]
fn a_closed_stdout_ends_the_printing_not_the_run() {
    let report = scratch("closed-stdout.json");
    let trace = scratch("closed-stdout.log");
    for p in [&report, &trace] {
        let _ = std::fs::remove_file(p);
    }
    let mut child = Command::new(bin("raft"))
        .args(args("--sim --np 4 --requests 3000"))
        .args(["--report", report.to_str().unwrap()])
        .args(["--trace", trace.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `... | head -0`: the reader goes away before the first line is printed.
    drop(child.stdout.take());
    let r = wait(child, Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let rep = read_json(&report);
    assert_eq!(rep["ending"], "Finished");
    assert_checks_passed(&rep);
    assert!(std::fs::read_to_string(&trace).unwrap().lines().count() > 100);
}

#[test]
fn ctrl_c_ends_a_simulation_with_130_and_writes_what_was_collected() {
    let report = scratch("interrupted.json");
    let _ = std::fs::remove_file(&report);
    // Minutes of work in a debug build.
    let child = spawn(
        "raft",
        &[
            &args("--sim --np 4 --requests 5000000 --timeout 86400 --report")[..],
            &[report.to_str().unwrap()],
        ]
        .concat(),
    );
    std::thread::sleep(Duration::from_millis(1000));
    let sent = Instant::now();
    signal(child.id(), "INT");
    let r = wait(child, Duration::from_secs(120));
    assert_eq!(r.code, 130, "{}{}", r.stdout, r.stderr);
    assert!(
        sent.elapsed() < Duration::from_secs(60),
        "the run did not stop at the signal"
    );
    assert!(
        r.stdout.contains("result: INTERRUPTED by SIGINT after"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("check election-safety: passed"),
        "{}",
        r.stdout
    );
    // Liveness cannot be asked of an interrupted run.
    assert!(
        r.stdout
            .contains("check termination: passed (not required: the run was interrupted"),
        "{}",
        r.stdout
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let rep = read_json(&report);
    assert_eq!(rep["ending"], "Interrupted");
    assert_eq!(rep["interrupted_by"], "SIGINT");
    assert!(rep["commits"].as_u64().unwrap() > 0, "{}", rep["commits"]);
}

#[test]
fn sigterm_ends_a_sweep_with_143() {
    let child = spawn("lamport", &args("--np 4 --seeds 0..1000000000"));
    std::thread::sleep(Duration::from_millis(1000));
    signal(child.id(), "TERM");
    let r = wait(child, Duration::from_secs(60));
    assert_eq!(r.code, 143, "{}{}", r.stdout, r.stderr);
    let last = r.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("lamport: INTERRUPTED by SIGTERM at seed ")
            && last.contains(" 0 failed a check, 0 did not finish"),
        "{}",
        r.stdout
    );
}

#[test]
fn binaries_that_cannot_recover_refuse_restarts() {
    for (name, base) in [
        ("shared-counter", "--sim --np 3"),
        ("lamport", "--sim --np 3"),
    ] {
        for fault in ["--restart 1@10", "--crash-after-persist 1@10"] {
            let r = direct(name, &args(&format!("{base} {fault}")));
            assert_refused_before_the_run(
                &r,
                &format!("{name} is crash-stop: its ranks keep nothing on stable storage"),
            );
        }
    }
}

#[test]
fn the_timeout_line_names_the_configured_timeout() {
    let r = direct(
        "raft",
        &args("--sim --np 4 --requests 1000000 --timeout 0.25"),
    );
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains(
            "did NOT finish within the --timeout of 0.25 s (it ended after 0.2 s of virtual time)"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn seeds_without_np_names_seeds() {
    let r = direct("lamport", &args("--seeds 0..3"));
    assert_refused_before_the_run(&r, "--seeds sweeps the simulator and needs --np N");
    let r = direct("lamport", &args("--sim"));
    assert_refused_before_the_run(&r, "--sim needs --np N");
}

// ---- under mpirun (not run by `cargo test --test errors -- --skip mpirun_`) ----

/// The processes below `pid` (children, grandchildren, ...).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: the comm may hold spaces and parentheses.
        let after = &stat[stat.rfind(')').unwrap_or(0) + 1..];
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            parent_of.push((p, ppid));
        }
    }
    let mut below = vec![pid];
    let mut i = 0;
    while i < below.len() {
        let q = below[i];
        below.extend(parent_of.iter().filter(|(_, pp)| *pp == q).map(|(p, _)| *p));
        i += 1;
    }
    below.remove(0);
    below
}

/// The processes below `pid` whose executable is `exe`.
fn descendants_running(pid: u32, exe: &Path) -> Vec<u32> {
    let exe = std::fs::canonicalize(exe).unwrap();
    descendants(pid)
        .into_iter()
        .filter(|p| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == exe))
        .collect()
}

/// Poll `holds` until it does. Fails if `job` ends first (with what it printed), or after
/// `limit` (killing the job, which would run on), naming what it waited for. The machine may
/// be loaded: limits are generous, and nothing waits longer than the condition takes.
fn poll_while_running(
    job: &mut Child,
    what: &str,
    limit: Duration,
    mut holds: impl FnMut() -> bool,
) {
    let started = Instant::now();
    loop {
        if holds() {
            return;
        }
        if let Some(status) = job.try_wait().unwrap() {
            let mut out = String::new();
            if let Some(mut pipe) = job.stdout.take() {
                let _ = pipe.read_to_string(&mut out);
            }
            if let Some(mut pipe) = job.stderr.take() {
                let _ = pipe.read_to_string(&mut out);
            }
            panic!("the job ended ({status}) before {what}:\n{out}");
        }
        if started.elapsed() > limit {
            kill_tree(job.id());
            panic!("{what}: not within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wait until `np` ranks of `name` run below `job`; their process ids.
fn ranks_of(job: &mut Child, np: usize, name: &str) -> Vec<u32> {
    let (pid, exe) = (job.id(), bin(name));
    let mut ranks = Vec::new();
    let what = format!("{np} ranks of {name} running");
    poll_while_running(job, &what, Duration::from_secs(60), || {
        ranks = descendants_running(pid, &exe);
        ranks.len() == np
    });
    ranks
}

#[test]
fn mpirun_an_unwritable_report_is_refused_once_before_the_run() {
    let r = mpirun(
        3,
        "raft",
        &args("--requests 5000000 --timeout 600 --report /nonexistent-mpidist-dir/r.json"),
    );
    assert_refused_before_the_run(
        &r,
        "cannot write the report to /nonexistent-mpidist-dir/r.json",
    );
}

#[test]
fn mpirun_storage_that_cannot_be_created_is_said_once() {
    let r = mpirun(
        4,
        "raft",
        &args("--data-dir /proc/mpidist-cannot-write-here"),
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    // Said by rank 0 alone, not by every rank interleaved.
    assert_eq!(
        r.stderr.matches("cannot create its storage").count(),
        1,
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("/proc/mpidist-cannot-write-here"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn mpirun_a_data_dir_with_other_files_is_refused_and_left_alone() {
    let dir = scratch("data-dir-with-notes");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    std::fs::write(dir.join("rank0.wal"), "an earlier run's").unwrap();
    let r = mpirun(
        3,
        "raft",
        &["--requests", "200", "--data-dir", dir.to_str().unwrap()],
    );
    assert_refused_before_the_run(&r, "holds files that are not mpidist storage (notes.txt)");
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("rank0.wal")).unwrap(),
        "an earlier run's"
    );
}

#[test]
fn mpirun_a_reused_data_dir_is_replaced_with_a_note() {
    let dir = scratch("data-dir-reused");
    let _ = std::fs::remove_dir_all(&dir);
    let flags = ["--requests", "300", "--data-dir", dir.to_str().unwrap()];
    let first = mpirun(4, "raft", &flags);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(!first.stderr.contains("note:"), "{}", first.stderr);
    // A leftover of a larger earlier job goes too.
    std::fs::write(dir.join("rank7.wal"), "np was 8").unwrap();
    let second = mpirun(4, "raft", &flags);
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    let note = "holds the storage of an earlier run (";
    assert_eq!(second.stderr.matches(note).count(), 1, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("this run starts afresh and replaces it"),
        "{}",
        second.stderr
    );
    assert!(!dir.join("rank7.wal").exists());
    for rank in 0..3 {
        assert!(dir.join(format!("rank{rank}.wal")).exists());
    }
}

#[test]
fn mpirun_seeds_without_np_is_said_once() {
    let r = mpirun(2, "lamport", &args("--seeds 0..3"));
    assert_refused_before_the_run(&r, "--seeds sweeps the simulator and needs --np N");
}

#[test]
fn mpirun_shared_counter_refuses_restarts_once() {
    let r = mpirun(3, "shared-counter", &args("--restart 1@10"));
    assert_refused_before_the_run(&r, "shared-counter is crash-stop");
}

/// A raft job of 2 servers and 1 client that runs until stopped but does little: one command
/// in flight over links of 1..2 ms (about 60 commits a second), so that what the ranks check,
/// gather and write after a signal takes milliseconds, even in a debug build on loaded cores.
/// (Open MPI SIGKILLs the ranks 1 s after the SIGTERM it turns a Ctrl-C into.) Its storage
/// goes to `data_dir`, a fresh folder, where [`wait_for_entries`] watches it grow.
fn spawn_light_raft(data_dir: &Path, timeout_s: u32, more: &[&str]) -> Child {
    let _ = std::fs::remove_dir_all(data_dir);
    let timeout = timeout_s.to_string();
    let flags = [
        &args("--requests 100000000 --inflight 1 --delay 1..2 --timeout")[..],
        &[timeout.as_str(), "--data-dir", data_dir.to_str().unwrap()],
        more,
    ]
    .concat();
    spawn_mpirun(3, "raft", &flags)
}

/// Wait until both servers of [`spawn_light_raft`] (ranks 0 and 1) have stored more than
/// `bytes` bytes: the run is under way (past MPI_Init, the signal handlers and the start), a
/// leader was elected, and entries reached both servers. About 20 bytes an entry; with one
/// command in flight, a client sends the next only once the previous one was committed.
fn wait_for_entries(job: &mut Child, data_dir: &Path, bytes: u64) {
    let size = |rank: u32| {
        std::fs::metadata(data_dir.join(format!("rank{rank}.wal"))).map_or(0, |m| m.len())
    };
    let what = format!("both servers stored {bytes} bytes");
    poll_while_running(job, &what, Duration::from_secs(60), || {
        size(0) > bytes && size(1) > bytes
    });
}

#[test]
fn mpirun_sigterm_to_every_rank_ends_the_run_with_143() {
    let report = scratch("mpirun-terminated.json");
    let _ = std::fs::remove_file(&report);
    let data = scratch("mpirun-terminated-data");
    let _guard = mpirun_lock();
    let mut job = spawn_light_raft(&data, 300, &["--report", report.to_str().unwrap()]);
    let ranks = ranks_of(&mut job, 3, "raft");
    // Some 40 entries: a few dozen commits.
    wait_for_entries(&mut job, &data, 1000);
    for pid in ranks {
        signal(pid, "TERM");
    }
    let r = wait(job, Duration::from_secs(120));
    assert_eq!(r.code, 143, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("result: INTERRUPTED by SIGTERM after"),
        "{}",
        r.stdout
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let rep = read_json(&report);
    assert_eq!(rep["ending"], "Interrupted");
    assert_eq!(rep["interrupted_by"], "SIGTERM");
    assert!(rep["commits"].as_u64().unwrap() > 0, "{}", rep["commits"]);
}

#[test]
fn mpirun_ctrl_c_to_mpirun_writes_the_report() {
    let report = scratch("mpirun-interrupted.json");
    let _ = std::fs::remove_file(&report);
    let data = scratch("mpirun-interrupted-data");
    let _guard = mpirun_lock();
    let mut job = spawn_light_raft(&data, 300, &["--report", report.to_str().unwrap()]);
    ranks_of(&mut job, 3, "raft");
    wait_for_entries(&mut job, &data, 1000);
    // A Ctrl-C as a terminal sends it: SIGINT to the foreground process group, the script's
    // (the script, the launcher, the output filter). The ranks are not in it (the launcher
    // gives each a group of its own): the launcher passes the Ctrl-C on to them as it does
    // (Open MPI: a SIGTERM, then a SIGKILL 1 s later; MPICH's Hydra: the SIGINT).
    signal_group(job.id(), "INT");
    let r = wait(job, Duration::from_secs(120));
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("result: INTERRUPTED by SIG"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let rep = read_json(&report);
    assert_eq!(rep["ending"], "Interrupted");
    assert!(rep["commits"].as_u64().unwrap() > 0, "{}", rep["commits"]);
}

#[test]
fn mpirun_a_stopped_rank_the_timeout_line_names_both_times() {
    let data = scratch("mpirun-stopped-data");
    let _guard = mpirun_lock();
    let mut job = spawn_light_raft(&data, 3, &[]);
    let ranks = ranks_of(&mut job, 3, "raft");
    // Under way, well before the timeout of 3 s.
    wait_for_entries(&mut job, &data, 300);
    // One rank stopped past the timeout: the others reach it and wait for this one, which
    // the run's end needs (its barrier, the quiescence waves).
    let stopped = ranks[0];
    let held = Instant::now();
    signal(stopped, "STOP");
    std::thread::sleep(Duration::from_secs(5));
    let held = held.elapsed().as_secs_f64();
    signal(stopped, "CONT");
    let r = wait(job, Duration::from_secs(120));
    // 3, or 1 where a liveness check failed for it.
    assert!(matches!(r.code, 1 | 3), "{}{}", r.stdout, r.stderr);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("result: "))
        .unwrap_or_default();
    // The configured timeout, and how long the run really took: at least the stop, as the run
    // had started before it and could not end during it (rounded to 0.1 s).
    let prefix = "result: did NOT finish within the --timeout of 3 s (it ended after ";
    let ended: f64 = line
        .strip_prefix(prefix)
        .and_then(|rest| rest.split_once(" s)"))
        .and_then(|(secs, _)| secs.parse().ok())
        .unwrap_or_else(|| panic!("no timeout line naming both times:\n{}", r.stdout));
    assert!(
        ended + 0.05 >= held,
        "the run ended after {ended} s, but a rank was stopped for {held:.2} s of it:\n{}",
        r.stdout
    );
}
