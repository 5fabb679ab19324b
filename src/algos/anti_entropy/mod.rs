//! Anti-entropy: CRDT replicas brought back into agreement by gossip, Merkle-tree sync, or a
//! collective merge (the book's "Anti-entropy Techniques"; the C originals `crdt-gcounter.c` and
//! `lww-map.c`).
//!
//! **Replicas.** Every rank holds a replica of one state-based CRDT (`--crdt`; [`crdt`]): a
//! G-Counter, a PN-Counter, an add-wins OR-Set or an LWW-Map with tombstones and Lamport or
//! hybrid timestamps (`--clock`, `--skew`), ordered by (timestamp, rank) so that ties and
//! skewed clocks still give one winner. Each rank issues `--updates N` seeded updates, one
//! every `--update-every` ms (ranks below `--writers W` only; `--scenario lww-map` replays the
//! C original's writes instead), then stops updating. A state is a map from keys to entries,
//! each entry a small lattice; the join is key-wise, and each update is a delta-mutator
//! returning the one-key delta it joins in.
//!
//! **Dissemination** (`--sync`), once per `--period` ms towards `--fanout` random peers:
//! - `gossip` ([`replica`]): `--mode push` ships the state, `pull` asks for it, `push-pull`
//!   does both in one exchange (about log₃ n + O(ln ln n) rounds to spread a rumour, Karp et
//!   al. 2000). `--deltas` ships, instead of the state, the deltas of the updates the peer is
//!   not known to hold: each replica keeps the deltas by origin and sequence number, a version
//!   vector of the contiguous ones it holds, and, per peer, the version vector last heard from
//!   it (assumed advanced by what was sent; a later message corrects it, so a lost delta is
//!   sent again). Push-pull with deltas is three messages: the version vector, the answer with
//!   exactly what the initiator lacks and the peer's vector, and exactly what the peer lacks.
//! - `merkle` ([`merkle`]): a sync starts with the root hash; the peer answers with the
//!   children of the nodes that differ, and so on down to the keys, where the differing entries
//!   cross both ways. Equal subtrees are never opened.
//! - `allreduce` ([`collective`], under mpirun only): the original's one-shot merge, after
//!   every rank has issued its updates: `MPI_Allreduce(MAX)` of the counter slots, or a
//!   `MPI_Gatherv` of the states to rank 0, which joins them, and a `MPI_Bcast` of the join.
//!
//! **Convergence, observed.** Every message carries a small table: each rank's latest report
//! (a counter, whether it has issued all its updates, its state's digest), relayed by everyone
//! and joined by the higher counter. A rank whose table says that every rank reported, after
//! its last update, the digest of the rank's own current state has converged: each rank's state
//! then held all its updates and states only grow, so that digest is the join of every update.
//! It stops its rounds (it still answers, so that a straggler catches up); otherwise it stops
//! at `--duration` and says so. A rank that crashed before its last update never reports it,
//! so its peers run until the deadline; the checker judges them there.
//!
//! **Checks** ([`check`]), over the correct (never crashed) ranks:
//! - `only-real-updates`: every replica is below the join of every update issued (no value
//!   without an update behind it);
//! - `strong-eventual-consistency`: every replica equals the join of every update a correct
//!   replica applied (a crashed rank's updates counted if they escaped to one); required where
//!   the plan lets the replicas converge before `--duration` (partitions healed, links that
//!   deliver), "not required" otherwise; a rank that said it had converged on another state
//!   fails it in any plan;
//! - `sequential-specification`: each replica's value equals the sequential specification
//!   applied to the updates its state holds: the sum for counters, add-wins for the OR-Set (an
//!   element is in iff one of its adds was observed by none of its removes), and for the
//!   LWW-Map the writes applied in (timestamp, rank) order.
//!
//! The merge laws (commutative, associative, idempotent) are property-tested on random
//! states, and the values cross-checked against the `crdts` crate on the same operations
//! ([`tests`]).

pub mod check;
pub mod collective;
pub mod crdt;
pub mod merkle;
pub mod replica;
#[cfg(test)]
mod tests;

use std::ffi::OsString;

use serde::Serialize;

use self::crdt::{ClockKind, CrdtKind, Value};
use self::replica::{End, Replica, ReplicaOutput};
use crate::shared::cli::CommonArgs;
use crate::shared::faults::FaultPlan;
use crate::shared::mpi::World;
use crate::shared::observe::outputs::Outputs;
use crate::shared::run::Binary;
use crate::shared::{Algorithm, Check, Rank, RunResult};

