//! The sans-IO process model every algorithm implements.
//!
//! An algorithm is a state machine per rank. It never calls MPI, reads a clock or draws from a
//! global RNG: the driver (MPI or simulator) calls its handlers and the handlers describe what
//! they want done as [`Effect`]s pushed into a [`Ctx`]. The same state machine therefore runs
//! unchanged under `mpirun` and under the deterministic simulator, and unit tests can assert the
//! exact effects of one handler call.

use std::fmt::Debug;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A rank in the MPI world (or a simulated process), `0..np`.
pub type Rank = usize;

/// Every message type names its kind, for per-kind metrics and trace labels.
pub trait Kind {
    /// A short, stable name of the message kind (`"Prepare"`, `"Token"`...).
    fn kind(&self) -> &'static str;
    /// An answer that says no (a vote not granted, an append rejected): the diagram draws it
    /// with an open arrowhead, so granted and refused do not look the same.
    fn refused(&self) -> bool {
        false
    }
}

/// What a handler asks its driver to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect<M, T> {
    /// Send `msg` to rank `to` (the fault plan may drop, duplicate or delay it).
    Send { to: Rank, msg: M },
    /// Arm `timer` to fire `after` from now, replacing an armed timer equal to it.
    SetTimer { timer: T, after: Duration },
    /// Disarm `timer` if armed.
    CancelTimer(T),
    /// A local event, shown in traces and diagrams.
    Local(String),
    /// A local event that states the rank's new state, drawn on its line in the diagram.
    Note(String),
    /// The algorithm's logical timestamp for the most recent event of this rank (the
    /// receive that triggered the handler, or the last send or local event).
    Stamp(Vec<u64>),
    /// Draw a unique ticket from the run's shared counter (an MPI RMA `SharedCounter` hosted on
    /// rank 0 under MPI, a plain counter in the simulator); it arrives through `on_ticket`.
    DrawTicket,
    /// Write a record to the rank's stable storage, which survives a crash and is all a
    /// restarted rank gets back ([`Algorithm::recover`](crate::shared::Algorithm::recover)).
    /// Durable before any later effect of the same handler is carried out: a send that follows
    /// a persist leaves only once the record is on disk.
    Persist(Durable),
}

/// A write to stable storage: an append-only sequence of records, one file per rank under MPI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Durable {
    /// Add a record after those already stored.
    Append(Vec<u8>),
    /// Replace everything stored by this one record (compaction).
    Reset(Vec<u8>),
}

/// A stored record that [`Algorithm::recover`](crate::shared::Algorithm::recover) cannot
/// replay: its position among the records read back, and why. The rank then does not rejoin
/// (its storage is reported lost at that record's offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    pub index: usize,
    pub why: String,
}

/// The effect collector handed to every handler: rank identity, time, a seeded RNG.
pub struct Ctx<'a, M, T> {
    rank: Rank,
    np: usize,
    now: Duration,
    rng: &'a mut ChaCha8Rng,
    effects: &'a mut Vec<Effect<M, T>>,
    steps: u64,
}

impl<'a, M: Clone, T> Ctx<'a, M, T> {
    /// Drivers build one per handler call.
    pub fn new(
        rank: Rank,
        np: usize,
        now: Duration,
        rng: &'a mut ChaCha8Rng,
        effects: &'a mut Vec<Effect<M, T>>,
    ) -> Self {
        Ctx {
            rank,
            np,
            now,
            rng,
            effects,
            steps: 0,
        }
    }
    /// The rank's causal depth for this handler (drivers set it; 0 in unit tests).
    pub fn with_steps(mut self, steps: u64) -> Self {
        self.steps = steps;
        self
    }
    /// The longest chain of messages that ends at this rank now (communication steps): the
    /// difference between two handlers of a rank counts the hops of the causal chain between
    /// them, e.g. from a client's request to its answer.
    pub fn steps(&self) -> u64 {
        self.steps
    }
    /// This process's rank.
    pub fn rank(&self) -> Rank {
        self.rank
    }
    /// Number of processes in the run.
    pub fn np(&self) -> usize {
        self.np
    }
    /// Time since the start of the run (virtual in the simulator).
    pub fn now(&self) -> Duration {
        self.now
    }
    /// The rank's own seeded RNG: the only source of randomness an algorithm may use.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        self.rng
    }
    /// Send one message (anything that converts into the protocol's message: a service's
    /// server sends its peer messages as they are).
    pub fn send(&mut self, to: Rank, msg: impl Into<M>) {
        self.effects.push(Effect::Send {
            to,
            msg: msg.into(),
        });
    }
    /// Send the same message to every rank in `group`.
    pub fn send_to_group<X: Into<M> + Clone>(
        &mut self,
        group: impl IntoIterator<Item = Rank>,
        msg: &X,
    ) {
        for to in group {
            self.send(to, msg.clone());
        }
    }
    /// Send to every rank except this one.
    pub fn broadcast<X: Into<M> + Clone>(&mut self, msg: &X) {
        let me = self.rank;
        self.send_to_group((0..self.np).filter(|&r| r != me), msg);
    }
    /// Arm (or re-arm) a timer.
    pub fn set_timer(&mut self, timer: impl Into<T>, after: Duration) {
        self.effects.push(Effect::SetTimer {
            timer: timer.into(),
            after,
        });
    }
    /// Disarm a timer.
    pub fn cancel_timer(&mut self, timer: impl Into<T>) {
        self.effects.push(Effect::CancelTimer(timer.into()));
    }
    /// Record a local event.
    pub fn local(&mut self, label: impl Into<String>) {
        self.effects.push(Effect::Local(label.into()));
    }
    /// Record a change of this rank's state ("leader with ballot (2, 1)", "suspect rank 0"): a
    /// local event that the diagram writes on the rank's line.
    pub fn note(&mut self, label: impl Into<String>) {
        self.effects.push(Effect::Note(label.into()));
    }
    /// Attach a logical timestamp to the most recent event.
    pub fn stamp(&mut self, stamp: impl Into<Vec<u64>>) {
        self.effects.push(Effect::Stamp(stamp.into()));
    }
    /// Ask for a ticket: a number no other draw of this run gets, larger than every ticket
    /// drawn before this one completed (see [`Process::on_ticket`]).
    pub fn draw_ticket(&mut self) {
        self.effects.push(Effect::DrawTicket);
    }
    /// Append a record to stable storage (see [`Effect::Persist`]).
    pub fn persist(&mut self, record: Vec<u8>) {
        self.effects.push(Effect::Persist(Durable::Append(record)));
    }
    /// Replace stable storage by one record (a snapshot with what follows it).
    pub fn persist_reset(&mut self, record: Vec<u8>) {
        self.effects.push(Effect::Persist(Durable::Reset(record)));
    }
}

