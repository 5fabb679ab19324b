//! A distributed hashmap: keys partitioned over a consistent-hashing ring, each key replicated
//! on a group of servers and read and written through quorums (ABD, multi-writer), with
//! anti-entropy and a linearizability checker.
//!
//! Roles by rank: servers `[0, S)` hold replicas, clients `[S, np)` run operations
//! (`--clients C`, so S = np - C).
//!
//! - **Placement.** Every server puts `--vnodes` points on a ring of 64-bit hashes ([`ring`]);
//!   a key's replica group is the first `--replicas N` distinct servers clockwise from the
//!   key's hash (default: all servers). With N < S the keys, and the load, spread.
//! - **Versions.** Each replica stores, per key, a value and its version: a Lamport timestamp
//!   (clock, writer rank), totally ordered. A replica keeps a write only if its version is
//!   higher than the one it has, so replicas converge to the highest version they saw.
//! - **Writes** (two round trips): the client asks the key's group for their versions and waits
//!   for a read quorum of `--read-quorum R` answers (query phase); it then picks a version
//!   above the highest it saw (its Lamport clock) and stores the value at the group, done when
//!   a write quorum of `--write-quorum W` acknowledged (store phase).
//! - **Reads** (one or two round trips): the query phase as above; the value with the highest
//!   version is the answer. If fewer than W of the answers already had it, the client first
//!   writes it back (read repair) to a write quorum, so that no later read can return an older
//!   value: the step that makes ABD linearizable rather than merely regular.
//! - **Quorums.** With R + W > N every read quorum meets every write quorum, and the run is
//!   linearizable under any crashes, drops, duplicates and delays (default: majorities). With
//!   R + W <= N (e.g. `--read-quorum 1 --write-quorum 1`) a read can miss the latest write: the
//!   checker finds the stale reads, the Dynamo lesson.
//! - **Faults.** Clients resend a phase's message to the replicas that have not answered every
//!   `--retry`; replicas answer every copy (a store is idempotent, answers carry the
//!   operation's sequence number and the phase they belong to, so duplicates and late answers
//!   are ignored). An operation that has not completed after `--op-timeout` is abandoned and
//!   reported with why (which replicas answered, how many were needed): with a majority of a
//!   group down, its keys' operations fail that way, the others go on.
//! - **Anti-entropy** (`--anti-entropy MS`): every MS each server picks the next server it
//!   shares ring segments with and sends one digest per shared segment (an XOR of hashes of
//!   its keys and versions); for segments that differ the other sends its entries, and each
//!   side keeps the newer version of every key: the repairs are counted.
//!
//! - **The Raft backend** (`--backend raft`): the same map, workload, client records and
//!   checker on one Raft log replicated on every server. The servers are the `raft` binary's
//!   own, unchanged ([`Ctx::nested`] runs their handlers and wraps their messages and timers
//!   in [`Msg::Raft`] and [`Timer::Raft`]); the clients ([`log_client`]) send puts and gets to
//!   the leader, and reads go through the log. Only this backend persists anything, so only it
//!   accepts `--restart`.
//!
//! Checks in every run:
//! - linearizability: per key (P-compositionality), every client's operations, with the
//!   intervals in which they were pending on rank 0's clock (each rank's offset is measured
//!   at the start under MPI, and intervals are widened by its uncertainty), admit a sequential
//!   order of a register ([`crate::shared::observe::linearizability`]); on a violation the
//!   minimal set of operations that admits none, and why;
//! - completion, where the plan permits: every operation of a correct client on a key whose
//!   group keeps a quorum up (and links that deliver) completed. Operations on keys whose group
//!   lost its quorum are listed with why.
//!
//! `--history FILE` writes the clients' history for outside checkers, and `--check-history
//! FILE` checks such a file with the same checker, running nothing ([`history`]).

mod check;
pub mod client;
pub mod history;
pub mod log_client;
pub mod replica;
pub mod ring;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use self::client::Client;
use self::log_client::LogClient;
use self::replica::Replica;
use self::ring::Ring;
use crate::algos::raft;
use crate::shared::cli::CommonArgs;
use crate::shared::faults::FaultPlan;
use crate::shared::process::BadRecord;
use crate::shared::quorum::majority;
use crate::shared::service::{
    servers_at, ClientRole, LogArgs, Role, Roles, ServerRole, ServiceArgs,
};
use crate::shared::{Algorithm, Check, Ctx, Kind, Process, Rank, RunResult};

