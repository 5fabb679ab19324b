//! The checks of a Sequence Paxos run (prefix, validity, at most once, answers, termination),
//! its figures and its summary, from every rank's output.

use serde::Serialize;

use super::{Args, Output, ServerReport};
use crate::shared::clients::{ClientReport, CommandId};
use crate::shared::faults::FaultPlan;
use crate::shared::observe::latency::{self, Latency, Steps};
use crate::shared::{Check, Rank, RunResult};

pub(super) fn servers_of(
    run: &RunResult<Output>,
) -> impl Iterator<Item = (Rank, bool, &ServerReport)> {
    run.ranks.iter().filter_map(|r| match &r.output {
        Output::Server(s) => Some((r.rank, r.crashed, s)),
        Output::Client(_) => None,
    })
}

pub(super) fn clients_of(
    run: &RunResult<Output>,
) -> impl Iterator<Item = (Rank, bool, &ClientReport)> {
    run.ranks.iter().filter_map(|r| match &r.output {
        Output::Client(c) => Some((r.rank, r.crashed, c)),
        Output::Server(_) => None,
    })
}

/// Whether the plan lets every client finish.
fn termination_required(args: &Args, np: usize, faults: &FaultPlan) -> Result<(), String> {
    let cfg = args.service.config(np);
    let up = (0..cfg.servers)
        .filter(|&r| faults.crash_time_ms(r).is_none())
        .count();
    if up < cfg.quorum {
        return Err(format!(
            "only {up} of {} servers stay up, fewer than a majority",
            cfg.servers
        ));
    }
    faults.never_delivers().map_or(Ok(()), Err)
}

/// The checks of a run.
pub fn checks(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
    let longest: &[CommandId] = servers_of(run)
        .map(|(_, _, s)| s.decided.as_slice())
        .max_by_key(|d| d.len())
        .unwrap_or_default();
    let mut prefix = Vec::new();
    for (r, crashed, s) in servers_of(run) {
        if let Some(i) = s.decided.iter().zip(longest).position(|(a, b)| a != b) {
            prefix.push(format!(
                "server {r}{} decided {:?} at index {i} where another decided {:?}",
                if crashed { " (crashed)" } else { "" },
                s.decided[i],
                longest[i]
            ));
        }
    }
    let submitted: Vec<(u32, u32)> = clients_of(run)
        .map(|(r, _, c)| (r as u32, c.submitted))
        .collect();
    let mut validity = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut twice = Vec::new();
    for (i, id) in longest.iter().enumerate() {
        if !submitted.iter().any(|&(c, n)| c == id.client && id.seq < n) {
            validity.push(format!("index {i}: {id:?} was never submitted"));
        }
        if !seen.insert(*id) {
            twice.push(format!("{id:?} decided again at index {i}"));
        }
    }
    let mut answers = Vec::new();
    let mut missing = Vec::new();
    let required = termination_required(args, run.np, &run.faults);
    for (r, crashed, c) in clients_of(run) {
        for &(seq, ..) in &c.done {
            let id = CommandId {
                client: r as u32,
                seq,
            };
            if !seen.contains(&id) {
                answers.push(format!(
                    "client {r} was answered for seq {seq}, which is not decided"
                ));
            }
        }
        if !crashed && c.done.len() < args.service.requests as usize {
            missing.push(format!(
                "client {r}: {} of {} commands answered",
                c.done.len(),
                args.service.requests
            ));
        }
    }
    let n = longest.len();
    let mut checks = vec![
        Check::from_violations(
            "prefix",
            format!(
                "{} servers' decided logs are prefixes of the longest ({n} entries)",
                servers_of(run).count()
            ),
            prefix,
        ),
        Check::from_violations(
            "validity",
            "every decided command was submitted".into(),
            validity,
        ),
        Check::from_violations("at-most-once", "no command decided twice".into(), twice),
        Check::from_violations(
            "answers",
            "every answered command is decided".into(),
            answers,
        ),
    ];
    checks.push(Check::if_required(
        "termination",
        required,
        format!(
            "every correct client's {} commands answered",
            args.service.requests
        ),
        missing,
    ));
    checks
}

/// A leader elected: when (ms), who, in which round.
#[derive(Debug, Clone, Serialize)]
pub struct LeaderChange {
    pub at_ms: f64,
    pub leader: Rank,
    pub round: u64,
}

/// A new leader after the leader of the moment crashed.
#[derive(Debug, Clone, Serialize)]
pub struct Takeover {
    pub crashed_leader: Rank,
    pub at_ms: f64,
    pub new_leader: Rank,
    pub after_ms: f64,
}

