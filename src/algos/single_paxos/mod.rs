//! Single-decree Paxos: the ranks agree on one value, proposed by clients, despite crashes and
//! lossy links.
//!
//! Roles by rank, as in the C original: clients `[0, C)`, then proposers, acceptors and
//! learners in blocks (default: a quarter each for clients, proposers and learners, the rest
//! acceptors, for any np >= 4; `--proposers P --acceptors A --learners L` choose, the rest are
//! clients; `--colocate` gives every rank all four roles, as most deployments do).
//!
//! - A **client** proposes its own seeded value (distinct across clients) to every proposer,
//!   and asks again (and asks the learners) until it hears the decision.
//! - A **proposer** with a value runs ballots `(round, rank)`, unique and totally ordered.
//!   Phase 1: `Prepare(b)` to the acceptors; each answers `Promise(b, accepted)` with the
//!   highest `(ballot, value)` it has accepted, or `Nack`. With promises from a majority, the
//!   proposer **adopts** the value of the highest accepted ballot among them (its own value if
//!   none): this is what makes Paxos safe. Phase 2: `Accept(b, v)`; with `Accepted` from a
//!   majority, `v` is decided. Lost messages are resent to the acceptors that have not
//!   answered; a `Nack` or a ballot that does not reach a quorum in time makes it retry with a
//!   higher ballot after a randomized backoff, so that dueling proposers end (abortable
//!   consensus: safety never depends on the timing, termination does).
//! - An **acceptor** promises not to accept ballots lower than the highest it promised, and
//!   accepts `(b, v)` unless it promised higher; it tells the learners and the proposer.
//! - A **learner** learns `v` once a majority of acceptors accepted it in one ballot (or a
//!   proposer that saw that majority tells it); it asks the acceptors again while it knows
//!   nothing, and tells the clients.
//!
//! Checks in every run, from all ranks' outputs (crashed ranks included):
//! - validity: every decided value was proposed by a client;
//! - uniform agreement: no two ranks decided differently;
//! - integrity: no rank decided twice (in any of its roles);
//! - termination, where the fault plan permits it (a majority of acceptors, a proposer and a
//!   client never crash, partitions end, links heal or lose less than half): every correct
//!   client and learner decided.
//!
//! Under mpirun each role is also an MPI communicator (`MPI_Comm_split` by role, through
//! [`Algorithm::groups`]): clients, proposers and learners reduce what they decided over their
//! own communicator, and the run checks that every group agrees (`role-groups`).
//!
//! [`model`] explores every interleaving of this very state machine on a tiny configuration
//! (2 proposers, 3 acceptors, 1 learner; messages lost, duplicated, reordered; timers firing at
//! any moment) and asserts agreement and validity in every reachable state.

pub mod check;
pub mod model;
pub mod roles;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use self::roles::Paxos;
use self::roles::Timing;
use crate::shared::election::Ballot;
use crate::shared::faults::FaultPlan;
use crate::shared::{Algorithm, Check, Kind, Rank, RunResult};

/// A proposed value.
pub type Value = u64;

/// Messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Msg {
    /// Client to proposers: please get this value decided.
    Propose(Value),
    /// Phase 1a.
    Prepare(Ballot),
    /// Phase 1b: a promise for `b`, with the highest (ballot, value) the acceptor accepted.
    Promise {
        b: Ballot,
        accepted: Option<(Ballot, Value)>,
    },
    /// Phase 2a.
    Accept { b: Ballot, v: Value },
    /// Phase 2b, to the proposer and the learners.
    Accepted { b: Ballot, v: Value },
    /// Ballot `b` is below what the acceptor promised.
    Nack { b: Ballot, promised: Ballot },
    /// What is decided? (learner to acceptors, client and proposer to learners)
    Query,
    /// The decided value, from a rank that knows it.
    Decided(Value),
}

impl Kind for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Propose(_) => "Propose",
            Msg::Prepare(_) => "Prepare",
            Msg::Promise { .. } => "Promise",
            Msg::Accept { .. } => "Accept",
            Msg::Accepted { .. } => "Accepted",
            Msg::Nack { .. } => "Nack",
            Msg::Query => "Query",
            Msg::Decided(_) => "Decided",
        }
    }
}

/// Timers (one of each per rank; a rank's roles share them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Proposer: resend the current phase's message to the acceptors that did not answer.
    Resend,
    /// Proposer: start a higher ballot.
    Retry,
    /// Client and learner: ask again.
    Ask,
    /// Stop waiting for a decision.
    GiveUp,
}