/// A Lamport timestamp: the writer's clock, then its rank; totally ordered.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Version {
    pub clock: u64,
    pub writer: u32,
}

/// A stored value and its version.
pub type Stored = (Version, Vec<u8>);

/// Messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// Client to replica, query phase of operation `op`: what do you hold for `key`?
    Query {
        op: u32,
        key: String,
    },
    QueryResp {
        op: u32,
        stored: Option<Stored>,
    },
    /// Client to replica, store phase (a write, or a read's write-back).
    Store {
        op: u32,
        key: String,
        version: Version,
        value: Vec<u8>,
    },
    StoreAck {
        op: u32,
    },
    /// The Raft backend's messages, Raft's own.
    Raft(raft::Msg),
    /// Client to server: all my operations are over (servers running anti-entropy stop).
    Finished,
    FinishedAck,
    /// Anti-entropy: a digest of each segment both servers replicate.
    Digests {
        segs: Vec<(u32, u64)>,
    },
    /// Anti-entropy: the sender's entries of `segs`; `reply`: answer with yours where newer.
    Entries {
        segs: Vec<u32>,
        items: Vec<(String, Stored)>,
        reply: bool,
    },
}

impl Kind for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Query { .. } => "Query",
            Msg::QueryResp { .. } => "QueryResp",
            Msg::Store { .. } => "Store",
            Msg::StoreAck { .. } => "StoreAck",
            Msg::Finished => "Finished",
            Msg::FinishedAck => "FinishedAck",
            Msg::Digests { .. } => "Digests",
            Msg::Entries { .. } => "Entries",
            Msg::Raft(m) => m.kind(),
        }
    }
    fn refused(&self) -> bool {
        matches!(self, Msg::Raft(m) if m.refused())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Client: resend unanswered phases, abandon operations past `--op-timeout`.
    Retry,
    /// Server: the next anti-entropy exchange.
    AntiEntropy,
    /// Stop waiting.
    GiveUp,
    /// The Raft backend's timers.
    Raft(raft::Timer),
}

/// Where the map lives.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Quorum replication per key (ABD) on the consistent-hashing ring.
    Abd,
    /// One Raft log of puts and gets over all servers (reads through the log).
    Raft,
}

/// How the checker decides a key's history.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Checker {
    /// Exactly in O(n log n) where every value was written once (always, here), else by search.
    Auto,
    /// The Wing & Gong / Lowe search alone decides (exponential in the concurrency on a key),
    /// to compare; a violation's explanation still starts from the exact check's witness.
    Search,
}

/// The run's configuration, shared by all ranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub servers: usize,
    pub clients: usize,
    pub replicas: usize,
    pub read_quorum: usize,
    pub write_quorum: usize,
    pub ops: u32,
    pub keys: u32,
    pub read_permille: u32,
    pub inflight: usize,
    pub value_bytes: usize,
    pub anti_entropy: Option<Duration>,
    pub retry: Duration,
    pub op_timeout: Duration,
    pub give_up: Duration,
    pub ring: Ring,
    pub backend: Backend,
    /// The Raft backend's configuration (its servers are all the servers).
    pub raft: Arc<raft::Config>,
}

