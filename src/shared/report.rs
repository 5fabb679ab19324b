//! What a run produced: per-rank outputs and metrics, the checker's verdicts, and the JSON
//! report written with `--report`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::faults::FaultPlan;
use super::history::History;
use super::process::Rank;

/// Message counters of one kind (or of all kinds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Send effects issued by the algorithm.
    pub sent: u64,
    /// Messages handed to a live process.
    pub delivered: u64,
    /// Lost by the fault plan (`--drop`, `--partition`).
    pub dropped: u64,
    /// Extra copies made by `--dup`.
    pub duplicated: u64,
    /// Arrived at a crashed rank and discarded.
    pub lost_to_crash: u64,
    /// Encoded payload bytes of the sent messages.
    pub bytes_sent: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.sent += o.sent;
        self.delivered += o.delivered;
        self.dropped += o.dropped;
        self.duplicated += o.duplicated;
        self.lost_to_crash += o.lost_to_crash;
        self.bytes_sent += o.bytes_sent;
    }
}

/// One rank's metrics (or the sum over ranks).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub total: Counters,
    /// Per message kind, in first-seen order (few kinds: a vector beats a map here).
    pub by_kind: Vec<(String, Counters)>,
    /// Received messages that did not decode.
    pub decode_failures: u64,
    /// Longest causal chain of messages ending at this rank.
    pub communication_steps: u64,
}

impl Metrics {
    /// Apply `f` to the total and to the counters of `kind`.
    pub fn count(&mut self, kind: &str, f: impl Fn(&mut Counters)) {
        f(&mut self.total);
        // Kinds come from `&'static str`s: a length check rejects most mismatches cheaply.
        match self
            .by_kind
            .iter_mut()
            .find(|(k, _)| k.len() == kind.len() && k == kind)
        {
            Some((_, c)) => f(c),
            None => {
                let mut c = Counters::default();
                f(&mut c);
                self.by_kind.push((kind.to_string(), c));
            }
        }
    }

    /// Messages of `kind` sent (0 if none).
    pub fn sent_of(&self, kind: &str) -> u64 {
        self.by_kind
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, c)| c.sent)
    }

    /// Sum over ranks (steps: the maximum).
    pub fn merge(all: impl IntoIterator<Item = Metrics>) -> Metrics {
        let mut m = Metrics::default();
        for r in all {
            // `count` adds to the total too.
            for (k, c) in &r.by_kind {
                m.count(k, |x| x.add(c));
            }
            m.decode_failures += r.decode_failures;
            m.communication_steps = m.communication_steps.max(r.communication_steps);
        }
        m
    }

    fn to_json(&self) -> Value {
        let by_kind: BTreeMap<&str, &Counters> =
            self.by_kind.iter().map(|(k, c)| (k.as_str(), c)).collect();
        json!({
            "messages_sent": self.total.sent,
            "messages_delivered": self.total.delivered,
            "messages_dropped": self.total.dropped,
            "messages_duplicated": self.total.duplicated,
            "messages_lost_to_crash": self.total.lost_to_crash,
            "bytes_sent": self.total.bytes_sent,
            "decode_failures": self.decode_failures,
            "communication_steps": self.communication_steps,
            "by_kind": by_kind,
        })
    }
}

/// One verdict of a checker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    /// A check that passed when `violations` is empty; otherwise its detail lists them (the
    /// first few, then a count).
    pub fn from_violations(name: &str, ok_detail: String, violations: Vec<String>) -> Check {
        if violations.is_empty() {
            return Check {
                name: name.into(),
                passed: true,
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
    pub metrics: Metrics,
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
}

impl<O> RunResult<O> {
    /// The ranks that did not crash.
    pub fn correct_ranks(&self) -> impl Iterator<Item = &RankResult<O>> {
        self.ranks.iter().filter(|r| !r.crashed)
    }
    pub fn metrics(&self) -> Metrics {
        Metrics::merge(self.ranks.iter().map(|r| r.metrics.clone()))
    }
}

impl<O: Serialize> RunResult<O> {
    /// The JSON report (schema in the README).
    pub fn report(&self, args: Value, checks: &[Check], summary: &[String]) -> Value {
        let ranks: Vec<Value> = self
            .ranks
            .iter()
            .map(|r| {
                json!({
                    "rank": r.rank,
                    "crashed": r.crashed,
                    "done": r.done,
                    "output": r.output,
                    "metrics": r.metrics.to_json(),
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
            "ending": self.ending,
            "elapsed_s": self.elapsed_s,
            "checks": checks,
            "summary": summary,
            "metrics": self.metrics().to_json(),
            "ranks": ranks,
        })
    }
}