/// The roles of one rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    pub client: bool,
    pub proposer: bool,
    pub acceptor: bool,
    pub learner: bool,
}

/// Which ranks hold which roles.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layout {
    pub clients: Vec<Rank>,
    pub proposers: Vec<Rank>,
    pub acceptors: Vec<Rank>,
    pub learners: Vec<Rank>,
    /// Acceptances needed (a majority of the acceptors unless a test breaks it).
    pub quorum: usize,
}

impl Layout {
    /// The layout for `np` ranks and the options, or one sentence saying why not.
    pub fn new(args: &Args, np: usize) -> Result<Layout, String> {
        if args.colocate {
            if args.proposers.is_some() || args.acceptors.is_some() || args.learners.is_some() {
                return Err(
                    "--colocate gives every rank all four roles: drop --proposers, --acceptors and --learners".into(),
                );
            }
            let all: Vec<Rank> = (0..np).collect();
            return Ok(Layout {
                clients: all.clone(),
                proposers: all.clone(),
                acceptors: all.clone(),
                learners: all,
                quorum: np / 2 + 1,
            });
        }
        let quarter = (np / 4).max(1);
        let p = args.proposers.unwrap_or(quarter);
        let l = args.learners.unwrap_or(quarter);
        let defaults_a = args.acceptors.is_none();
        let a = args
            .acceptors
            .unwrap_or_else(|| np.saturating_sub(p + l + quarter).max(1));
        if p == 0 || a == 0 || l == 0 {
            return Err("every role needs at least one rank: --proposers, --acceptors and --learners must be at least 1".into());
        }
        if p + a + l >= np {
            return Err(format!(
                "{p} proposers + {a} acceptors + {l} learners leave no rank for a client at np={np}: single-paxos needs at least {} ranks for this layout (or use --colocate)",
                p + a + l + 1
            ));
        }
        let c = np - p - a - l;
        if defaults_a && np < 4 {
            return Err(format!("single-paxos needs at least 4 ranks (a client, a proposer, an acceptor, a learner), got np={np}; or use --colocate"));
        }
        let block = |from: usize, n: usize| (from..from + n).collect::<Vec<_>>();
        Ok(Layout {
            clients: block(0, c),
            proposers: block(c, p),
            acceptors: block(c + p, a),
            learners: block(c + p + a, l),
            quorum: a / 2 + 1,
        })
    }

    pub fn quorum(&self) -> usize {
        self.quorum
    }

    pub fn roles_of(&self, r: Rank) -> Roles {
        Roles {
            client: self.clients.contains(&r),
            proposer: self.proposers.contains(&r),
            acceptor: self.acceptors.contains(&r),
            learner: self.learners.contains(&r),
        }
    }

    fn describe(&self) -> String {
        let span = |v: &Vec<Rank>| match (v.first(), v.last()) {
            (Some(a), Some(b)) if a == b => format!("rank {a}"),
            (Some(a), Some(b)) if b - a + 1 == v.len() => format!("ranks {a}-{b}"),
            _ => format!("ranks {v:?}"),
        };
        format!(
            "clients {}, proposers {}, acceptors {} (quorum {}), learners {}",
            span(&self.clients),
            span(&self.proposers),
            span(&self.acceptors),
            self.quorum,
            span(&self.learners)
        )
    }
}

/// Options of the `single-paxos` binary.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// Number of proposer ranks (default: np/4, at least 1).
    #[arg(long)]
    pub proposers: Option<usize>,
    /// Number of acceptor ranks (default: what the other roles leave, at least 1).
    #[arg(long)]
    pub acceptors: Option<usize>,
    /// Number of learner ranks (default: np/4, at least 1); the ranks left are clients.
    #[arg(long)]
    pub learners: Option<usize>,
    /// Every rank is client, proposer, acceptor and learner.
    #[arg(long)]
    pub colocate: bool,
    /// Resend interval of proposers, clients and learners (ms).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub resend: u64,
    /// A ballot without a quorum after this long is given up for a higher one (ms).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub patience: u64,
    /// Upper bound of the random wait before a new ballot after a NACK (ms).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub backoff: u64,
    /// A rank that has not decided after this long stops waiting, so that a run whose faults
    /// forbid a decision still ends (ms).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub give_up: u64,
    /// Testing only: acceptances needed instead of a majority (a minority breaks agreement).
    #[arg(long, hide = true)]
    pub quorum: Option<usize>,
    /// Testing only: acceptors accept in phase 1, as the C original did.
    #[arg(long, hide = true)]
    pub accept_in_phase1: bool,
}

