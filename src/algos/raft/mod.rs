//! Raft: leader election, log replication and a replicated key-value store, with crash-recovery
//! from stable storage, snapshots, PreVote and CheckQuorum.
//!
//! Roles by rank: servers `[0, S)` hold the log, clients `[S, np)` submit commands
//! (`--clients C`, so S = np - C).
//!
//! - **Terms and elections.** Each server has a term, persisted with its vote. A follower that
//!   hears no leader for a random T..2T (`--election-timeout T`; server 0 stands at T/5 so that
//!   a run starts with a known leader) first runs a **PreVote** round: it asks for votes for
//!   term + 1 without raising its own term; a server grants one only if it has not heard from
//!   a leader for T and the candidate's log is at least as up to date as its own (last term,
//!   then last index). With a majority it becomes a candidate: term + 1, votes for itself,
//!   persists both, and sends `RequestVote`; a server grants at most one vote per term
//!   (persisted before the answer leaves: the reason a restarted server cannot vote twice),
//!   under the same up-to-date rule, and ignores candidates while it hears from a live leader.
//!   A majority makes the candidate leader; it appends a no-op entry of its term.
//! - **Replication.** The leader appends client commands to its log (persisted first) and sends
//!   `AppendEntries` of at most `--batch` entries to every follower without waiting
//!   (pipelining: nextIndex moves on when an entry is sent). A follower accepts them only if
//!   its log holds the entry before them with the same term (the consistency check), deletes a
//!   conflicting suffix, appends, persists, and answers with how far its log matches; on a
//!   mismatch it answers with the conflicting term and its first index (fast backtracking), and
//!   the leader resends from there. The leader commits the highest index that a majority
//!   stored, only if that entry is of its current term (Figure 8 of the paper: an entry of an
//!   older term is committed only through one of the current term); the commit index rides on
//!   every `AppendEntries`.
//! - **State machine and clients.** Every server applies committed entries in order to a
//!   key-value map ([`kv`]); the leader answers each client command it applies. A client sends
//!   put/get commands (`--keys`, `--read-ratio`) to the leader it believes in, is redirected by
//!   followers and resends on `--retry`; client sessions make a retried command take effect
//!   once. Reads go through the log: a get is answered with the map's state at its position
//!   in the log, which lies between its submission and its answer (linearizable).
//! - **Faults.** Every `--heartbeat` the leader sends each follower an `AppendEntries` (what it
//!   has not acknowledged since the last tick, or an empty one); **CheckQuorum**: a leader that
//!   has not heard from a majority within T steps down. A server restarted (`--restart`) gets
//!   back only its persisted term, vote, log and snapshot; it learns the commit index from the
//!   leader and re-applies. With `--snapshot-every N` a server snapshots its state machine
//!   every N applied entries and drops that prefix of its log; a follower that needs a dropped
//!   entry gets `InstallSnapshot`.
//!
//! Checks in every run, from all servers' outputs, crashed and earlier lives included:
//! - election safety: at most one leader per term;
//! - leader append-only: no leader removed an entry from its own log;
//! - log matching: if two logs hold an entry with the same index and term, they are identical
//!   up to it;
//! - leader completeness: every leader's log held, when it was elected, every entry committed
//!   in an earlier term;
//! - state machine safety: no two servers applied different entries at one index;
//! - validity and at most once: every executed command was submitted, none executed twice;
//! - linearizable replies: every answered get returned the value of the latest put before it
//!   in the log, every answered command is in the log;
//! - termination, where the plan permits (a majority of servers up at the end, partitions
//!   over, links that deliver): every correct client's commands answered.

mod check;
pub mod client;
pub mod kv;
pub mod server;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use self::client::Client;
use self::kv::Op;
use self::server::Server;
use crate::shared::clients::{majority, ClientReport, CommandId};
use crate::shared::faults::FaultPlan;
use crate::shared::{Algorithm, Check, Ctx, Kind, Process, Rank, RunResult};

/// What a log entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmd {
    /// A new leader's first entry, which commits those of earlier terms.
    Noop,
    /// A client's command and the client's lowest unanswered sequence number.
    Client { id: CommandId, op: Op, low: u32 },
}

/// A log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: u64,
    pub cmd: Cmd,
}

impl Entry {
    pub fn id(&self) -> Option<CommandId> {
        match self.cmd {
            Cmd::Noop => None,
            Cmd::Client { id, .. } => Some(id),
        }
    }
}

/// A snapshot of the state machine up to `last_index`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub last_index: u64,
    pub last_term: u64,
    pub kv: kv::Kv,
}

/// Messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// Client to server: commands (seq, op), and the client's lowest unanswered seq.
    Request {
        low: u32,
        cmds: Vec<(u32, Op)>,
    },
    /// Server to client: not the leader; the leader if known.
    Redirect {
        leader: Option<Rank>,
    },
    /// Leader to client: results of these commands (a get's value; None for a put).
    Reply(Vec<(u32, Option<u64>)>),
    /// A vote request; `pre`: a PreVote for `term` that changes no one's term.
    RequestVote {
        term: u64,
        last_index: u64,
        last_term: u64,
        pre: bool,
    },
    Vote {
        term: u64,
        granted: bool,
        pre: bool,
    },
    AppendEntries {
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
    },
    /// `ok`: the log matches up to `index`. Otherwise the follower's first index of
    /// `conflict_term` at the leader's `prev_index` (or its last index + 1 if it has no entry
    /// there, with `conflict_term` 0), and the refused `prev_index` in `rejected`.
    AppendResp {
        term: u64,
        ok: bool,
        index: u64,
        conflict_term: u64,
        rejected: u64,
    },
    InstallSnapshot {
        term: u64,
        snapshot: Snapshot,
    },
}

impl Kind for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Request { .. } => "Request",
            Msg::Redirect { .. } => "Redirect",
            Msg::Reply(_) => "Reply",
            Msg::RequestVote { pre: true, .. } => "PreVote",
            Msg::RequestVote { pre: false, .. } => "RequestVote",
            Msg::Vote { pre: true, .. } => "PreVoteResp",
            Msg::Vote { pre: false, .. } => "Vote",
            Msg::AppendEntries { .. } => "AppendEntries",
            Msg::AppendResp { .. } => "AppendResp",
            Msg::InstallSnapshot { .. } => "InstallSnapshot",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Follower or candidate: no leader heard; run a PreVote.
    Election,
    /// Leader: replicate and heartbeat.
    Heartbeat,
    /// Leader: step down unless a majority answered since the last check.
    CheckQuorum,
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
    pub keys: u32,
    pub read_permille: u32,
    pub snapshot_every: u64,
    pub election: Duration,
    pub heartbeat: Duration,
    pub retry: Duration,
    pub give_up: Duration,
}

/// Options of the `raft` binary.
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
    /// Most entries per AppendEntries (1: no batching).
    #[arg(long, default_value_t = 64, value_parser = parse_batch)]
    pub batch: u64,
    /// Keys of the replicated map (a snapshot of them travels in one message).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub keys: u32,
    /// Share of gets among the commands (the rest are puts).
    #[arg(long, default_value_t = 0.5, value_parser = crate::shared::faults::parse_probability)]
    pub read_ratio: f64,
    /// Snapshot the state machine and drop the log's prefix every N applied entries (0: never).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    pub snapshot_every: u64,
    /// Base election timeout T (a follower waits T..2T; CheckQuorum every T) (ms).
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
        Ok(b) if (1..=10_000).contains(&b) => Ok(b),
        _ => Err(format!(
            "--batch is the most entries per AppendEntries, from 1 (no batching) to 10000, got '{s}'"
        )),
    }
}

impl Args {
    pub fn config(&self, np: usize) -> Config {
        let servers = np - self.clients as usize;
        Config {
            servers,
            clients: self.clients as usize,
            quorum: majority(servers),
            requests: self.requests,
            inflight: self.inflight as usize,
            batch: self.batch as usize,
            keys: self.keys,
            read_permille: (self.read_ratio * 1000.0).round() as u32,
            snapshot_every: self.snapshot_every,
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

/// One term a server led: when, and its log then (as runs of equal terms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Led {
    pub term: u64,
    pub at_us: u64,
    /// Its last index when elected (before its no-op).
    pub last_index: u64,
    /// Its log's first index not in its snapshot (everything before it is committed).
    pub first_index: u64,
    /// (term, first index) of each run of entries of one term in its log then.
    pub runs: Vec<(u64, u64)>,
}

/// One applied entry: its term, the client command (None: a no-op), and whether it was a
/// duplicate that the state machine skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub term: u64,
    pub id: Option<CommandId>,
    pub dup: bool,
}

/// What a server reports (of one life: a restarted server reports each life apart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerReport {
    pub term: u64,
    /// Every term it led.
    pub led: Vec<Led>,
    /// (term, highest index it committed as leader in that term).
    pub commits: Vec<(u64, u64)>,
    /// Applied entries in runs: (index of the first, entries); a snapshot installed starts a
    /// new run.
    pub applied: Vec<(u64, Vec<Applied>)>,
    /// Its log at the end: the index before its first entry, and each entry's (term, command).
    pub log_offset: u64,
    pub log: Vec<(u64, Option<CommandId>)>,
    /// (term, index) of entries it removed from its own log while leading: must stay empty.
    pub leader_overwrites: Vec<(u64, u64)>,
    pub commit: u64,
    /// This life started from stored records: how many, and its last persisted index.
    pub recovered: Option<(usize, u64)>,
    pub started_us: u64,
    /// After a restart: the leader's commit index when it first heard from one, and when it
    /// had applied that much.
    pub catch_up_target: Option<u64>,
    pub caught_up_us: Option<u64>,
    pub snapshots_taken: u32,
    pub snapshots_installed: u32,
    pub leader_at_end: bool,
    pub gave_up: bool,
}

