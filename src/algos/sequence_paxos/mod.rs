//! Sequence Paxos: a replicated log agreed by a leader, OmniPaxos-style, with client ranks.
//!
//! Roles by rank: servers `[0, S)` hold the log, clients `[S, np)` submit commands
//! (`--clients C`, so S = np - C).
//!
//! - **Election and phase 1, fused.** Server 0 stands first (after T/5), so that a run starts
//!   with a known leader. A server that hears nothing from a leader for a random
//!   T..2T (`--election-timeout T`) stands with a ballot (round, rank) above any it has seen,
//!   as in `leader-election`'s ballot variant, and sends `Prepare(b, its decided index)`. A
//!   server that has promised nothing higher answers `Promise` with the ballot in which its
//!   log was last accepted (`acc_rnd`), its length, and its log from the candidate's decided
//!   index on; a lower ballot gets `Nack`. The promise is the vote: with a majority, the
//!   candidate is leader, and adopts the log of the highest `acc_rnd` (longest among those),
//!   which holds every entry that any majority accepted.
//! - **Synchronization.** The leader sends each follower that promised `AcceptSync` with its
//!   log from that follower's decided index on; the follower replaces its undecided suffix with
//!   it and now accepts in the new ballot. Late promises are synchronized the same way.
//! - **Phase 2.** A client's `Request` (a batch of commands with ids (client, seq)) at the
//!   leader is appended unless its id is already in the log (deduplication: a retried command
//!   is decided once; one already decided is answered again); the leader sends new entries to
//!   every synchronized follower in `Accept`s of at most `--batch` entries without waiting
//!   (pipelining); followers append and answer `Accepted(length)`. The leader decides the
//!   longest prefix that a majority accepted in its ballot and sends each client one `Reply`
//!   with the sequence numbers decided. The decided index rides on every `Accept`.
//! - **Faults.** Every `--heartbeat` the leader resends what a follower has not acknowledged
//!   since the last tick (or an empty `Accept` that carries the decided index, which is also
//!   the followers' sign of life), `Prepare` to servers that have not promised and `AcceptSync`
//!   to those not synchronized. A follower that misses heartbeats stands for election; a leader
//!   that gets a `Nack` or a higher `Prepare` steps down. A leader cut off in a minority keeps
//!   its ballot but decides nothing; after the heal the new leader's `Prepare` makes it a
//!   follower and `AcceptSync` brings it up to date. Non-leaders answer requests with
//!   `Redirect` (the leader if known); a client that hears nothing for `--retry` resends its
//!   unanswered commands to the next server. A server stops once every client's commands are
//!   decided (the leader then sends the final decided index; a follower that misses it
//!   stands for election and learns it from the next leader's sync), or at `--give-up`.
//!
//! Checks in every run, from all ranks' outputs (crashed ranks included):
//! - prefix: of any two servers' decided logs, one is a prefix of the other;
//! - validity: every decided command was submitted by a client;
//! - at most once: no command is decided twice;
//! - answers: every command a client saw answered is in the decided log;
//! - termination, where the fault plan permits it (a majority of servers stays up, partitions
//!   end, links heal or lose less than half): every correct client's commands were answered.

pub mod client;
pub mod server;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use self::client::Client;
use self::server::Server;
use crate::algos::leader_election::Ballot;
use crate::shared::clients::{majority, ClientReport, CommandId};
use crate::shared::faults::FaultPlan;
use crate::shared::observe::latency;
use crate::shared::{Algorithm, Check, Ctx, Kind, Process, Rank, RunResult};

/// A log entry: a client's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: CommandId,
    pub payload: u64,
}

/// Messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// Client to server: commands (seq, payload).
    Request(Vec<(u32, u64)>),
    /// Server to client: not the leader; the leader if known.
    Redirect {
        leader: Option<Rank>,
    },
    /// Leader to client: these of your commands are decided.
    Reply(Vec<u32>),
    Prepare {
        b: Ballot,
        decided: usize,
    },
    Promise {
        b: Ballot,
        acc_rnd: Ballot,
        log_len: usize,
        decided: usize,
        suffix: Vec<Entry>,
    },
    Nack {
        promised: Ballot,
    },
    AcceptSync {
        b: Ballot,
        from: usize,
        entries: Vec<Entry>,
        decided: usize,
    },
    Accept {
        b: Ballot,
        start: usize,
        entries: Vec<Entry>,
        decided: usize,
    },
    Accepted {
        b: Ballot,
        len: usize,
    },
}

impl Kind for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Request(_) => "Request",
            Msg::Redirect { .. } => "Redirect",
            Msg::Reply(_) => "Reply",
            Msg::Prepare { .. } => "Prepare",
            Msg::Promise { .. } => "Promise",
            Msg::Nack { .. } => "Nack",
            Msg::AcceptSync { .. } => "AcceptSync",
            Msg::Accept { .. } => "Accept",
            Msg::Accepted { .. } => "Accepted",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Follower: no leader heard; stand for election.
    Election,
    /// Leader: resend and heartbeat.
    Heartbeat,
    /// Client: resend unanswered commands.
    Retry,
    /// Stop waiting.
    GiveUp,
}