impl Args {
    fn timing(&self) -> Timing {
        Timing {
            resend: Duration::from_millis(self.resend),
            patience: Duration::from_millis(self.patience),
            backoff: Duration::from_millis(self.backoff),
            give_up: Duration::from_millis(self.give_up),
        }
    }
    fn layout(&self, np: usize) -> Layout {
        let mut l = Layout::new(self, np).expect("validated");
        if let Some(q) = self.quorum {
            l.quorum = q;
        }
        l
    }
}

/// What a rank reports (times in ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// The value it proposed as a client.
    pub proposed: Option<Value>,
    /// Decisions it heard as a client.
    pub heard: Vec<(Value, f64)>,
    /// Values it learned as a learner.
    pub learned: Vec<(Value, f64)>,
    /// Values it decided as a proposer.
    pub decided: Vec<(Value, f64)>,
    /// Ballots it started, and NACKs it got, as a proposer.
    pub ballots: u32,
    pub nacks: u32,
    /// What it accepted last, as an acceptor.
    pub accepted: Option<(Ballot, Value)>,
    /// It stopped waiting for a decision at `--give-up`.
    pub gave_up: bool,
}

impl Output {
    /// Every decision of this rank, in all its roles.
    pub fn decisions(&self) -> impl Iterator<Item = Value> + '_ {
        self.heard
            .iter()
            .chain(&self.learned)
            .chain(&self.decided)
            .map(|d| d.0)
    }
}

/// The `single-paxos` binary.
pub struct SinglePaxos;

impl Algorithm for SinglePaxos {
    const KINDS: &'static [&'static str] = &[
        "Prepare", "Promise", "Accept", "Accepted", "Propose", "Decided", "Nack", "Query",
    ];

    fn roles(args: &Args, np: usize) -> Vec<String> {
        if args.colocate {
            return vec!["all four roles".to_string(); np];
        }
        let Ok(l) = Layout::new(args, np) else {
            return Vec::new();
        };
        (0..np)
            .map(|r| {
                let of = l.roles_of(r);
                let names = [
                    (of.client, "client"),
                    (of.proposer, "proposer"),
                    (of.acceptor, "acceptor"),
                    (of.learner, "learner"),
                ];
                let held: Vec<&str> = names.iter().filter(|n| n.0).map(|n| n.1).collect();
                held.join("+")
            })
            .collect()
    }
    const NAME: &'static str = "single-paxos";
    const ABOUT: &'static str = "Single-decree Paxos with client, proposer, acceptor and learner ranks: ballots (round, rank), value adoption in phase 1, majority quorums, retries with randomized backoff. Checks validity, uniform agreement, integrity and termination.";
    type Args = Args;
    type Proc = Paxos;

    fn validate(args: &Args, np: usize, _faults: &FaultPlan) -> Result<(), String> {
        Layout::new(args, np).map(|_| ())
    }

    fn build(args: &Args, rank: Rank, np: usize) -> Paxos {
        let mut p = Paxos::new(rank, Arc::new(args.layout(np)), args.timing());
        if args.accept_in_phase1 {
            if let Some(a) = p.acceptor.as_mut() {
                a.accept_in_phase1 = true;
            }
        }
        p
    }

    fn check(args: &Args, run: &RunResult<Output>) -> Vec<Check> {
        check::checks(args, run)
    }

    /// Under MPI each role is a communicator; its members reduce what they decided.
    fn groups(args: &Args, np: usize) -> Vec<(&'static str, Vec<Rank>)> {
        let l = args.layout(np);
        vec![
            ("clients", l.clients),
            ("proposers", l.proposers),
            ("learners", l.learners),
        ]
    }

    fn group_value(output: &Output) -> Option<u64> {
        output.decisions().next()
    }

    fn figures(args: &Args, run: &RunResult<Output>) -> Option<serde_json::Value> {
        serde_json::to_value(check::figures(args, run)).ok()
    }

    fn summarize(args: &Args, run: &RunResult<Output>) -> Vec<String> {
        check::summarize(args, run)
    }
}