/// What a client reports: the workload, and the result of every answered get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaftClientReport {
    pub work: ClientReport,
    pub reads: Vec<(u32, Option<u64>)>,
}

/// What a rank reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Output {
    Server(Box<ServerReport>),
    Client(RaftClientReport),
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
            Node::Server(s) => Output::Server(Box::new(s.report())),
            Node::Client(c) => Output::Client(c.report()),
        }
    }
}

/// The `raft` binary.
pub struct Raft;

impl Algorithm for Raft {
    const NAME: &'static str = "raft";
    const ABOUT: &'static str = "Raft: elections with PreVote and CheckQuorum, pipelined and batched log replication, a replicated key-value map with client sessions, crash-recovery from stable storage (--restart), snapshots (--snapshot-every). Checks election safety, leader append-only, log matching, leader completeness, state machine safety, at-most-once, linearizable replies and termination.";
    const RECOVERS: bool = true;
    type Args = Args;
    type Proc = Node;

    fn validate(args: &Args, np: usize, faults: &FaultPlan) -> Result<(), String> {
        let c = args.clients as usize;
        if c >= np {
            return Err(format!(
                "--clients {c} leaves no server at np={np}: raft needs at least one server rank besides the clients (three to survive a crash)"
            ));
        }
        let servers = np - c;
        if let Some(r) = faults
            .restarts
            .iter()
            .chain(&faults.persist_crashes)
            .find(|r| r.rank >= servers)
        {
            return Err(format!(
                "rank {} is a client (servers are 0..{}): clients keep nothing on stable storage, so only servers can be restarted or crashed after a write",
                r.rank,
                servers - 1
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

    fn recover(args: &Args, rank: Rank, np: usize, stored: &[Vec<u8>]) -> Node {
        let cfg = Arc::new(args.config(np));
        if rank < cfg.servers {
            Node::Server(Box::new(Server::recover(rank, cfg, stored)))
        } else {
            // Not reached: validate refuses to restart a client.
            Node::Client(Box::new(Client::new(rank, cfg)))
        }
    }

    fn check(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
        check::checks(args, run)
    }

    fn figures(args: &Args, run: &RunResult<Output>) -> Option<serde_json::Value> {
        Some(check::figures(args, run))
    }

    /// Logs and applied entries as their extent, not entry by entry (a million of them would
    /// cost seconds to write; the checker reads them all).
    fn output_view(output: &Output) -> serde_json::Value {
        match output {
            Output::Server(s) => serde_json::json!({
                "server": {
                    "term": s.term,
                    "led": s.led.iter().map(|l| serde_json::json!({"term": l.term, "at_ms": l.at_us as f64 / 1e3, "last_index": l.last_index})).collect::<Vec<_>>(),
                    "commits": s.commits,
                    "applied": s.applied.iter().map(|(first, v)| serde_json::json!({"from": first, "entries": v.len()})).collect::<Vec<_>>(),
                    "executed": s.applied.iter().flat_map(|r| &r.1).filter(|a| a.id.is_some() && !a.dup).count(),
                    "log": {"after": s.log_offset, "entries": s.log.len(), "last_term": s.log.last().map_or(0, |e| e.0)},
                    "commit": s.commit,
                    "leader_overwrites": s.leader_overwrites,
                    "recovered": s.recovered,
                    "catch_up_target": s.catch_up_target,
                    "caught_up_ms": s.caught_up_us.map(|c| c as f64 / 1e3),
                    "snapshots_taken": s.snapshots_taken,
                    "snapshots_installed": s.snapshots_installed,
                    "leader_at_end": s.leader_at_end,
                    "gave_up": s.gave_up,
                }
            }),
            Output::Client(c) => serde_json::json!({
                "client": {
                    "submitted": c.work.submitted,
                    "answered": c.work.done.len(),
                    "gets": c.reads.len(),
                }
            }),
        }
    }

    fn summarize(args: &Args, run: &RunResult<Output>) -> Vec<String> {
        check::summarize(args, run)
    }
}