/// The run's configuration, shared by all ranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub servers: usize,
    pub clients: usize,
    pub quorum: usize,
    pub requests: u32,
    pub inflight: usize,
    pub batch: usize,
    pub election: Duration,
    pub heartbeat: Duration,
    pub retry: Duration,
    pub give_up: Duration,
}

/// Options of the `sequence-paxos` binary.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// Client ranks (the last C ranks; the others are servers).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub clients: u64,
    /// Commands each client submits.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(0..=100_000_000))]
    pub requests: u32,
    /// Commands a client keeps unanswered at most.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub inflight: u64,
    /// Most entries per Accept (1: no batching).
    #[arg(long, default_value_t = 64, value_parser = parse_batch)]
    pub batch: u64,
    /// Base election timeout T (a follower waits T..2T) (ms).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(2..=600_000))]
    pub election_timeout: u64,
    /// Leader heartbeat and resend period (ms).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub heartbeat: u64,
    /// A client that hears nothing for this long resends to the next server (ms).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub retry: u64,
    /// Ranks stop waiting after this long, so that a run whose faults forbid progress ends (ms).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub give_up: u64,
}

fn parse_batch(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(b) if (1..=1_000_000).contains(&b) => Ok(b),
        _ => Err(format!(
            "--batch is the most commands per Accept, from 1 (no batching) to 1000000, got '{s}'"
        )),
    }
}

impl Args {
    fn config(&self, np: usize) -> Config {
        let servers = np - self.clients as usize;
        Config {
            servers,
            clients: self.clients as usize,
            quorum: majority(servers),
            requests: self.requests,
            inflight: self.inflight as usize,
            batch: self.batch as usize,
            election: Duration::from_millis(self.election_timeout),
            heartbeat: Duration::from_millis(self.heartbeat),
            retry: Duration::from_millis(self.retry),
            give_up: Duration::from_millis(self.give_up),
        }
    }
}

/// A server's or a client's rank.
#[derive(Debug, Clone)]
pub enum Node {
    Server(Box<Server>),
    Client(Box<Client>),
}

/// What a server reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerReport {
    /// Its decided log, as command ids.
    pub decided: Vec<CommandId>,
    pub log_len: usize,
    /// (ms, round) each time it became leader.
    pub led: Vec<(f64, u64)>,
    pub leader_at_end: bool,
    pub gave_up: bool,
}

/// What a rank reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Output {
    Server(ServerReport),
    Client(ClientReport),
}

impl Process for Node {
    type Msg = Msg;
    type Timer = Timer;
    type Output = Output;

    fn on_start(&mut self, ctx: &mut Ctx<Msg, Timer>) {
        match self {
            Node::Server(s) => s.on_start(ctx),
            Node::Client(c) => c.on_start(ctx),
        }
    }
    fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut Ctx<Msg, Timer>) {
        match self {
            Node::Server(s) => s.on_message(from, msg, ctx),
            Node::Client(c) => c.on_message(from, msg, ctx),
        }
    }
    fn on_timer(&mut self, t: Timer, ctx: &mut Ctx<Msg, Timer>) {
        match self {
            Node::Server(s) => s.on_timer(t, ctx),
            Node::Client(c) => c.on_timer(t, ctx),
        }
    }
    fn is_done(&self) -> bool {
        match self {
            Node::Server(s) => s.is_done(),
            Node::Client(c) => c.is_done(),
        }
    }
    fn output(&self) -> Output {
        match self {
            Node::Server(s) => Output::Server(s.report()),
            Node::Client(c) => Output::Client(c.report()),
        }
    }
}

fn servers_of(run: &RunResult<Output>) -> impl Iterator<Item = (Rank, bool, &ServerReport)> {
    run.ranks.iter().filter_map(|r| match &r.output {
        Output::Server(s) => Some((r.rank, r.crashed, s)),
        Output::Client(_) => None,
    })
}

fn clients_of(run: &RunResult<Output>) -> impl Iterator<Item = (Rank, bool, &ClientReport)> {
    run.ranks.iter().filter_map(|r| match &r.output {
        Output::Client(c) => Some((r.rank, r.crashed, c)),
        Output::Server(_) => None,
    })
}