impl<M: Clone, T> Ctx<'_, M, T> {
    /// Run a handler of an embedded protocol, whose messages and timers are `M2` and `T2`, and
    /// carry out its effects here, in order, its messages wrapped by `msg` and its timers by
    /// `timer`: how an algorithm reuses another one's state machine as a part (the hashmap's
    /// Raft backend runs Raft's servers unchanged).
    pub fn nested<M2: Clone, T2>(
        &mut self,
        msg: impl Fn(M2) -> M,
        timer: impl Fn(T2) -> T,
        f: impl FnOnce(&mut Ctx<M2, T2>),
    ) {
        let (rank, np, now, steps) = (self.rank, self.np, self.now, self.steps);
        let mut inner = Vec::new();
        f(&mut Ctx::new(rank, np, now, self.rng, &mut inner).with_steps(steps));
        for e in inner {
            self.effects.push(match e {
                Effect::Send { to, msg: m } => Effect::Send { to, msg: msg(m) },
                Effect::SetTimer { timer: t, after } => Effect::SetTimer {
                    timer: timer(t),
                    after,
                },
                Effect::CancelTimer(t) => Effect::CancelTimer(timer(t)),
                Effect::Local(s) => Effect::Local(s),
                Effect::Note(s) => Effect::Note(s),
                Effect::Stamp(v) => Effect::Stamp(v),
                Effect::DrawTicket => Effect::DrawTicket,
                Effect::Persist(d) => Effect::Persist(d),
            });
        }
    }
}

/// Call one handler of `p` as rank `rank` of `np` at time zero and return its effects: what
/// unit tests of state machines assert on.
pub fn effects_of<P: Process>(
    p: &mut P,
    rank: Rank,
    np: usize,
    f: impl FnOnce(&mut P, &mut Ctx<P::Msg, P::Timer>),
) -> Vec<Effect<P::Msg, P::Timer>> {
    effects_at(p, rank, np, Duration::ZERO, f)
}

/// Call one handler on `s` (a process, or one role of one) as rank `rank` of `np` at time `now`
/// and return its effects, in order: the one harness of the unit tests.
pub fn effects_at<S, M: Clone, T>(
    s: &mut S,
    rank: Rank,
    np: usize,
    now: Duration,
    f: impl FnOnce(&mut S, &mut Ctx<M, T>),
) -> Vec<Effect<M, T>> {
    let mut rng = process_rng(1, rank);
    let mut effects = Vec::new();
    f(s, &mut Ctx::new(rank, np, now, &mut rng, &mut effects));
    effects
}

/// The sends among `effects`, in order, as (to, message): what unit tests compare.
pub fn sends_of<M: Clone, T>(effects: &[Effect<M, T>]) -> Vec<(Rank, M)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg } => Some((*to, msg.clone())),
            _ => None,
        })
        .collect()
}

/// Seed of the RNG a rank's process gets: a function of the run seed and the rank only.
pub fn process_rng(seed: u64, rank: Rank) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(rank as u64 + 1);
    rng
}

/// One rank's state machine.
pub trait Process {
    /// The protocol's messages.
    type Msg: Serialize + DeserializeOwned + Clone + Debug + PartialEq + Kind;
    /// Named timers.
    type Timer: Clone + Debug + PartialEq;
    /// What the rank reports at the end of the run, gathered to rank 0 for the checker.
    type Output: Serialize + DeserializeOwned + Clone + Debug;

    /// Called once at time zero (not at all for a rank crashed at time zero).
    fn on_start(&mut self, ctx: &mut Ctx<Self::Msg, Self::Timer>);
    /// A message arrived from `from`.
    fn on_message(&mut self, from: Rank, msg: Self::Msg, ctx: &mut Ctx<Self::Msg, Self::Timer>);
    /// An armed timer fired.
    fn on_timer(&mut self, timer: Self::Timer, ctx: &mut Ctx<Self::Msg, Self::Timer>);
    /// The rank finished its own work. Must be monotone: once true, stays true. A done rank
    /// still receives messages (others may need its answers) but its timers no longer fire.
    fn is_done(&self) -> bool;
    /// The rank's result.
    fn output(&self) -> Self::Output;
    /// Whether this rank believes it leads now: faults aimed at the leader (`--crash leader@MS`,
    /// `--partition leader|rest@A..B`) hit the ranks for which it is true at their time.
    fn leads(&self) -> bool {
        false
    }
    /// A ticket drawn with [`Ctx::draw_ticket`] (only for algorithms with `USES_TICKETS`).
    fn on_ticket(&mut self, ticket: u64, ctx: &mut Ctx<Self::Msg, Self::Timer>) {
        let _ = (ticket, ctx);
    }
}