/// How replicas exchange state.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SyncKind {
    /// Periodic gossip with --fanout random peers (--mode, --deltas).
    Gossip,
    /// Merkle-tree sync: root hashes, descend where they differ, ship differing entries.
    Merkle,
    /// One collective merge, MPI_Allreduce(MAX) or Gather/Bcast (mpirun only).
    Allreduce,
}

/// Gossip direction.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum GossipMode {
    Push,
    Pull,
    PushPull,
}

/// A C original's scripted workload.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Scenario {
    /// lww-map.c: r0 puts a and b, r1 puts a and deletes b, r2 and r3 put c.
    LwwMap,
}

/// Options of the `anti-entropy` binary.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// The CRDT every rank replicates.
    #[arg(long, value_enum, default_value_t = CrdtKind::Gcounter)]
    pub crdt: CrdtKind,
    /// How replicas converge.
    #[arg(long, value_enum, default_value_t = SyncKind::Gossip)]
    pub sync: SyncKind,
    /// Gossip: push the state, pull it, or both in one exchange.
    #[arg(long, value_enum, default_value_t = GossipMode::PushPull)]
    pub mode: GossipMode,
    /// Peers contacted per round (gossip and merkle).
    #[arg(long, default_value_t = 1, value_name = "F", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub fanout: u32,
    /// Gossip: ship the deltas the peer lacks instead of the whole state.
    #[arg(long)]
    pub deltas: bool,
    /// Updates per writing rank (default 20; 1 with --sync allreduce, the C original's).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub updates: Option<u32>,
    /// Time between two updates of a rank.
    #[arg(long, default_value_t = 5, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub update_every: u64,
    /// Only ranks 0..W update (--writers 1: one rumour, for the spreading figure).
    #[arg(long, value_name = "W", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub writers: Option<u32>,
    /// OR-Set elements and LWW-Map keys are drawn from 0..K.
    #[arg(long, default_value_t = 16, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub keys: u32,
    /// A gossip or Merkle round every MS.
    #[arg(long, default_value_t = 10, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub period: u64,
    /// A rank that has not observed convergence by then stops and says so.
    #[arg(long, default_value_t = 3000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub duration: u64,
    /// LWW-Map timestamps.
    #[arg(long, value_enum, default_value_t = ClockKind::Hybrid)]
    pub clock: ClockKind,
    /// Hybrid clocks: each rank's physical clock runs ahead by its own 0..=MS.
    #[arg(long, default_value_t = 0, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub skew: u64,
    /// Replay a C original's writes instead of the seeded workload (lww-map: --crdt lwwmap).
    #[arg(long, value_enum)]
    pub scenario: Option<Scenario>,
}

impl Args {
    /// Updates per writing rank.
    pub fn updates(&self) -> u32 {
        self.updates.unwrap_or(match self.sync {
            SyncKind::Allreduce => 1,
            _ => 20,
        })
    }
    /// When the last update is issued (ms).
    pub fn updates_end_ms(&self) -> u64 {
        match self.scenario {
            Some(_) => 0,
            None => u64::from(self.updates().saturating_sub(1)) * self.update_every,
        }
    }

    fn validate(&self, common: &CommonArgs, np: usize) -> Result<(), String> {
        if np == 0 {
            return Err("--np must be at least 1".into());
        }
        if self.scenario == Some(Scenario::LwwMap) {
            if self.crdt != CrdtKind::Lwwmap {
                return Err(
                    "--scenario lww-map replays lww-map.c's writes on the LWW-Map: add --crdt lwwmap"
                        .into(),
                );
            }
            if self.updates.is_some() || self.writers.is_some() {
                return Err("--scenario lww-map fixes every rank's writes: leave out --updates and --writers".into());
            }
        }
        if let Some(w) = self.writers {
            if w as usize > np {
                return Err(format!(
                    "--writers {w} exceeds the {np} ranks: at most --writers {np}"
                ));
            }
        }
        let gossip_only = [
            ("--deltas", self.deltas),
            ("--mode", self.mode != GossipMode::PushPull),
        ];
        if self.sync != SyncKind::Gossip {
            if let Some((flag, _)) = gossip_only.iter().find(|g| g.1) {
                return Err(format!(
                    "{flag} is an option of --sync gossip (Merkle sync ships only the entries that differ, both ways; allreduce is one collective)"
                ));
            }
        }
        match self.sync {
            SyncKind::Allreduce => collective::validate(self, common, np),
            _ => {
                if self.updates_end_ms() >= self.duration {
                    return Err(format!(
                        "the updates go on until {} ms, past the --duration of {} ms: give a longer --duration or fewer --updates",
                        self.updates_end_ms(),
                        self.duration
                    ));
                }
                Ok(())
            }
        }
    }
}