/// Options of the `distributed-hashmap` binary.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// Quorum replication per key (abd), or one Raft log for the whole map (raft).
    #[arg(long, value_enum, default_value_t = Backend::Abd)]
    pub backend: Backend,
    /// Client ranks (the last C ranks; the others are servers).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub clients: u64,
    /// Replicas of each key, N (0: every server).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=64))]
    pub replicas: u64,
    /// Answers a query phase waits for, R (0: a majority of N).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=64))]
    pub read_quorum: u64,
    /// Acknowledgements a store phase waits for, W (0: a majority of N).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=64))]
    pub write_quorum: u64,
    /// Operations each client runs.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(0..=100_000_000))]
    pub ops: u32,
    /// Keys (named key-0, key-1, ...), each operation's drawn uniformly.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=10_000_000))]
    pub keys: u32,
    /// Share of gets among the operations (the rest are puts).
    #[arg(long, default_value_t = 0.5, value_parser = crate::shared::faults::parse_probability)]
    pub read_ratio: f64,
    /// Operations a client keeps pending at most.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub inflight: u64,
    /// Bytes of each written value (at least its 12-byte id).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(12..=1_000_000))]
    pub value_bytes: u64,
    /// Points on the ring per server.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub vnodes: u64,
    /// Anti-entropy exchange period (ms; 0: off).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub anti_entropy: u64,
    /// A phase unanswered for this long is resent to the replicas that have not answered (ms).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub retry: u64,
    /// An operation not complete after this long is abandoned and reported (ms).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub op_timeout: u64,
    /// Ranks stop waiting after this long, so that a run whose faults forbid progress ends (ms).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub give_up: u64,
    /// The Raft backend's log.
    #[command(flatten, next_help_heading = "Raft backend")]
    #[serde(flatten)]
    pub log: LogArgs,
    /// How the linearizability checker decides each key (auto: exactly, in O(n log n), since
    /// every written value is distinct; search: the Wing & Gong / Lowe search alone).
    #[arg(long, value_enum, default_value_t = Checker::Auto)]
    pub checker: Checker,
    /// Steps the search may take per key before it calls the key undecided (exit 4).
    #[arg(long, value_name = "STEPS", default_value_t = crate::shared::observe::linearizability::DEFAULT_BUDGET, value_parser = clap::value_parser!(u64).range(1..))]
    pub search_budget: u64,
    /// Write every client operation to FILE, one JSON object a line, for outside checkers
    /// (Porcupine, Knossos; the format is in the README).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub history: Option<PathBuf>,
    /// Check the history in FILE (the --history format) and run nothing: exit 0 linearizable,
    /// 1 not, 4 undecided.
    #[arg(long, value_name = "FILE", conflicts_with = "history")]
    pub check_history: Option<PathBuf>,
}

impl Args {
    pub fn config(&self, np: usize) -> Config {
        let servers = np - self.clients as usize;
        let replicas = if self.replicas == 0 {
            servers
        } else {
            self.replicas as usize
        };
        let quorum = |q: u64| {
            if q == 0 {
                majority(replicas)
            } else {
                q as usize
            }
        };
        let raft = raft::Config {
            // The service's options as the hashmap names them (--ops for --requests).
            service: ServiceArgs {
                clients: self.clients,
                requests: self.ops,
                inflight: self.inflight,
                retry: self.retry,
                give_up: self.give_up,
                log: self.log.clone(),
            }
            .config(np),
            keys: self.keys,
            read_permille: (self.read_ratio * 1000.0).round() as u32,
            snapshot_every: 0,
        };
        Config {
            backend: self.backend,
            raft: Arc::new(raft),
            servers,
            clients: self.clients as usize,
            replicas,
            read_quorum: quorum(self.read_quorum),
            write_quorum: quorum(self.write_quorum),
            ops: self.ops,
            keys: self.keys,
            read_permille: (self.read_ratio * 1000.0).round() as u32,
            inflight: self.inflight as usize,
            value_bytes: self.value_bytes as usize,
            anti_entropy: (self.anti_entropy > 0).then(|| Duration::from_millis(self.anti_entropy)),
            retry: Duration::from_millis(self.retry),
            op_timeout: Duration::from_millis(self.op_timeout),
            give_up: Duration::from_millis(self.give_up),
            ring: Ring::new(servers, self.vnodes as usize, replicas),
        }
    }
}

/// A rank of the Raft backend: Raft's own server, unchanged, or the log client.
pub type LogRank = Roles<raft::server::Server, LogClient>;

/// A rank: a replica or a client of the ABD backend, or a rank of the Raft backend.
#[derive(Debug, Clone)]
pub enum Proc {
    Replica(Box<Replica>),
    Client(Box<Client>),
    Log(LogRank),
}

/// One operation as its client saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpRecord {
    pub seq: u32,
    /// The key's number (its name is [`ring::key_name`]).
    pub key: u32,
    /// A put's value; `None` for a get.
    pub put: Option<Vec<u8>>,
    /// A get's answer (`Some(None)`: the key was empty); `None` for puts and unanswered gets.
    pub got: Option<Option<Vec<u8>>>,
    /// Invoked and returned, µs on the client's clock (`None`: never returned).
    pub invoke_us: u64,
    pub return_us: Option<u64>,
    /// Round trips (phases) it took.
    pub trips: u8,
    /// Communication steps from invoke to return.
    pub steps: u32,
    /// Why it did not complete.
    pub failed: Option<String>,
}

/// What a client reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientReport {
    /// Every operation it invoked, in invoke order.
    pub ops: Vec<OpRecord>,
    pub gave_up: bool,
}

/// What a server reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaReport {
    /// Every key it holds and the version.
    pub store: Vec<(String, Version)>,
    /// Keys it took a newer version of from anti-entropy.
    pub repaired: u64,
    /// Anti-entropy exchanges it started.
    pub exchanges: u64,
    pub gave_up: bool,
}

