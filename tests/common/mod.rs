//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Mutex;

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