/// The replicas of the gossip and Merkle modes, as an [`Algorithm`] run by the common drivers
/// (the simulator and the MPI event loop).
pub struct Replicas;

impl Algorithm for Replicas {
    const NAME: &'static str = "anti-entropy";
    const ABOUT: &'static str = ABOUT;
    const KINDS: &'static [&'static str] = &["Push", "Pull", "Answer", "Tree", "Entries"];
    type Args = Args;
    type Proc = Replica;

    fn validate(_args: &Args, _np: usize, _faults: &FaultPlan) -> Result<(), String> {
        // Validated by [`AntiEntropy`], which sees the common options too.
        Ok(())
    }

    fn build(args: &Args, rank: Rank, np: usize) -> Replica {
        Replica::new(args, rank, np)
    }

    fn check(args: &Args, run: &RunResult<ReplicaOutput>) -> Vec<Check> {
        check::check(args, run)
    }

    fn summarize(args: &Args, run: &RunResult<ReplicaOutput>) -> Vec<String> {
        summarize(args, run)
    }

    fn output_view(o: &ReplicaOutput) -> serde_json::Value {
        serde_json::json!({
            "value": o.value,
            "digest": format!("{:016x}", o.digest),
            "entries": o.state.entries.len(),
            "updates": o.ops.len(),
            "finished_ms": o.finished_ms,
            "last_change_ms": o.last_change_ms,
            "converged_ms": o.converged_ms,
            "end": o.end,
            "rounds": o.rounds,
        })
    }

    fn figures(args: &Args, run: &RunResult<ReplicaOutput>) -> Option<serde_json::Value> {
        serde_json::to_value(figures(args, run)).ok()
    }
}

const ABOUT: &str = "CRDT replicas (G-Counter, PN-Counter, add-wins OR-Set, LWW-Map) converged by push/pull gossip (full state or deltas), Merkle-tree sync, or one MPI collective merge; strong eventual consistency, only-real-updates and the sequential specification of the values checked.";

/// The figures of a run, for the report (merged at its top level) and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    /// When the last update was issued (ms).
    pub updates_end_ms: f64,
    /// When the last correct replica reached the common final state, if they all did (ms).
    pub converged_ms: Option<f64>,
    /// (converged_ms - updates_end_ms) / period.
    pub rounds_to_converge: Option<f64>,
    /// log₃ n + ln ln n, the push-pull spreading time of Karp et al. (rounds).
    pub theory_rounds: f64,
    /// Ranks that observed convergence themselves; the last of them (ms).
    pub observed_by: usize,
    pub observed_ms: Option<f64>,
    pub bytes_sent: u64,
    pub messages_sent: u64,
    /// Rounds run by all ranks together, and bytes per rank-round.
    pub rank_rounds: u64,
    pub bytes_per_rank_round: f64,
}

/// The figures of a run.
pub fn figures(args: &Args, run: &RunResult<ReplicaOutput>) -> Figures {
    let correct: Vec<_> = run.correct_ranks().collect();
    let updates_end_ms = run
        .ranks
        .iter()
        .flat_map(|r| r.output.ops.iter().map(|o| o.at_ms))
        .fold(0.0, f64::max);
    let all_equal = correct
        .windows(2)
        .all(|w| w[0].output.state == w[1].output.state);
    let converged_ms = (all_equal && !correct.is_empty()).then(|| {
        correct
            .iter()
            .map(|r| r.output.last_change_ms)
            .fold(0.0, f64::max)
    });
    let n = run.np.max(2) as f64;
    let observed: Vec<f64> = correct
        .iter()
        .filter(|r| r.output.end == Some(End::Converged))
        .filter_map(|r| r.output.converged_ms)
        .collect();
    let m = run.metrics();
    let rank_rounds: u64 = run.ranks.iter().map(|r| r.output.rounds).sum();
    Figures {
        updates_end_ms,
        converged_ms,
        rounds_to_converge: converged_ms
            .map(|c| ((c - updates_end_ms) / args.period as f64).max(0.0)),
        theory_rounds: n.ln() / 3f64.ln() + n.ln().ln().max(0.0),
        observed_by: observed.len(),
        observed_ms: observed.iter().copied().reduce(f64::max),
        bytes_sent: m.total.bytes_sent,
        messages_sent: m.total.sent,
        rank_rounds,
        bytes_per_rank_round: m.total.bytes_sent as f64 / rank_rounds.max(1) as f64,
    }
}

