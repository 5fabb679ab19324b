//! The checks of a Sequence Paxos run (prefix, validity, at most once, answers, termination),
//! its figures and its summary, from every rank's output.

use serde::Serialize;

use super::{Args, Output, ServerReport};
use crate::shared::clients::{ClientReport, CommandId};
use crate::shared::service::{stall_check, CommitFigures};
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
fn termination_required(args: &Args, run: &RunResult<Output>) -> Result<(), String> {
    run.interrupted()?;
    let (np, faults) = (run.np, &run.applied_faults());
    let cfg = args.service.config(np);
    let up: Vec<Rank> = (0..cfg.servers)
        .filter(|&r| faults.crash_time_ms(r).is_none())
        .collect();
    if up.len() < cfg.quorum {
        return Err(format!(
            "only {} of {} servers stay up, fewer than a majority",
            up.len(),
            cfg.servers
        ));
    }
    let clients: Vec<Rank> = (cfg.servers..np)
        .filter(|&r| faults.crash_time_ms(r).is_none())
        .collect();
    if let Some(why) = faults.blocked_at_end(run.end_ms(), &up, &up, cfg.quorum, &clients) {
        return Err(why);
    }
    faults.never_delivers().map_or(Ok(()), Err)
}

/// Why this Sequence Paxos may stall longer than the bound under partial connectivity.
pub const PARTIAL_CONNECTIVITY_LIMIT: &str = "its ballot election has no quorum-connected test (OmniPaxos's BLE lets only a server that hears a majority stand), so under partial connectivity servers that cannot lead keep standing with higher ballots and delay the one that can reach everyone";

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
    let required = termination_required(args, run);
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
    let work: Vec<(Rank, bool, &ClientReport)> = clients_of(run).collect();
    checks.push(stall_check(
        run,
        &work,
        &args.service.config(run.np),
        Some(PARTIAL_CONNECTIVITY_LIMIT),
    ));
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
    #[serde(flatten)]
    pub commit: CommitFigures,
    pub leader_changes: Vec<LeaderChange>,
    pub takeovers_after_leader_crash: Vec<Takeover>,
}

/// The figures of a run.
pub fn figures(args: &Args, run: &RunResult<Output>) -> Figures {
    let commits = servers_of(run)
        .map(|(_, _, s)| s.decided.len())
        .max()
        .unwrap_or(0);
    let mut leaders: Vec<(f64, Rank, u64)> = servers_of(run)
        .flat_map(|(r, _, s)| s.led.iter().map(move |&(t, round)| (t, r, round)))
        .collect();
    leaders.sort_by(|a, b| a.0.total_cmp(&b.0));
    // After each crash of the leader of the moment: how long until the next leader.
    let mut takeovers = Vec::new();
    for c in &run.applied_faults().crashes {
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
        commit: CommitFigures::of(
            commits as u64,
            &clients_of(run).map(|(_, _, c)| c).collect::<Vec<_>>(),
            &run.metrics(),
            ["Accept", "Accepted"],
            &args.service.config(run.np),
        ),
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
    lines.push(format!(
        "{}; {:.3} messages and {:.1} bytes per commit; {} leader change(s)",
        f.commit.headline(),
        f.commit.messages_per_commit.unwrap_or(0.0),
        f.commit.bytes_per_commit.unwrap_or(0.0),
        f.leader_changes.len(),
    ));
    lines
}
