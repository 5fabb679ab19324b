//! Raft: leader election, log replication and a replicated key-value store, with crash-recovery
//! from stable storage, snapshots, PreVote and CheckQuorum.
//!
//! Roles by rank: servers `[0, S)` hold the log, clients `[S, np)` submit commands
//! (`--clients C`, so S = np - C).
//!
//! The code: a service on [`crate::shared::service`] (its client/peer split, the two roles as one
//! process, the leader-seeking client); [`messages`] has one struct per message between
//! servers; [`server`] is split by concern (log, storage, election, leader, follower, apply);
//! [`client`] only says what a command is; `check` holds the checks, figures and summary.
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

pub mod check;
pub mod client;
pub mod history;
pub mod kv;
pub mod messages;
pub mod server;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use self::client::Client;
use self::kv::Op;
use self::messages::{Peer, PeerTimer};
use self::server::Server;
use crate::shared::clients::{ClientReport, CommandId};
use crate::shared::faults::FaultPlan;
use crate::shared::process::BadRecord;
use crate::shared::service::{
    self, servers_at, MsgOf, RoleReport, Roles, Service, ServiceArgs, TimerOf,
};
use crate::shared::{Algorithm, Check, Rank, RunResult};

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

/// Raft plugged into the service scaffolding: its peer messages and timers, and a key-value
/// command with a get's value as its result.
impl Service for Raft {
    type Peer = Peer;
    type PeerTimer = PeerTimer;
    type Op = Op;
    type Out = Option<u64>;
}

/// Messages: the clients' (Request, Redirect, Reply) and the servers' ([`Peer`]).
pub type Msg = MsgOf<Raft>;
/// Timers: the clients' and the servers' ([`PeerTimer`]).
pub type Timer = TimerOf<Raft>;

/// The run's configuration, shared by all ranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub service: service::Config,
    pub keys: u32,
    pub read_permille: u32,
    pub snapshot_every: u64,
}

/// The most entries per AppendEntries (`--batch`).
pub const MAX_BATCH: u64 = 10_000;

/// Options of the `raft` binary.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    #[command(flatten)]
    #[serde(flatten)]
    pub service: ServiceArgs,
    /// Keys of the replicated map (a snapshot of them travels in one message).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub keys: u32,
    /// Share of gets among the commands (the rest are puts).
    #[arg(long, default_value_t = 0.5, value_parser = crate::shared::faults::parse_probability)]
    pub read_ratio: f64,
    /// Snapshot the state machine and drop the log's prefix every N applied entries (0: never).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    pub snapshot_every: u64,
    /// Write every client command to FILE, one JSON object a line, for outside checkers
    /// (Porcupine, Knossos; the format is in the README). Under MPI the ranks' clocks are then
    /// synchronized at the start.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub history: Option<PathBuf>,
}

impl Args {
    pub fn config(&self, np: usize) -> Config {
        Config {
            service: self.service.config(np),
            keys: self.keys,
            read_permille: (self.read_ratio * 1000.0).round() as u32,
            snapshot_every: self.snapshot_every,
        }
    }
}

/// A rank: a server or a client.
pub type Proc = Roles<Server, Client>;

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
    /// As leader: how often a follower refused an index it had acknowledged (its log shrank).
    pub follower_logs_shrank: u32,
    pub leader_at_end: bool,
    pub gave_up: bool,
    /// Its state machine when this life ended: (applied index, [`kv::digest`] of the map).
    #[serde(default)]
    pub kv: Option<(u64, u64)>,
}

/// What a client reports: the workload, and the result of every answered get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaftClientReport {
    pub work: ClientReport,
    pub reads: Vec<(u32, Option<u64>)>,
}

/// What a rank reports.
pub type Output = RoleReport<Box<ServerReport>, RaftClientReport>;

/// The `raft` binary.
pub struct Raft;

impl Algorithm for Raft {
    const KINDS: &'static [&'static str] = &[
        "AppendEntries",
        "AppendResp",
        "Request",
        "Reply",
        "PreVote",
        "PreVoteResp",
        "RequestVote",
        "Vote",
        "Redirect",
        "InstallSnapshot",
    ];

    fn roles(args: &Args, np: usize) -> Vec<String> {
        crate::shared::service::options::server_client_roles(np, args.service.clients as usize)
    }
    const NAME: &'static str = "raft";
    const ABOUT: &'static str = "Raft: elections with PreVote and CheckQuorum, pipelined and batched log replication, a replicated key-value map with client sessions, crash-recovery from stable storage (--restart), snapshots (--snapshot-every). Checks election safety, leader append-only, log matching, leader completeness, state machine safety, at-most-once, linearizable replies and termination.";
    const RECOVERS: bool = true;
    const LEADS: bool = true;
    type Args = Args;
    type Proc = Proc;

    fn validate(args: &Args, np: usize, faults: &FaultPlan) -> Result<(), String> {
        let servers = servers_at("raft", args.service.clients, np)?;
        if args.service.log.batch > MAX_BATCH {
            return Err(format!(
                "--batch is the most entries per AppendEntries, from 1 (no batching) to {MAX_BATCH}, got {}",
                args.service.log.batch
            ));
        }
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

    fn build(args: &Args, rank: Rank, np: usize) -> Proc {
        let cfg = Arc::new(args.config(np));
        let give_up = cfg.service.give_up;
        if rank < cfg.service.servers {
            Roles::server(Server::new(rank, cfg), give_up)
        } else {
            Roles::client(client::new(rank, &cfg), give_up)
        }
    }

    fn recover(args: &Args, rank: Rank, np: usize, stored: &[Vec<u8>]) -> Result<Proc, BadRecord> {
        let cfg = Arc::new(args.config(np));
        let give_up = cfg.service.give_up;
        if rank < cfg.service.servers {
            Ok(Roles::server(Server::recover(rank, cfg, stored)?, give_up))
        } else {
            // Not reached: validate refuses to restart a client.
            Ok(Roles::client(client::new(rank, &cfg), give_up))
        }
    }

    fn check(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
        check::checks(args, run)
    }

    /// A history for outside checkers compares times across ranks.
    fn needs_clocks(args: &Args) -> bool {
        args.history.is_some()
    }

    fn own_outputs(args: &Args) -> Vec<(&'static str, PathBuf)> {
        args.history
            .iter()
            .map(|p| ("history", p.clone()))
            .collect()
    }

    fn files(args: &Args, run: &RunResult<Output>) -> Vec<(&'static str, String)> {
        let history = |_: &PathBuf| ("history", history::of_run(args, run).to_json_lines());
        args.history.iter().map(history).collect()
    }

    fn figures(args: &Args, run: &RunResult<Output>) -> Option<serde_json::Value> {
        serde_json::to_value(check::figures(args, run)).ok()
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
                    "follower_logs_shrank": s.follower_logs_shrank,
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