/// What a server of the Raft backend reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogServerReport {
    pub term: u64,
    pub commit: u64,
    /// Commands it applied (duplicates excluded).
    pub executed: u64,
    pub terms_led: usize,
    pub leader_at_end: bool,
}

/// What a rank reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Output {
    Replica(ReplicaReport),
    Client(ClientReport),
    LogServer(LogServerReport),
}

impl Process for Proc {
    type Msg = Msg;
    type Timer = Timer;
    type Output = Output;

    fn on_start(&mut self, ctx: &mut Ctx<Msg, Timer>) {
        match self {
            Proc::Replica(s) => s.on_start(ctx),
            Proc::Client(c) => c.on_start(ctx),
            Proc::Log(p) => ctx.nested(Msg::Raft, Timer::Raft, |c| p.on_start(c)),
        }
    }
    fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut Ctx<Msg, Timer>) {
        match (self, msg) {
            (Proc::Replica(s), msg) => s.on_message(from, msg, ctx),
            (Proc::Client(c), msg) => c.on_message(from, msg, ctx),
            (Proc::Log(p), Msg::Raft(m)) => {
                ctx.nested(Msg::Raft, Timer::Raft, |c| p.on_message(from, m, c))
            }
            (Proc::Log(_), _) => {}
        }
    }
    fn on_timer(&mut self, t: Timer, ctx: &mut Ctx<Msg, Timer>) {
        match (self, t) {
            (Proc::Replica(s), t) => s.on_timer(t, ctx),
            (Proc::Client(c), t) => c.on_timer(t, ctx),
            (Proc::Log(p), Timer::Raft(t)) => {
                ctx.nested(Msg::Raft, Timer::Raft, |c| p.on_timer(t, c))
            }
            (Proc::Log(_), _) => {}
        }
    }
    fn is_done(&self) -> bool {
        match self {
            Proc::Replica(s) => s.is_done(),
            Proc::Client(c) => c.is_done(),
            Proc::Log(p) => p.is_done(),
        }
    }
    fn leads(&self) -> bool {
        matches!(self, Proc::Log(p) if p.leads())
    }
    fn output(&self) -> Output {
        match self {
            Proc::Replica(s) => Output::Replica(s.report()),
            Proc::Client(c) => Output::Client(c.report()),
            Proc::Log(l) => match l.role() {
                Role::Server(s) => {
                    let r = s.report();
                    Output::LogServer(LogServerReport {
                        term: r.term,
                        commit: r.commit,
                        executed: s.sm.executed,
                        terms_led: r.led.len(),
                        leader_at_end: r.leader_at_end,
                    })
                }
                Role::Client(c) => Output::Client(c.report()),
            },
        }
    }
}

/// The `distributed-hashmap` binary.
pub struct DistributedHashmap;

