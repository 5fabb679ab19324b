//! The checks of a hashmap run (linearizability per key, completion), its figures and its
//! summary.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::history::{self, SHRINK_LIMIT};
use super::ring::key_name;
use super::{
    Args, Backend, Checker, ClientReport, Config, OpRecord, Output, ReplicaReport, Version,
};
use crate::shared::faults::FaultPlan;
use crate::shared::observe::kv_history::Checked;
use crate::shared::observe::latency::{self, Latency, Steps};
use crate::shared::observe::report::Ending;
use crate::shared::{Check, Rank, RunResult};

fn clients(run: &RunResult<Output>) -> impl Iterator<Item = (Rank, bool, &ClientReport)> {
    run.ranks.iter().filter_map(|r| match &r.output {
        Output::Client(c) => Some((r.rank, r.crashed, c)),
        Output::Replica(_) | Output::LogServer(_) => None,
    })
}

fn replicas(run: &RunResult<Output>) -> impl Iterator<Item = (Rank, bool, &ReplicaReport)> {
    run.ranks.iter().filter_map(|r| match &r.output {
        Output::Replica(s) => Some((r.rank, r.crashed, s)),
        Output::Client(_) | Output::LogServer(_) => None,
    })
}

/// The linearizability verdict of a run.
pub struct Verdict {
    pub checked: Checked,
    /// The largest clock uncertainty of a client rank (µs).
    pub uncertainty_us: i64,
    pub elapsed_s: f64,
}

impl Verdict {
    /// The `linearizability` check.
    pub fn check(&self) -> Check {
        self.checked.to_check(format!(
            "{} operations on {} keys: every key's history has a linearization (clock uncertainty {} us)",
            self.checked.ops, self.checked.keys, self.uncertainty_us
        ))
    }
}

/// Check every key's history.
pub fn linearizability(args: &Args, run: &RunResult<Output>) -> Verdict {
    let started = Instant::now();
    let checked = history::of_run(args, run).check(
        args.checker == Checker::Search,
        args.search_budget,
        SHRINK_LIMIT,
    );
    let uncertainty_us = run
        .ranks
        .iter()
        .filter(|r| matches!(r.output, Output::Client(_)))
        .map(|r| r.clock.uncertainty_us)
        .max()
        .unwrap_or(0);
    Verdict {
        checked,
        uncertainty_us,
        elapsed_s: started.elapsed().as_secs_f64(),
    }
}

/// Whether the plan lets every operation on a key of `group` complete.
fn completion_required(cfg: &Config, faults: &FaultPlan, key: u32) -> Result<(), String> {
    let (group, need): (Vec<Rank>, usize) = match cfg.backend {
        Backend::Abd => (
            cfg.ring.group(&key_name(key)),
            cfg.read_quorum.max(cfg.write_quorum),
        ),
        Backend::Raft => ((0..cfg.servers).collect(), cfg.raft.service.quorum),
    };
    let up = group.iter().filter(|&&r| !faults.down_at_end(r)).count();
    if up < need {
        return Err(format!(
            "only {up} of its group {group:?} are up at the end, {need} needed"
        ));
    }
    let timeout_ms = cfg.op_timeout.as_millis() as u64;
    if let Some(p) = faults
        .partitions
        .iter()
        .find(|p| p.to_ms.saturating_sub(p.from_ms) >= timeout_ms)
    {
        return Err(format!(
            "a partition lasts {} ms, longer than --op-timeout {timeout_ms} ms",
            p.to_ms - p.from_ms
        ));
    }
    faults.never_delivers().map_or(Ok(()), Err)
}

/// Operations that did not complete: (client, record, why completion was not required).
fn failures<'a>(
    cfg: &Config,
    run: &'a RunResult<Output>,
) -> Vec<(Rank, bool, &'a OpRecord, Result<(), String>)> {
    let mut v = Vec::new();
    let faults = run.applied_faults();
    for (r, crashed, c) in clients(run) {
        for o in c.ops.iter().filter(|o| o.return_us.is_none()) {
            let required = if crashed {
                Err("its client crashed".to_string())
            } else if let Err(why) = run.interrupted() {
                Err(why)
            } else {
                completion_required(cfg, &faults, o.key)
            };
            v.push((r, crashed, o, required));
        }
    }
    v
}