fn describe(args: &Args) -> String {
    match args.sync {
        SyncKind::Gossip => format!(
            "{:?} gossip, fanout {}, {}",
            args.mode,
            args.fanout,
            if args.deltas { "deltas" } else { "full state" }
        ),
        SyncKind::Merkle => format!("Merkle sync, fanout {}", args.fanout),
        SyncKind::Allreduce => "one collective merge".into(),
    }
}

/// The summary lines of a run (both drivers and the collective mode).
pub fn summarize(args: &Args, run: &RunResult<ReplicaOutput>) -> Vec<String> {
    let mut lines = vec![format!(
        "{:?} replicas, {}; {} updates issued",
        args.crdt,
        describe(args),
        run.ranks.iter().map(|r| r.output.ops.len()).sum::<usize>()
    )];
    let small = run.np <= 16;
    for r in &run.ranks {
        if !small && !r.crashed {
            continue;
        }
        lines.push(format!(
            "rank {}: {}{}{}",
            r.rank,
            match (&r.output.value, args.crdt) {
                (Value::Map(m), CrdtKind::Lwwmap) => lww_entries(&r.output, m),
                (v, _) => v.to_string(),
            },
            match (r.output.end, r.output.converged_ms) {
                (Some(End::Converged), Some(t)) => format!("; observed convergence at {t:.1} ms"),
                (Some(End::Deadline), _) => "; convergence not observed by --duration".into(),
                _ => String::new(),
            },
            if r.crashed { " (crashed)" } else { "" }
        ));
    }
    let f = figures(args, run);
    lines.push(match (f.converged_ms, f.rounds_to_converge) {
        (Some(c), _) if args.sync == SyncKind::Allreduce => {
            format!("every rank holds the join after the collective merge, at {c:.1} ms")
        }
        (Some(c), Some(rounds)) => format!(
            "every correct replica reached the same state at {c:.1} ms, {rounds:.1} rounds after the last update (log3 n + ln ln n = {:.1}); observed by {} of them",
            f.theory_rounds, f.observed_by
        ),
        _ => "the correct replicas did NOT all reach the same state".into(),
    });
    if args.sync != SyncKind::Allreduce {
        lines.push(format!(
            "{} rank-rounds, {:.0} bytes per rank-round",
            f.rank_rounds, f.bytes_per_rank_round
        ));
    }
    if args.crdt == CrdtKind::Gcounter && args.sync == SyncKind::Allreduce && args.updates() == 1 {
        let n = run.np as i64;
        lines.push(format!(
            "global counter value {} = N(N+1)/2 for N = {n} (crdt-gcounter.c)",
            n * (n + 1) / 2
        ));
    }
    lines
}

/// LWW-Map entries as `lww-map.c` prints them: `key => value@rank`.
fn lww_entries(o: &ReplicaOutput, m: &std::collections::BTreeMap<u32, u32>) -> String {
    let parts: Vec<String> = m
        .iter()
        .map(|(k, v)| {
            let by = match o.state.entries.get(k) {
                Some(crdt::Entry::Lww(l)) => l.rank,
                _ => 0,
            };
            format!("{} => {}@r{by}", crdt::key_name(*k), crdt::value_name(*v))
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// The `anti-entropy` binary: gossip and Merkle modes are the [`Algorithm`] [`Replicas`], run
/// by the common drivers; `--sync allreduce` runs [`collective`] under mpirun.
pub struct AntiEntropy;

impl Binary for AntiEntropy {
    const NAME: &'static str = "anti-entropy";
    const ABOUT: &'static str = ABOUT;
    type Args = Args;

    fn validate(args: &Args, common: &CommonArgs, np: usize) -> Result<(), String> {
        args.validate(common, np)?;
        match args.sync {
            SyncKind::Allreduce => Ok(()),
            _ => <Replicas as Binary>::validate(args, common, np),
        }
    }

    fn in_process(
        args: &Args,
        common: &CommonArgs,
        np: usize,
        argv: &[OsString],
        outputs: &mut Outputs,
    ) -> u8 {
        // validate() refused --sync allreduce here.
        <Replicas as Binary>::in_process(args, common, np, argv, outputs)
    }

    fn under_mpi(world: &World, args: &Args, common: &CommonArgs, outputs: &mut Outputs) -> u8 {
        match args.sync {
            SyncKind::Allreduce => {
                let code = collective::under_mpi(world, args, common, outputs);
                world.agree_on_exit_code(code)
            }
            _ => <Replicas as Binary>::under_mpi(world, args, common, outputs),
        }
    }
}