impl Algorithm for DistributedHashmap {
    const KINDS: &'static [&'static str] = &[
        "Query",
        "QueryResp",
        "Store",
        "StoreAck",
        "Digests",
        "Entries",
        "Finished",
        "FinishedAck",
        "Request",
        "Reply",
        "AppendEntries",
        "AppendResp",
        "Redirect",
        "PreVote",
        "PreVoteResp",
        "RequestVote",
        "Vote",
        "InstallSnapshot",
    ];

    fn roles(args: &Args, np: usize) -> Vec<String> {
        crate::shared::service::options::server_client_roles(np, args.clients as usize)
    }
    const NAME: &'static str = "distributed-hashmap";
    const ABOUT: &'static str = "A distributed hashmap: keys on a consistent-hashing ring, each replicated on --replicas servers and read and written through quorums (ABD: versions are Lamport timestamps, reads write back), retransmission, anti-entropy (--anti-entropy). Checks linearizability of every client's history per key, and completion wherever a key's group keeps a quorum.";
    const NEEDS_CLOCKS: bool = true;
    /// Only the Raft backend persists anything (validate refuses restarts of the ABD one).
    const RECOVERS: bool = true;
    /// Only the Raft backend has a leader (validate refuses faults aimed at it otherwise).
    const LEADS: bool = true;
    type Args = Args;
    type Proc = Proc;

    fn validate(args: &Args, np: usize, faults: &FaultPlan) -> Result<(), String> {
        let servers = servers_at("the hashmap", args.clients, np)?;
        let c = args.clients as usize;
        if args.log.batch > raft::MAX_BATCH {
            return Err(format!(
                "--batch is the most entries per AppendEntries, from 1 (no batching) to {}, got {}",
                raft::MAX_BATCH,
                args.log.batch
            ));
        }
        match args.backend {
            Backend::Abd => {
                if faults.recovers() {
                    return Err("the abd backend is crash-stop (its replicas keep nothing on stable storage): --restart and --crash-after-persist are for --backend raft".into());
                }
                if !faults.at_leader.is_empty() {
                    return Err("the abd backend has no leader (every replica serves its quorums): --crash leader@MS and --partition leader|rest@A..B are for --backend raft".into());
                }
            }
            Backend::Raft => {
                if let Some(r) = faults
                    .restarts
                    .iter()
                    .chain(&faults.persist_crashes)
                    .find(|r| r.rank >= servers)
                {
                    return Err(format!(
                        "rank {} is a client (servers are 0..{}): only servers can be restarted",
                        r.rank,
                        servers - 1
                    ));
                }
                if args.replicas != 0
                    || args.read_quorum != 0
                    || args.write_quorum != 0
                    || args.anti_entropy != 0
                {
                    return Err("--replicas, --read-quorum, --write-quorum and --anti-entropy are for --backend abd: the raft backend replicates the whole map on every server through one log".into());
                }
            }
        }
        if args.replicas as usize > servers {
            return Err(format!(
                "--replicas {} is more than the {servers} servers at np={np} with {c} client(s)",
                args.replicas
            ));
        }
        if args.keys == 0 {
            return Err("--keys must be at least 1: operations need a key".into());
        }
        let cfg = args.config(np);
        for (flag, q) in [
            ("--read-quorum", cfg.read_quorum),
            ("--write-quorum", cfg.write_quorum),
        ] {
            if q > cfg.replicas {
                return Err(format!(
                    "{flag} {q} is more than the {} replicas of a key: no quorum could ever answer",
                    cfg.replicas
                ));
            }
        }
        Ok(())
    }

    fn build(args: &Args, rank: Rank, np: usize) -> Proc {
        let cfg = Arc::new(args.config(np));
        match (cfg.backend, rank < cfg.servers) {
            (Backend::Abd, true) => Proc::Replica(Box::new(Replica::new(rank, cfg))),
            (Backend::Abd, false) => Proc::Client(Box::new(Client::new(rank, cfg))),
            (Backend::Raft, true) => Proc::Log(Roles::server(
                raft::server::Server::new(rank, cfg.raft.clone()),
                cfg.give_up,
            )),
            (Backend::Raft, false) => {
                let give_up = cfg.give_up;
                Proc::Log(Roles::client(LogClient::new(rank, cfg), give_up))
            }
        }
    }

    fn recover(args: &Args, rank: Rank, np: usize, stored: &[Vec<u8>]) -> Result<Proc, BadRecord> {
        let cfg = Arc::new(args.config(np));
        if cfg.backend == Backend::Raft && rank < cfg.servers {
            let server = raft::server::Server::recover(rank, cfg.raft.clone(), stored)?;
            Ok(Proc::Log(Roles::server(server, cfg.give_up)))
        } else {
            // Not reached: validate lets only Raft servers restart.
            Ok(Self::build(args, rank, np))
        }
    }

    fn check(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
        check::checks(args, run)
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

    fn instead_of_run(args: &Args, common: &CommonArgs, quiet: bool) -> Option<u8> {
        let file = args.check_history.as_ref()?;
        Some(history::check_file(args, file, common, quiet))
    }

    fn figures(args: &Args, run: &RunResult<Output>) -> Option<serde_json::Value> {
        serde_json::to_value(check::figures(args, run)).ok()
    }

    /// Histories and stores as counts (the checker reads them all).
    fn output_view(output: &Output) -> serde_json::Value {
        match output {
            Output::Replica(s) => serde_json::json!({
                "replica": {"keys": s.store.len(), "repaired": s.repaired, "exchanges": s.exchanges, "gave_up": s.gave_up}
            }),
            Output::LogServer(s) => serde_json::json!({ "log_server": s }),
            Output::Client(c) => serde_json::json!({
                "client": {
                    "ops": c.ops.len(),
                    "completed": c.ops.iter().filter(|o| o.return_us.is_some()).count(),
                    "failed": c.ops.iter().filter(|o| o.failed.is_some()).count(),
                    "gave_up": c.gave_up,
                }
            }),
        }
    }

    fn summarize(args: &Args, run: &RunResult<Output>) -> Vec<String> {
        check::summarize(args, run)
    }
}
