//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Mutex;

use std::os::unix::process::CommandExt;

use serde_json::Value;

/// The machine has 2 cores: never two mpirun jobs at once.
static MPIRUN: Mutex<()> = Mutex::new(());

pub fn bin(name: &str) -> PathBuf {
    match name {
        "lamport" => PathBuf::from(env!("CARGO_BIN_EXE_lamport")),
        "vector" => PathBuf::from(env!("CARGO_BIN_EXE_vector")),
        "shared-counter" => PathBuf::from(env!("CARGO_BIN_EXE_shared-counter")),
        "failure-detector" => PathBuf::from(env!("CARGO_BIN_EXE_failure-detector")),
        "leader-election" => PathBuf::from(env!("CARGO_BIN_EXE_leader-election")),
        "single-paxos" => PathBuf::from(env!("CARGO_BIN_EXE_single-paxos")),
        "sequence-paxos" => PathBuf::from(env!("CARGO_BIN_EXE_sequence-paxos")),
        "raft" => PathBuf::from(env!("CARGO_BIN_EXE_raft")),
        "distributed-hashmap" => PathBuf::from(env!("CARGO_BIN_EXE_distributed-hashmap")),
        "map-reduce" => PathBuf::from(env!("CARGO_BIN_EXE_map-reduce")),
        "anti-entropy" => PathBuf::from(env!("CARGO_BIN_EXE_anti-entropy")),
        "swim" => PathBuf::from(env!("CARGO_BIN_EXE_swim")),
        other => panic!("unknown binary {other}"),
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch file path for this test process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mpidist-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A command line written as one string, split on whitespace: `args("--sim --np 4")`. (No
/// quoting: a value with a space, such as a needle in an error message, stays apart.)
pub fn args(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Run a binary directly (simulator or a singleton MPI run).
pub fn direct(name: &str, args: &[&str]) -> Run {
    finish(Command::new(bin(name)).args(args).output().unwrap())
}

/// Hold this while running an mpirun job by hand: one job at a time.
pub fn mpirun_lock() -> std::sync::MutexGuard<'static, ()> {
    MPIRUN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run a binary under real mpirun through the project's wrapper, one job at a time.
pub fn mpirun(np: usize, name: &str, args: &[&str]) -> Run {
    let _guard = MPIRUN.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new(root().join("scripts/mpirun"))
        .arg("-np")
        .arg(np.to_string())
        .arg(bin(name))
        .args(args)
        .output()
        .unwrap();
    finish(out)
}

/// Start `name` under scripts/mpirun, in the background, in a process group of its own (the
/// group a terminal's Ctrl-C would reach, without this test process); the caller holds
/// [`mpirun_lock`].
pub fn spawn_mpirun(np: usize, name: &str, flags: &[&str]) -> std::process::Child {
    std::process::Command::new(root().join("scripts/mpirun"))
        .arg("-np")
        .arg(np.to_string())
        .arg(bin(name))
        .args(flags)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap()
}

/// One finished job of [`mpirun_matrix`].
pub struct Job {
    pub np: usize,
    /// Its flags, as given (the report's own not among them).
    pub flags: Vec<String>,
    pub run: Run,
    pub report: Value,
}

impl Job {
    /// The value given to `flag`, if it was.
    pub fn flag(&self, flag: &str) -> Option<&str> {
        self.flags
            .windows(2)
            .find(|w| w[0] == flag)
            .map(|w| w[1].as_str())
    }

    /// Whether `word` is among the flags or their values.
    pub fn has(&self, word: &str) -> bool {
        self.flags.iter().any(|f| f == word)
    }
}

/// Run `name` under mpirun once per row (np, flags split on whitespace), each with a JSON
/// report; assert that each exited 0 with a report of its np under the MPI driver, finished,
/// in which every check passed. Returns the jobs in the rows' order, for checks of their own.
pub fn mpirun_matrix<F: AsRef<str>>(name: &str, rows: &[(usize, F)]) -> Vec<Job> {
    rows.iter()
        .enumerate()
        .map(|(i, (np, flags))| {
            let np = *np;
            let flags: Vec<String> = args(flags.as_ref()).into_iter().map(String::from).collect();
            let path = scratch(&format!("{name}-{i}-np{np}.json"));
            let mut all: Vec<&str> = flags.iter().map(String::as_str).collect();
            let report_path = path.to_str().unwrap();
            all.extend(["--report", report_path]);
            let run = mpirun(np, name, &all);
            assert_eq!(
                run.code, 0,
                "np {np} {name} {flags:?}:\n{}{}",
                run.stdout, run.stderr
            );
            let report = read_json(&path);
            assert_eq!(report["driver"], "mpi", "np {np} {flags:?}");
            assert_eq!(report["np"], np, "np {np} {flags:?}");
            assert_eq!(report["ending"], "Finished", "np {np} {flags:?}");
            assert_checks_passed(&report);
            Job {
                np,
                flags,
                run,
                report,
            }
        })
        .collect()
}

/// [`mpirun_matrix`] with the same flags at each np.
pub fn mpirun_at(name: &str, nps: &[usize], flags: &str) -> Vec<Job> {
    let rows: Vec<(usize, &str)> = nps.iter().map(|&np| (np, flags)).collect();
    mpirun_matrix(name, &rows)
}

pub fn read_json(path: &PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Run a sweep (`--seeds A..B` among `args`) in the simulator and assert that every seed
/// finished with every check passing.
pub fn assert_sweep_passes(name: &str, args: &[&str]) {
    let seeds = args
        .windows(2)
        .find(|w| w[0] == "--seeds")
        .map(|w| w[1])
        .expect("a sweep has --seeds A..B");
    let (a, b) = seeds.split_once("..").expect("--seeds A..B");
    let n: u64 = b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap();
    let r = direct(name, args);
    assert_eq!(r.code, 0, "{name} {args:?}:\n{}{}", r.stdout, r.stderr);
    let all = format!("{n} passed, 0 failed a check, 0 did not finish");
    assert!(r.stdout.contains(&all), "{name} {args:?}:\n{}", r.stdout);
}

/// Every check in the report passed, and there is at least one.
pub fn assert_checks_passed(report: &Value) {
    let checks = report["checks"].as_array().expect("checks");
    assert!(!checks.is_empty());
    for c in checks {
        assert_eq!(c["passed"], Value::Bool(true), "check failed: {c}");
    }
}
