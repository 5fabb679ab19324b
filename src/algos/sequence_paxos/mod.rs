//! Sequence Paxos: a replicated log agreed by a leader, OmniPaxos-style, with client ranks.
//!
//! Roles by rank: servers `[0, S)` hold the log, clients `[S, np)` submit commands
//! (`--clients C`, so S = np - C).
//!
//! The code: a service on [`crate::shared::service`] (its client/peer split, the two roles as one
//! process, the leader-seeking client); [`messages`] has one struct per message between
//! servers; [`server`] the follower, candidate and leader; [`client`] only says what a command
//! is; `check` holds the checks, figures and summary.
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

pub mod check;
pub mod client;
pub mod messages;
pub mod server;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use self::client::Client;
use self::messages::{Peer, PeerTimer};
use self::server::Server;
use crate::shared::clients::{ClientReport, CommandId};
use crate::shared::faults::FaultPlan;
use crate::shared::service::{
    self, servers_at, MsgOf, RoleReport, Roles, Service, ServiceArgs, TimerOf,
};
use crate::shared::{Algorithm, Check, Rank, RunResult};

/// A log entry: a client's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: CommandId,
    pub payload: u64,
}

/// Sequence Paxos plugged into the service scaffolding: its peer messages and timers, and a
/// command that is an opaque payload, answered with nothing but its decision.
impl Service for SequencePaxos {
    type Peer = Peer;
    type PeerTimer = PeerTimer;
    type Op = u64;
    type Out = ();
}

/// Messages: the clients' (Request, Redirect, Reply) and the servers' ([`Peer`]).
pub type Msg = MsgOf<SequencePaxos>;
/// Timers: the clients' and the servers' ([`PeerTimer`]).
pub type Timer = TimerOf<SequencePaxos>;

/// Options of the `sequence-paxos` binary: the service's.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    #[command(flatten)]
    #[serde(flatten)]
    pub service: ServiceArgs,
}

/// The run's configuration, shared by all ranks: the service's.
pub type Config = service::Config;

/// A rank: a server or a client.
pub type Proc = Roles<Server, Client>;

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
pub type Output = RoleReport<ServerReport, ClientReport>;

/// The `sequence-paxos` binary.
pub struct SequencePaxos;

impl Algorithm for SequencePaxos {
    const KINDS: &'static [&'static str] = &[
        "Accept",
        "Accepted",
        "Request",
        "Reply",
        "Prepare",
        "Promise",
        "AcceptSync",
        "Nack",
        "Redirect",
    ];

    fn roles(args: &Args, np: usize) -> Vec<String> {
        crate::shared::service::options::server_client_roles(np, args.service.clients as usize)
    }
    const NAME: &'static str = "sequence-paxos";
    const ABOUT: &'static str = "Sequence Paxos (OmniPaxos-style): a leader elected by ballots, log synchronization on election, pipelined and batched Accepts, client ranks with retries and deduplication. Checks the prefix property, validity, at-most-once, answers and termination.";
    const LEADS: bool = true;
    type Args = Args;
    type Proc = Proc;

    fn validate(args: &Args, np: usize, _faults: &FaultPlan) -> Result<(), String> {
        servers_at("sequence-paxos", args.service.clients, np).map(|_| ())
    }

    fn build(args: &Args, rank: Rank, np: usize) -> Proc {
        let cfg = Arc::new(args.service.config(np));
        let give_up = cfg.give_up;
        if rank < cfg.servers {
            Roles::server(Server::new(rank, cfg), give_up)
        } else {
            Roles::client(client::new(rank, cfg), give_up)
        }
    }

    fn check(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
        check::checks(args, run)
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
        serde_json::to_value(check::figures(args, run)).ok()
    }

    fn summarize(args: &Args, run: &RunResult<Output>) -> Vec<String> {
        check::summarize(args, run)
    }
}