/// The checks of a run.
pub fn checks(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
    let cfg = args.config(run.np);
    let lin = linearizability(args, run);
    let mut checks = vec![lin.check()];
    let failed = failures(&cfg, run);
    let missing: Vec<String> = failed
        .iter()
        .filter(|f| f.3.is_ok())
        .map(|(r, _, o, _)| {
            format!(
                "client {r}'s op {} on {} did not complete although its group kept a quorum ({})",
                o.seq,
                key_name(o.key),
                o.failed.as_deref().unwrap_or("still pending")
            )
        })
        .collect();
    let excused = failed.len() - missing.len();
    let total: usize = clients(run).filter(|c| !c.1).map(|c| c.2.ops.len()).sum();
    checks.push(Check::from_violations(
        "completion",
        if excused == 0 {
            format!("all {total} operations of correct clients completed")
        } else {
            format!(
                "every operation on a key whose group kept a quorum completed; {excused} others did not (groups without a quorum, or a crashed client)"
            )
        },
        missing,
    ));
    if cfg.backend == Backend::Abd {
        checks.push(converged(&cfg, run));
    }
    checks
}

/// Keys whose live replicas hold different versions at the end.
fn divergent<'a>(cfg: &Config, run: &'a RunResult<Output>) -> Vec<&'a str> {
    let mut versions: BTreeMap<&str, Vec<(Rank, Version)>> = BTreeMap::new();
    for (r, crashed, s) in replicas(run) {
        if !crashed {
            for (k, v) in &s.store {
                versions.entry(k).or_default().push((r, *v));
            }
        }
    }
    versions
        .iter()
        .filter(|(k, held)| {
            let live = cfg
                .ring
                .group(k)
                .iter()
                .filter(|&&r| !run.applied_faults().down_at_end(r))
                .count();
            held.len() < live || held.iter().any(|h| h.1 != held[0].1)
        })
        .map(|(k, _)| *k)
        .collect()
}

/// Replica convergence (ABD): with anti-entropy, once the clients finished and the links
/// let the exchanges through, every live replica of a key holds the same version of it.
fn converged(cfg: &Config, run: &RunResult<Output>) -> Check {
    let keys = divergent(cfg, run);
    let faults = run.applied_faults();
    let end = run.end_ms();
    let why_not = if cfg.anti_entropy.is_none() {
        Some("without --anti-entropy, a replica outside a write's quorum keeps the older version until a read repairs it".to_string())
    } else if let Err(why) = run.interrupted() {
        Some(why)
    } else if run.ending != Ending::Finished {
        Some("the run did not finish (the replicas did not settle)".into())
    } else if faults.lossy_at(end) {
        Some("links still lose or delay messages at the end (add --heal)".into())
    } else if faults
        .partitions
        .iter()
        .any(|p| p.from_ms <= end && end < p.to_ms)
    {
        Some("a partition is still up at the end".into())
    } else {
        None
    };
    let n = keys.len();
    match why_not {
        Some(why) => Check {
            name: "replicas-converged".into(),
            passed: true,
            undecided: false,
            detail: format!(
                "not required: {why}; {n} key(s) differ between live replicas at the end"
            ),
        },
        None => Check::from_violations(
            "replicas-converged",
            "after anti-entropy settled, every live replica of each key holds the same version"
                .into(),
            keys.iter()
                .take(10)
                .map(|k| format!("{k} differs between its live replicas"))
                .chain((n > 10).then(|| format!("and {} more keys", n - 10)))
                .collect(),
        ),
    }
}

/// Anti-entropy's work.
#[derive(Debug, Clone, Serialize)]
pub struct AntiEntropy {
    pub exchanges: u64,
    pub keys_repaired: u64,
    pub messages: u64,
}

/// The linearizability checker's work.
#[derive(Debug, Clone, Serialize)]
pub struct CheckerWork {
    pub operations: usize,
    pub keys: usize,
    pub seconds: f64,
    pub ms_per_10k_ops: Option<f64>,
    pub clock_uncertainty_us: i64,
    pub violations: usize,
    pub undecided_keys: usize,
    pub method: Checker,
}

/// The figures of a run (merged into the JSON report; the summary reads them here).
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub operations: usize,
    pub failed_operations: usize,
    pub ops_per_s: Option<f64>,
    pub span_s: f64,
    pub get_latency: Option<Latency>,
    pub put_latency: Option<Latency>,
    pub backend: Backend,
    pub round_trips_per_get: Option<f64>,
    pub round_trips_per_put: Option<f64>,
    pub gets_with_write_back: usize,
    pub communication_steps: Option<Steps>,
    pub messages_per_op: Option<f64>,
    pub theoretical_messages_per_op: Option<f64>,
    pub theory: &'static str,
    pub bytes_per_op: Option<f64>,
    pub anti_entropy: AntiEntropy,
    pub divergent_keys_at_end: usize,
    pub checker: CheckerWork,
}

