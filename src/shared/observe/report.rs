//! What a run produced: per-rank outputs and metrics, the checker's verdicts, and the JSON
//! report written with `--report`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::history::History;
pub use super::metrics::{Counters, Metrics};
use crate::shared::faults::FaultPlan;
use crate::shared::process::Rank;

/// One verdict of a checker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    /// The checker could not decide (it spent its budget): not passed, yet no violation found.
    #[serde(default)]
    pub undecided: bool,
    pub detail: String,
}

impl Check {
    /// A check that passed when `violations` is empty; otherwise its detail lists them (the
    /// first few, then a count).
    pub fn from_violations(name: &str, ok_detail: String, violations: Vec<String>) -> Check {
        Self::build(name, ok_detail, violations)
    }
    /// A check whose checker gave up before deciding (exit 4 when no other check failed).
    pub fn undecided(name: &str, detail: String) -> Check {
        Check {
            name: name.into(),
            passed: false,
            undecided: true,
            detail,
        }
    }
    /// Whether it found a violation (failed, and not for want of a verdict).
    pub fn failed(&self) -> bool {
        !self.passed && !self.undecided
    }
    /// A property the fault plan may not permit (liveness): checked as [`Check::from_violations`]
    /// when `required` is `Ok`, otherwise passed with "not required" and the reason.
    pub fn if_required(
        name: &str,
        required: Result<(), String>,
        ok_detail: String,
        violations: Vec<String>,
    ) -> Check {
        match required {
            Ok(()) => Self::build(name, ok_detail, violations),
            Err(why) => Check {
                name: name.into(),
                passed: true,
                undecided: false,
                detail: format!("not required: {why}"),
            },
        }
    }
    fn build(name: &str, ok_detail: String, violations: Vec<String>) -> Check {
        if violations.is_empty() {
            return Check {
                name: name.into(),
                passed: true,
                undecided: false,
                detail: ok_detail,
            };
        }
        let mut detail = violations
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if violations.len() > 5 {
            detail += &format!("; and {} more", violations.len() - 5);
        }
        Check {
            name: name.into(),
            passed: false,
            undecided: false,
            detail,
        }
    }
}

/// One rank at the end of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RankResult<O> {
    pub rank: Rank,
    /// It crashed (per the fault plan) before the run ended.
    pub crashed: bool,
    /// Its process reported done.
    pub done: bool,
    pub output: O,
    /// The outputs of its earlier lives, oldest first, each as it stood when that life
    /// crashed (empty unless it was restarted).
    pub earlier: Vec<O>,
    pub metrics: Metrics,
    /// Its clock against rank 0's (zero in the simulator, whose time is one virtual clock).
    #[serde(default)]
    pub clock: ClockSync,
    /// The host it ran on (`MPI_Get_processor_name`; empty in the simulator).
    #[serde(default)]
    pub host: String,
    /// What its stable storage went through (algorithms that recover).
    #[serde(default)]
    pub storage: StorageLog,
    /// The faults aimed at the leader that hit it (indices into the plan's
    /// [`FaultPlan::at_leader`]).
    #[serde(default)]
    pub hit_as_leader: Vec<usize>,
}

/// What happened to a rank's stable storage beyond plain reads and writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageLog {
    /// Torn tails cut away on restarts (a crash in the middle of a write).
    pub torn_tails: Vec<TornTail>,
    /// What stopped the rank for good, if its storage failed it.
    pub fault: Option<StorageFault>,
}

/// The incomplete last write of a crashed rank, cut away on its restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TornTail {
    pub file: String,
    /// Where it started (the file's length once cut), and its length.
    pub offset: u64,
    pub bytes: u64,
}

/// A failure of stable storage that stops a rank for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageFault {
    /// On a restart, the storage did not hold what the rank had made durable: it refused to
    /// rejoin (it could otherwise vote or acknowledge again what it forgot).
    Lost {
        file: String,
        offset: u64,
        why: String,
    },
    /// A write or sync failed (disk full, a folder in place of the file, permissions): the
    /// rank stopped as if crashed.
    WriteFailed { file: String, error: String },
}

impl StorageFault {
    /// A few words for lists: "storage lost" or "storage write failed".
    pub fn short(&self) -> &'static str {
        match self {
            StorageFault::Lost { .. } => "storage lost",
            StorageFault::WriteFailed { .. } => "storage write failed",
        }
    }
}

impl std::fmt::Display for StorageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageFault::Lost { file, offset, why } => write!(
                f,
                "storage lost: {file}, byte {offset}: {why}; it did not rejoin"
            ),
            StorageFault::WriteFailed { file, error } => write!(
                f,
                "storage write failed: {file}: {error}; it stopped as if crashed"
            ),
        }
    }
}