/// Whether the plan lets every client finish.
fn termination_required(args: &Args, np: usize, faults: &FaultPlan) -> Result<(), String> {
    let cfg = args.config(np);
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
pub fn check_log(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
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
        if !crashed && c.done.len() < args.requests as usize {
            missing.push(format!(
                "client {r}: {} of {} commands answered",
                c.done.len(),
                args.requests
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
        format!("every correct client's {} commands answered", args.requests),
        missing,
    ));
    checks
}

/// `{p50, max}` of the communication steps from a command's submission to its answer (4 for
/// one command alone: request, Accept, Accepted, Reply; more when pipelined commands chain).
pub fn steps_summary(steps: impl Iterator<Item = u32>) -> serde_json::Value {
    let mut v: Vec<u32> = steps.collect();
    v.sort_unstable();
    match (v.get(v.len() / 2), v.last()) {
        (Some(p50), Some(max)) => serde_json::json!({"p50": p50, "max": max}),
        _ => serde_json::Value::Null,
    }
}

/// The `sequence-paxos` binary.
pub struct SequencePaxos;

impl Algorithm for SequencePaxos {
    const NAME: &'static str = "sequence-paxos";
    const ABOUT: &'static str = "Sequence Paxos (OmniPaxos-style): a leader elected by ballots, log synchronization on election, pipelined and batched Accepts, client ranks with retries and deduplication. Checks the prefix property, validity, at-most-once, answers and termination.";
    type Args = Args;
    type Proc = Node;

    fn validate(args: &Args, np: usize, _faults: &FaultPlan) -> Result<(), String> {
        let c = args.clients as usize;
        if c >= np {
            return Err(format!(
                "--clients {c} leaves no server at np={np}: sequence-paxos needs at least one server rank besides the clients (three to survive a crash)"
            ));
        }
        Ok(())
    }

    fn build(args: &Args, rank: Rank, np: usize) -> Node {
        let cfg = Arc::new(args.config(np));
        if rank < cfg.servers {
            Node::Server(Box::new(Server::new(rank, cfg)))
        } else {
            Node::Client(Box::new(Client::new(rank, cfg)))
        }
    }

    fn check(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
        check_log(args, run)
    }

    /// The decided log as its length (a million ids would cost seconds to write).
    fn output_view(output: &Output) -> serde_json::Value {
        match output {
            Output::Server(s) => serde_json::json!({"Server": {
                "decided": s.decided.len(), "log_len": s.log_len, "led": s.led,
                "leader_at_end": s.leader_at_end, "gave_up": s.gave_up,
            }}),
            Output::Client(c) => serde_json::json!({"Client": {
                "submitted": c.submitted, "answered": c.done.len(),
            }}),
        }
    }

    fn figures(args: &Args, run: &RunResult<Output>) -> Option<serde_json::Value> {
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
        let servers = run.np - args.clients as usize;
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
                    takeovers.push(serde_json::json!({
                        "crashed_leader": c.rank, "at_ms": t,
                        "new_leader": next.1, "after_ms": next.0 - t,
                    }));
                }
            }
        }
        Some(serde_json::json!({
            "commits": commits,
            "commits_per_s": (span_s > 0.0).then(|| commits as f64 / span_s),
            "client_span_s": span_s,
            "commit_latency": latency::summary_ms(
                clients_of(run).flat_map(|(_, _, c)| c.done.iter().map(|d| d.1 as u64))
            ),
            "communication_steps_per_commit": steps_summary(
                clients_of(run).flat_map(|(_, _, c)| c.done.iter().map(|d| d.2))
            ),
            "messages_per_commit": per_commit(m.total.sent),
            "bytes_per_commit": per_commit(m.total.bytes_sent),
            "server_messages_per_commit": per_commit(
                ["Accept", "Accepted"].iter().map(|k| m.sent_of(k)).sum()
            ),
            "theoretical_server_messages_per_commit":
                2.0 * (servers as f64 - 1.0) / args.batch as f64,
            "leader_changes": leaders.iter().map(|l| serde_json::json!({"at_ms": l.0, "leader": l.1, "round": l.2})).collect::<Vec<_>>(),
            "takeovers_after_leader_crash": takeovers,
        }))
    }

    fn summarize(args: &Args, run: &RunResult<Output>) -> Vec<String> {
        let cfg = args.config(run.np);
        let mut lines = vec![format!(
            "servers 0-{} (majority {}), clients {}-{}; {} commands per client, {} in flight, batch {}",
            cfg.servers - 1,
            cfg.quorum,
            cfg.servers,
            run.np - 1,
            args.requests,
            args.inflight,
            args.batch
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
        if let Some(f) = Self::figures(args, run) {
            let ms = |k: &str| f["commit_latency"][k].as_f64().unwrap_or(f64::NAN);
            lines.push(format!(
                "{} commits, {:.0} commits/s on the client's clock; latency p50 {:.3} ms, p99 {:.3} ms; {:.3} messages and {:.1} bytes per commit; {} leader change(s)",
                f["commits"],
                f["commits_per_s"].as_f64().unwrap_or(0.0),
                ms("p50_ms"),
                ms("p99_ms"),
                f["messages_per_commit"].as_f64().unwrap_or(0.0),
                f["bytes_per_commit"].as_f64().unwrap_or(0.0),
                f["leader_changes"].as_array().map_or(0, |l| l.len()),
            ));
        }
        lines
    }
}