/// The figures of a run.
pub fn figures(args: &Args, run: &RunResult<Output>) -> Figures {
    let cfg = args.config(run.np);
    let lin = linearizability(args, run);
    let all: Vec<(i64, &OpRecord)> = run
        .ranks
        .iter()
        .filter_map(|r| match &r.output {
            Output::Client(c) => Some((r.clock.offset_us, c)),
            Output::Replica(_) | Output::LogServer(_) => None,
        })
        .flat_map(|(off, c)| c.ops.iter().map(move |o| (off, o)))
        .collect();
    let done: Vec<&(i64, &OpRecord)> = all.iter().filter(|o| o.1.return_us.is_some()).collect();
    let gets: Vec<&OpRecord> = done
        .iter()
        .map(|o| o.1)
        .filter(|o| o.put.is_none())
        .collect();
    let puts: Vec<&OpRecord> = done
        .iter()
        .map(|o| o.1)
        .filter(|o| o.put.is_some())
        .collect();
    let first = done.iter().map(|(off, o)| o.invoke_us as i64 + off).min();
    let last = done
        .iter()
        .filter_map(|(off, o)| o.return_us.map(|t| t as i64 + off))
        .max();
    let span_s = match (first, last) {
        (Some(f), Some(l)) if l > f => (l - f) as f64 / 1e6,
        _ => 0.0,
    };
    let lat = |v: &[&OpRecord]| {
        latency::latency_ms(
            v.iter()
                .map(|o| o.return_us.unwrap_or(0).saturating_sub(o.invoke_us)),
        )
    };
    let mean = |v: &[&OpRecord], f: &dyn Fn(&OpRecord) -> f64| {
        (!v.is_empty()).then(|| v.iter().map(|o| f(o)).sum::<f64>() / v.len() as f64)
    };
    let m = run.metrics();
    let n = cfg.replicas as f64;
    let op_kinds = ["Query", "QueryResp", "Store", "StoreAck"];
    let abd = cfg.backend == Backend::Abd;
    // The Raft backend's messages per op are all of them: requests, replication, elections.
    let op_messages: u64 = if abd {
        op_kinds.iter().map(|k| m.sent_of(k)).sum()
    } else {
        m.total.sent
    };
    // Every phase sends to the group and hears from all of it: 2N messages a round trip.
    let trips: u64 = done.iter().map(|o| o.1.trips as u64).sum();
    let per_op = |x: u64| (!done.is_empty()).then(|| x as f64 / done.len() as f64);
    let write_backs = gets.iter().filter(|o| o.trips > 1).count();
    let repaired: u64 = replicas(run).map(|r| r.2.repaired).sum();
    Figures {
        operations: done.len(),
        failed_operations: all.len() - done.len(),
        ops_per_s: (span_s > 0.0).then(|| done.len() as f64 / span_s),
        span_s,
        get_latency: lat(&gets),
        put_latency: lat(&puts),
        backend: cfg.backend,
        round_trips_per_get: mean(&gets, &|o| o.trips as f64).filter(|_| abd),
        round_trips_per_put: mean(&puts, &|o| o.trips as f64).filter(|_| abd),
        gets_with_write_back: write_backs,
        communication_steps: latency::steps_summary(done.iter().map(|o| o.1.steps)),
        messages_per_op: per_op(op_messages),
        theoretical_messages_per_op: per_op((2.0 * n) as u64 * trips).filter(|_| abd),
        theory: "2N messages per round trip (N requests to the group, N answers); 2 round trips per put, 1 per get or 2 with a write-back",
        bytes_per_op: per_op(m.total.bytes_sent),
        anti_entropy: AntiEntropy {
            exchanges: replicas(run).map(|r| r.2.exchanges).sum::<u64>(),
            keys_repaired: repaired,
            messages: m.sent_of("Digests") + m.sent_of("Entries"),
        },
        divergent_keys_at_end: divergent(&cfg, run).len(),
        checker: CheckerWork {
            operations: lin.checked.ops,
            keys: lin.checked.keys,
            seconds: lin.elapsed_s,
            ms_per_10k_ops: (lin.checked.ops > 0)
                .then(|| lin.elapsed_s * 1e3 * 1e4 / lin.checked.ops as f64),
            clock_uncertainty_us: lin.uncertainty_us,
            violations: lin.checked.violations.len(),
            undecided_keys: lin.checked.undecided.len(),
            method: args.checker,
        },
    }
}