/// The figures of a run (merged into the JSON report; the summary reads them here).
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub commits: usize,
    pub commits_per_s: Option<f64>,
    pub client_span_s: f64,
    pub commit_latency: Option<Latency>,
    pub communication_steps_per_commit: Option<Steps>,
    pub messages_per_commit: Option<f64>,
    pub bytes_per_commit: Option<f64>,
    pub server_messages_per_commit: Option<f64>,
    pub theoretical_server_messages_per_commit: f64,
    pub leader_changes: Vec<LeaderChange>,
    pub takeovers_after_leader_crash: Vec<Takeover>,
}

/// The figures of a run.
pub fn figures(args: &Args, run: &RunResult<Output>) -> Figures {
    let commits = servers_of(run)
        .map(|(_, _, s)| s.decided.len())
        .max()
        .unwrap_or(0);
    let first = clients_of(run)
        .filter_map(|(_, _, c)| c.first_submit_us)
        .min();
    let last = clients_of(run).map(|(_, _, c)| c.last_reply_us).max();
    let span_s = match (first, last) {
        (Some(f), Some(l)) if l > f => (l - f) as f64 / 1e6,
        _ => 0.0,
    };
    let m = run.metrics();
    let per_commit = |x: u64| (commits > 0).then(|| x as f64 / commits as f64);
    let servers = run.np - args.service.clients as usize;
    let mut leaders: Vec<(f64, Rank, u64)> = servers_of(run)
        .flat_map(|(r, _, s)| s.led.iter().map(move |&(t, round)| (t, r, round)))
        .collect();
    leaders.sort_by(|a, b| a.0.total_cmp(&b.0));
    // After each crash of the leader of the moment: how long until the next leader.
    let mut takeovers = Vec::new();
    for c in &run.faults.crashes {
        let t = c.at_ms as f64;
        let leading = leaders.iter().rev().find(|l| l.0 <= t);
        if leading.is_some_and(|l| l.1 == c.rank) {
            if let Some(next) = leaders.iter().find(|l| l.0 > t) {
                takeovers.push(Takeover {
                    crashed_leader: c.rank,
                    at_ms: t,
                    new_leader: next.1,
                    after_ms: next.0 - t,
                });
            }
        }
    }
    Figures {
        commits,
        commits_per_s: (span_s > 0.0).then(|| commits as f64 / span_s),
        client_span_s: span_s,
        commit_latency: latency::latency_ms(
            clients_of(run).flat_map(|(_, _, c)| c.done.iter().map(|d| d.1 as u64)),
        ),
        communication_steps_per_commit: latency::steps_summary(
            clients_of(run).flat_map(|(_, _, c)| c.done.iter().map(|d| d.2)),
        ),
        messages_per_commit: per_commit(m.total.sent),
        bytes_per_commit: per_commit(m.total.bytes_sent),
        server_messages_per_commit: per_commit(
            ["Accept", "Accepted"].iter().map(|k| m.sent_of(k)).sum(),
        ),
        theoretical_server_messages_per_commit: 2.0 * (servers as f64 - 1.0)
            / args.service.log.batch as f64,
        leader_changes: leaders
            .iter()
            .map(|l| LeaderChange {
                at_ms: l.0,
                leader: l.1,
                round: l.2,
            })
            .collect(),
        takeovers_after_leader_crash: takeovers,
    }
}

/// Human-readable lines.
pub fn summarize(args: &Args, run: &RunResult<Output>) -> Vec<String> {
    let cfg = args.service.config(run.np);
    let mut lines = vec![format!(
        "servers 0-{} (majority {}), clients {}-{}; {} commands per client, {} in flight, batch {}",
        cfg.servers - 1,
        cfg.quorum,
        cfg.servers,
        run.np - 1,
        args.service.requests,
        args.service.inflight,
        args.service.log.batch
    )];
    for r in &run.ranks {
        let tail = if r.crashed { " (crashed)" } else { "" };
        lines.push(match &r.output {
            Output::Server(s) => format!(
                "server {}: decided {} of {} entries, led {} time(s){}{}{}",
                r.rank,
                s.decided.len(),
                s.log_len,
                s.led.len(),
                if s.leader_at_end {
                    ", leader at the end"
                } else {
                    ""
                },
                if s.gave_up { ", gave up" } else { "" },
                tail
            ),
            Output::Client(c) => format!(
                "client {}: {} of {} commands answered{}",
                r.rank,
                c.done.len(),
                c.submitted,
                tail
            ),
        });
    }
    let f = figures(args, run);
    let ms = |p: fn(&Latency) -> f64| f.commit_latency.as_ref().map_or(f64::NAN, p);
    lines.push(format!(
        "{} commits, {:.0} commits/s on the client's clock; latency p50 {:.3} ms, p99 {:.3} ms; {:.3} messages and {:.1} bytes per commit; {} leader change(s)",
        f.commits,
        f.commits_per_s.unwrap_or(0.0),
        ms(|l| l.p50_ms),
        ms(|l| l.p99_ms),
        f.messages_per_commit.unwrap_or(0.0),
        f.bytes_per_commit.unwrap_or(0.0),
        f.leader_changes.len(),
    ));
    lines
}