/// A rank's clock offset against rank 0's, measured at the start under MPI for algorithms
/// that compare times across ranks ([`crate::shared::Algorithm::NEEDS_CLOCKS`]): rank 0's time
/// is the rank's time plus `offset_us`, within `uncertainty_us`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSync {
    pub offset_us: i64,
    pub uncertainty_us: i64,
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ending {
    /// Every live rank done and no message in flight.
    Finished,
    /// `--timeout` passed first.
    TimedOut,
    /// Simulator only: nothing left to happen (no message, no timer) but a live rank is not
    /// done. Under MPI the same run would wait for its timeout.
    Stuck,
    /// SIGINT or SIGTERM ended it early ([`crate::shared::interrupt`]).
    Interrupted,
}

/// What a role group found about itself over its own MPI communicator (see
/// [`crate::shared::Algorithm::groups`]): its size, how many members had a value, and the
/// smallest and largest value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    pub name: String,
    pub members: u64,
    pub with_value: u64,
    pub min: u64,
    pub max: u64,
}

/// Everything a checker and the report need.
#[derive(Debug, Clone)]
pub struct RunResult<O> {
    pub algorithm: &'static str,
    /// `"mpi"` or `"sim"`.
    pub driver: &'static str,
    pub np: usize,
    pub seed: u64,
    pub faults: FaultPlan,
    pub ending: Ending,
    /// Wall-clock seconds (MPI) or virtual seconds (simulator) from start to end.
    pub elapsed_s: f64,
    pub ranks: Vec<RankResult<O>>,
    /// Present when the algorithm, `--trace` or `--diagram` asked for it.
    pub history: Option<History>,
    /// Under MPI, the role groups' reductions over their own communicators.
    pub groups: Vec<GroupView>,
}

impl<O> RunResult<O> {
    /// A finished simulator run of these outputs, one per rank, none crashed, no metrics or
    /// history: what the checkers' unit tests feed them.
    pub fn of_outputs(algorithm: &'static str, faults: FaultPlan, outputs: Vec<O>) -> Self {
        RunResult {
            algorithm,
            driver: "sim",
            np: outputs.len(),
            seed: 0,
            faults,
            ending: Ending::Finished,
            elapsed_s: 1.0,
            ranks: outputs
                .into_iter()
                .enumerate()
                .map(|(rank, output)| RankResult {
                    rank,
                    crashed: false,
                    done: true,
                    output,
                    earlier: Vec::new(),
                    clock: ClockSync::default(),
                    host: String::new(),
                    metrics: Metrics::default(),
                    storage: StorageLog::default(),
                    hit_as_leader: Vec::new(),
                })
                .collect(),
            history: None,
            groups: Vec::new(),
        }
    }
    /// The check that every role group's members agree on their value, from the reductions
    /// over the groups' communicators; `None` when there are none (the simulator).
    pub fn group_check(&self) -> Option<Check> {
        if self.groups.is_empty() {
            return None;
        }
        let valued = self.groups.iter().filter(|g| g.with_value > 0);
        let lo = valued.clone().map(|g| g.min).min();
        let hi = valued.clone().map(|g| g.max).max();
        let parts: Vec<String> = self
            .groups
            .iter()
            .map(|g| match g.with_value {
                0 => format!("{} {}/{} none", g.name, 0, g.members),
                _ if g.min == g.max => {
                    format!("{} {}/{} {}", g.name, g.with_value, g.members, g.min)
                }
                _ => format!(
                    "{} {}/{} from {} to {}",
                    g.name, g.with_value, g.members, g.min, g.max
                ),
            })
            .collect();
        Some(Check {
            name: "role-groups".into(),
            passed: lo == hi,
            undecided: false,
            detail: format!(
                "MPI_Allreduce over each role's communicator (MPI_Comm_split): {}",
                parts.join(", ")
            ),
        })
    }
    /// The verdict on stable storage, when any rank's storage had something to say: failed if
    /// one was lost or failed a write (named with its file, and offset), passed with the torn
    /// tails cut on restarts otherwise.
    pub fn storage_check(&self) -> Option<Check> {
        let mut faults = Vec::new();
        let mut torn = Vec::new();
        for r in &self.ranks {
            if let Some(f) = &r.storage.fault {
                faults.push(format!("rank {}: {f}", r.rank));
            }
            for t in &r.storage.torn_tails {
                torn.push(format!(
                    "rank {} cut a torn tail of {} bytes at byte {} of {}",
                    r.rank, t.bytes, t.offset, t.file
                ));
            }
        }
        if faults.is_empty() && torn.is_empty() {
            return None;
        }
        Some(Check::from_violations(
            "stable-storage",
            torn.join("; "),
            faults,
        ))
    }
    /// Why liveness cannot be asked of this run, whatever its plan: a signal ended it early.
    pub fn interrupted(&self) -> Result<(), String> {
        match self.ending {
            Ending::Interrupted => Err(format!(
                "the run was interrupted at {} ms (SIGINT or SIGTERM)",
                self.end_ms()
            )),
            _ => Ok(()),
        }
    }
    /// When the run ended (ms since its start: virtual in the simulator).
    pub fn end_ms(&self) -> u64 {
        (self.elapsed_s * 1000.0) as u64
    }
    /// The fault plan as far as the run carried it out (what was scheduled after its end
    /// never happened): what the checkers judge the run by.
    pub fn applied_faults(&self) -> FaultPlan {
        self.faults.concrete().until(self.end_ms())
    }
    /// The plan with the ranks each fault aimed at the leader hit, as the ranks told.
    pub fn faults_with_hits(faults: &FaultPlan, ranks: &[RankResult<O>]) -> FaultPlan {
        faults.with_hits(|i| {
            (ranks.iter())
                .filter(|r| r.hit_as_leader.contains(&i))
                .map(|r| r.rank)
                .collect()
        })
    }
    /// The ranks that did not crash.
    pub fn correct_ranks(&self) -> impl Iterator<Item = &RankResult<O>> {
        self.ranks.iter().filter(|r| !r.crashed)
    }
    pub fn metrics(&self) -> Metrics {
        Metrics::merge(self.ranks.iter().map(|r| r.metrics.clone()))
    }
}