/// Human-readable lines.
pub fn summarize(args: &Args, run: &RunResult<Output>) -> Vec<String> {
    let cfg = args.config(run.np);
    let (placement, replication) = match cfg.backend {
        Backend::Abd => (
            String::new(),
            format!(
                "{} replicas each (R={}, W={}{})",
                cfg.replicas,
                cfg.read_quorum,
                cfg.write_quorum,
                if cfg.read_quorum + cfg.write_quorum <= cfg.replicas {
                    ": R + W <= N, reads may miss writes"
                } else {
                    ""
                }
            ),
        ),
        Backend::Raft => (
            format!(
                "raft backend: one log on every server (majority {}), batch {}; ",
                cfg.raft.service.quorum, cfg.raft.service.batch
            ),
            "every key on every server".to_string(),
        ),
    };
    let mut lines = vec![format!(
        "{placement}servers 0-{}, clients {}-{}; {} keys, {replication}, {} ops per client ({}% gets), {} in flight{}",
        cfg.servers - 1,
        cfg.servers,
        run.np - 1,
        cfg.keys,
        cfg.ops,
        (args.read_ratio * 100.0).round(),
        cfg.inflight,
        cfg.anti_entropy
            .map_or(String::new(), |p| format!(", anti-entropy every {} ms", p.as_millis()))
    )];
    for r in &run.ranks {
        let tail = if r.crashed { " (crashed)" } else { "" };
        lines.push(match &r.output {
            Output::Replica(s) => format!(
                "server {}: {} keys{}{}",
                r.rank,
                s.store.len(),
                if cfg.anti_entropy.is_some() {
                    format!(", {} exchanges, {} keys repaired", s.exchanges, s.repaired)
                } else {
                    String::new()
                },
                tail
            ),
            Output::LogServer(s) => format!(
                "server {}: term {}, commit {}, {} commands applied, led {} term(s){}{}",
                r.rank,
                s.term,
                s.commit,
                s.executed,
                s.terms_led,
                if s.leader_at_end {
                    ", leader at the end"
                } else {
                    ""
                },
                tail
            ),
            Output::Client(c) => format!(
                "client {}: {} of {} operations completed{}{}",
                r.rank,
                c.ops.iter().filter(|o| o.return_us.is_some()).count(),
                c.ops.len(),
                if c.gave_up { ", gave up" } else { "" },
                tail
            ),
        });
    }
    let failed = failures(&cfg, run);
    if !failed.is_empty() {
        let mut by_key: BTreeMap<u32, usize> = BTreeMap::new();
        for f in &failed {
            *by_key.entry(f.2.key).or_default() += 1;
        }
        lines.push(format!(
            "{} operations on {} keys did not complete:",
            failed.len(),
            by_key.len()
        ));
        for (r, _, o, req) in failed.iter().take(5) {
            lines.push(format!(
                "  client {r} op {} on {}: {}{}",
                o.seq,
                key_name(o.key),
                o.failed
                    .as_deref()
                    .unwrap_or("pending when its client crashed"),
                req.as_ref()
                    .err()
                    .map_or(String::new(), |why| format!(" ({why})"))
            ));
        }
        if failed.len() > 5 {
            lines.push(format!("  and {} more", failed.len() - 5));
        }
    }
    let f = figures(args, run);
    let ms = |l: &Option<Latency>, p: fn(&Latency) -> f64| l.as_ref().map_or(f64::NAN, p);
    lines.push(format!(
        "{} operations, {:.0} ops/s; get p50 {:.3} ms p99 {:.3} ms{}, put p50 {:.3} ms p99 {:.3} ms{}; {:.1} messages per op{}",
        f.operations,
        f.ops_per_s.unwrap_or(0.0),
        ms(&f.get_latency, |l| l.p50_ms),
        ms(&f.get_latency, |l| l.p99_ms),
        f.round_trips_per_get.map_or(String::new(), |x| format!(" ({x:.2} round trips)")),
        ms(&f.put_latency, |l| l.p50_ms),
        ms(&f.put_latency, |l| l.p99_ms),
        f.round_trips_per_put.map_or(String::new(), |x| format!(" ({x:.2})")),
        f.messages_per_op.unwrap_or(f64::NAN),
        f.theoretical_messages_per_op.map_or(String::new(), |x| format!(" (theory {x:.1})")),
    ));
    let ch = &f.checker;
    lines.push(format!(
        "linearizability checked over {} operations on {} keys in {:.3} s (clock uncertainty {} us); {} divergent key(s) at the end{}",
        ch.operations,
        ch.keys,
        ch.seconds,
        ch.clock_uncertainty_us,
        f.divergent_keys_at_end,
        if cfg.anti_entropy.is_some() {
            format!(", {} repaired by anti-entropy", f.anti_entropy.keys_repaired)
        } else {
            String::new()
        }
    ));
    lines
}