/// Arrays longer than this in a rank's output are shortened in the report.
pub const REPORT_ARRAY_MAX: usize = 1000;

/// `v` with every array of more than [`REPORT_ARRAY_MAX`] items replaced by
/// `{"items": N, "first": [10 items], "last": [10 items]}`: a log of a million entries would
/// make a report of hundreds of megabytes (the checker sees them all; the report says so).
fn shorten(v: Value) -> Value {
    match v {
        Value::Array(a) if a.len() > REPORT_ARRAY_MAX => {
            let n = a.len();
            let first: Vec<Value> = a.iter().take(10).cloned().map(shorten).collect();
            let last: Vec<Value> = a[n - 10..].iter().cloned().map(shorten).collect();
            json!({"items": n, "first": first, "last": last})
        }
        Value::Array(a) => Value::Array(a.into_iter().map(shorten).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, shorten(v))).collect()),
        other => other,
    }
}

impl<O: Serialize> RunResult<O> {
    /// The JSON report (schema in the README).
    pub fn report(&self, args: Value, checks: &[Check], summary: &[String]) -> Value {
        self.report_with(args, checks, summary, |o| json!(o))
    }

    /// The JSON report, each rank's output as `view` shows it (shortened either way).
    pub fn report_with(
        &self,
        args: Value,
        checks: &[Check],
        summary: &[String],
        view: impl Fn(&O) -> Value,
    ) -> Value {
        let ranks: Vec<Value> = self
            .ranks
            .iter()
            .map(|r| {
                json!({
                    "rank": r.rank,
                    "crashed": r.crashed,
                    "done": r.done,
                    "restarts": r.earlier.len(),
                    "output": shorten(view(&r.output)),
                    "metrics": r.metrics.to_json(),
                    "clock": r.clock,
                    "host": r.host,
                    "storage": {
                        "state": r.storage.fault.as_ref().map_or("ok", |f| f.short()),
                        "fault": r.storage.fault.as_ref().map(|f| f.to_string()),
                        "torn_tails": r.storage.torn_tails,
                    },
                })
            })
            .collect();
        json!({
            "algorithm": self.algorithm,
            "driver": self.driver,
            "np": self.np,
            "seed": self.seed,
            "args": args,
            "faults": self.faults,
            "faults_text": self.faults.to_string(),
            "faults_not_applied": self.faults.not_applied(self.end_ms()),
            "faults_missed": self.faults.missed_leader(self.end_ms()),
            "ending": self.ending,
            "elapsed_s": self.elapsed_s,
            "checks": checks,
            "summary": summary,
            "metrics": self.metrics().to_json(),
            "ranks": ranks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_arrays_are_shortened_in_the_report() {
        let v = shorten(json!({"log": (0..5000).collect::<Vec<u32>>(), "vc": [1, 2, 3]}));
        assert_eq!(v["vc"], json!([1, 2, 3]));
        assert_eq!(v["log"]["items"], 5000);
        assert_eq!(v["log"]["first"][0], 0);
        assert_eq!(v["log"]["last"][9], 4999);
    }
}
