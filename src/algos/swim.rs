//! SWIM membership (Das, Gupta, Motivala 2002), with Lifeguard's local health as an option.
//!
//! The heartbeat detector (`failure-detector`) has every rank send every other rank a
//! heartbeat each period: O(n) messages per member per period, O(n²) in all. SWIM keeps a
//! member's load constant whatever n:
//!
//! - **Probing.** Each protocol period (`--period`) a member pings one member, round-robin over
//!   a list of the members it knows, shuffled again at the end of each round (the paper's
//!   refinement: every member is probed within 2(n−1)−1 periods of any moment). No ack within
//!   `--ping-timeout` → it asks `--k` other members to ping the target for it (`PingReq`); they
//!   relay the target's ack. No ack, direct or relayed, by the end of the period → the target
//!   is **suspected**.
//! - **Suspicion and incarnations.** A member's state, as each member sees it, is
//!   alive/suspect/dead/left with an incarnation number that only the member itself raises. A
//!   suspicion of M at incarnation i is overridden by "M alive at incarnation > i"; a member
//!   that hears it is suspected (or declared dead) at incarnation ≥ its own raises its own past
//!   it and gossips that it is alive: it **refutes**. A suspicion not refuted within
//!   `--suspicion` ms is **confirmed**: the member is declared dead. (As in hashicorp/memberlist,
//!   a member declared dead that comes back refutes with a higher incarnation and is alive
//!   again; a member that left stays left.)
//! - **Dissemination.** Membership updates are piggybacked on pings, acks and ping-reqs, at most
//!   `--piggyback` per message, the least sent first; each member sends each update about
//!   λ·⌈log₂(n+1)⌉ times (`--lambda`), then drops it: infection-style gossip, no extra
//!   messages. Lifeguard's buddy system: a ping or ack to a member this member suspects (or
//!   holds dead) carries that suspicion first, so a member that comes back from a pause
//!   learns at its first exchange that it must refute; and a member that receives an
//!   accusation it knows to be refuted (or a member that is accused again at an incarnation
//!   it already refuted) gossips the refutation afresh, since the accuser missed it.
//! - **Join and leave.** `--join RANK@MS`: the rank stays silent until MS, then asks the seed
//!   member (`--join-via`, rank 0 by default) to join (retried every period); the seed answers
//!   with its membership list and gossips the newcomer. `--leave RANK@MS`: the rank gossips
//!   "left" about itself for λ·⌈log₂(n+1)⌉ periods, then goes silent.
//! - **Lifeguard local health** (`--lifeguard`): a score 0..=8 that a member raises when a
//!   probe of its own gets no ack and when it must refute a suspicion of itself, and lowers
//!   when a probe succeeds; its period and ping timeout are scaled by (1 + score), so a member
//!   that is itself slow (or cut off) probes less eagerly instead of suspecting healthy members.
//!   Lifeguard's other two parts (dynamic suspicion timeouts, nack messages) are not built.
//!
//! Every member stops at `--duration` ms (it still answers pings then, so members whose runs
//! end later do not suspect it; its view is frozen).
//!
//! The checker, over the correct members (never crashed, joined, not leaving):
//! - **completeness**: every crashed member is declared dead by every correct member within
//!   B = (2(n−1)+1)·T + S + λ⌈log₂(n+1)⌉·T of its crash (T the period, times 9 with
//!   `--lifeguard`; S the suspicion timeout): its next probe by that member comes within
//!   2(n−1) periods, fails, and S later the suspicion is confirmed, even if no gossip reaches
//!   it; and it is never restored. Required for each pair where the bound ends before the run.
//! - **accuracy**: no correct member is ever declared dead by a correct member. SWIM's accuracy
//!   is probabilistic; it is required where the plan makes a false confirmation negligible:
//!   links losing at most [`ACCURACY_DROP`] of the messages, extra delays under half a
//!   period (or links that heal before the end), every partition shorter than the suspicion timeout less the refutation margin;
//!   otherwise "not required" and the false positives are counted.
//! - **joins**: every member that joined is known (alive or suspect) to every correct member at
//!   the end, and knows them: required where its join leaves time (the join bound, plus the
//!   length of partitions in between) before the end, on links within the accuracy rate, with
//!   no partition between it and the seed, neither of them crashed.
//! - **leaves**: every member that left is seen as left (gossip) or dead (its silence detected)
//!   by every correct member at the end, where time permits; how many learned it by gossip is
//!   reported.
//! - **refutation**: a member cut off from all others for a while (a partition of that one
//!   rank: a `kill -STOP` as the others see it) that comes back in time (the pause plus the
//!   refutation margin within the suspicion timeout) is suspected (required where the pause
//!   outlasts 2(n−1) periods, so every member probes it), then restored: never declared dead,
//!   every suspicion of it from the pause followed by "alive" at a higher incarnation.
//!
//! The report adds, per crash, the detection time (first suspicion, and the moment the last
//! correct member declared it dead), the false suspicions and false positives (dead), and the
//! messages per member per period.

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::shared::faults::FaultPlan;
use crate::shared::{Algorithm, Check, Ctx, Kind, Process, Rank, RunResult};

/// Accuracy (no correct member declared dead) is required on links that drop at most this
/// share of the messages. Measured in the simulator with the defaults, 1 s runs: no false
/// positive in 1,000 seeds at np 5 and at np 16 at this rate; at 0.3, 19 in 200 runs at np 16.
pub const ACCURACY_DROP: f64 = 0.1;

/// The most Lifeguard's local health score reaches; periods scale by up to 1 + this.
pub const MAX_HEALTH: u32 = 8;

/// `RANK@MS`, for `--join` and `--leave`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct At {
    pub rank: Rank,
    pub at_ms: u64,
}

fn parse_at(s: &str) -> Result<At, String> {
    let (r, t) = s
        .split_once('@')
        .ok_or_else(|| format!("expected RANK@MS (e.g. 3@200), got '{s}'"))?;
    let rank = r
        .trim()
        .parse::<usize>()
        .map_err(|_| format!("expected a rank in RANK@MS, got '{r}'"))?;
    let at_ms = t
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|&t| t <= 86_400_000)
        .ok_or_else(|| format!("expected milliseconds (at most a day) in RANK@MS, got '{t}'"))?;
    Ok(At { rank, at_ms })
}

/// Options of the `swim` binary.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// Protocol period: one probe per member per period.
    #[arg(long, default_value_t = 20, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub period: u64,
    /// How long a direct ping waits for its ack before the indirect probes (less than --period).
    #[arg(long = "ping-timeout", default_value_t = 8, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub ping_timeout: u64,
    /// Members asked to ping the target for us when the direct ping went unanswered.
    #[arg(long, default_value_t = 3, value_name = "K", value_parser = clap::value_parser!(u64).range(0..=64))]
    pub k: u64,
    /// Suspicion timeout: a suspicion not refuted by then is confirmed (the member is dead).
    #[arg(long, default_value_t = 400, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub suspicion: u64,
    /// Each update is gossiped λ·⌈log₂(n+1)⌉ times by each member that learned it.
    #[arg(long, default_value_t = 3, value_name = "λ", value_parser = clap::value_parser!(u64).range(1..=100))]
    pub lambda: u64,
    /// Most updates piggybacked on one message.
    #[arg(long, default_value_t = 6, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub piggyback: u64,
    /// Lifeguard's local health: a member that misses its own acks scales its timeouts.
    #[arg(long)]
    pub lifeguard: bool,
    /// RANK stays silent until MS, then joins through the seed member (repeatable).
    #[arg(long = "join", value_name = "RANK@MS", value_parser = parse_at)]
    pub joins: Vec<At>,
    /// RANK leaves gracefully at MS: it gossips its leave, then goes silent (repeatable).
    #[arg(long = "leave", value_name = "RANK@MS", value_parser = parse_at)]
    pub leaves: Vec<At>,
    /// The seed member that joining ranks contact.
    #[arg(long = "join-via", default_value_t = 0, value_name = "RANK")]
    pub join_via: Rank,
    /// How long every member runs.
    #[arg(long, default_value_t = 2000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub duration: u64,
}

impl Args {
    fn join_of(&self, r: Rank) -> Option<u64> {
        self.joins.iter().find(|j| j.rank == r).map(|j| j.at_ms)
    }
    fn leave_of(&self, r: Rank) -> Option<u64> {
        self.leaves.iter().find(|j| j.rank == r).map(|j| j.at_ms)
    }
    /// The longest period a member may use: Lifeguard scales it by up to 1 + [`MAX_HEALTH`].
    pub fn max_period(&self) -> u64 {
        self.period
            * if self.lifeguard {
                1 + MAX_HEALTH as u64
            } else {
                1
            }
    }
    /// How many times a member sends each update, with `n` members.
    pub fn transmits(&self, n: usize) -> u32 {
        (self.lambda as u32) * ceil_log2(n + 1)
    }
    /// Completeness bound B (ms) at `np`: see the module doc.
    pub fn detection_bound(&self, np: usize) -> u64 {
        let t = self.max_period();
        (2 * (np as u64).saturating_sub(1) + 1) * t + self.suspicion + self.transmits(np) as u64 * t
    }
    /// Time (ms) a member that comes back needs to learn it is suspected and to spread its
    /// refutation to every member: two periods to exchange with a member that suspects it,
    /// then ⌈log₂ n⌉ + 2 periods of gossip, at the period of the members that stayed (their
    /// local health is good: they were answered by all but the one cut off).
    pub fn refutation_margin(&self, np: usize) -> u64 {
        (4 + ceil_log2(np) as u64) * self.period
    }
    /// A pause no longer than this is refuted in time (see the module doc).
    pub fn longest_safe_pause(&self, np: usize) -> u64 {
        self.suspicion.saturating_sub(self.refutation_margin(np))
    }
    /// A pause at least this long is probed by every member, so it must be suspected.
    pub fn surely_probed(&self, np: usize) -> u64 {
        2 * (np as u64).saturating_sub(1) * self.max_period() + self.period
    }
    /// Time (ms) from a join to every member knowing the newcomer: its first round of probes
    /// (and a second, for a lost ping), plus gossip.
    pub fn join_bound(&self, np: usize) -> u64 {
        (4 * (np as u64) + self.transmits(np) as u64 + 4) * self.max_period()
    }
    /// How long a leaving member keeps gossiping its leave before it goes silent.
    pub fn leave_grace(&self, np: usize) -> u64 {
        self.transmits(np) as u64 * self.period
    }
}

fn ceil_log2(n: usize) -> u32 {
    usize::BITS - n.saturating_sub(1).leading_zeros()
}

/// A member's state as some member sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum State {
    Alive,
    Suspect,
    Dead,
    Left,
}

/// A membership update: what is gossiped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    pub member: Rank,
    pub state: State,
    pub inc: u64,
}

/// What a member knows of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    pub inc: u64,
}

/// Whether `new` overrides what is known (`old`), by the paper's precedence rules (plus
/// memberlist's: dead is overridden by alive at a higher incarnation; left is final).
pub fn supersedes(new: &Update, old: Option<Status>) -> bool {
    let Some(old) = old else {
        return true;
    };
    match (new.state, old.state) {
        (_, State::Left) => false,
        (State::Left, _) => true,
        (State::Alive, _) => new.inc > old.inc,
        (State::Suspect, State::Alive) => new.inc >= old.inc,
        (State::Suspect, State::Suspect) => new.inc > old.inc,
        (State::Suspect, State::Dead) => false,
        (State::Dead, State::Alive | State::Suspect) => new.inc >= old.inc,
        (State::Dead, State::Dead) => false,
    }
}

/// Messages of the `swim` binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// A probe.
    Ping { seq: u64, gossip: Vec<Update> },
    /// The answer to the ping `seq` of the receiver, from `target` (directly, or relayed).
    Ack {
        seq: u64,
        target: Rank,
        gossip: Vec<Update>,
    },
    /// Ping `target` for me and relay its ack under my `seq`.
    PingReq {
        seq: u64,
        target: Rank,
        gossip: Vec<Update>,
    },
    /// A newcomer asks the seed member to join.
    Join,
    /// The seed's membership list.
    JoinAck { members: Vec<Update> },
}

impl Kind for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Ping { .. } => "Ping",
            Msg::Ack { .. } => "Ack",
            Msg::PingReq { .. } => "PingReq",
            Msg::Join => "Join",
            Msg::JoinAck { .. } => "JoinAck",
        }
    }
}

/// Timers of the `swim` binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The end of a protocol period: judge the probe, start the next.
    Probe,
    /// The direct ping `seq` timed out: the indirect probes.
    Indirect(u64),
    /// The suspicion of a member expires.
    Suspicion(Rank),
    /// Time to ask to join (again).
    Join,
    /// Time to leave.
    Leave,
    /// A leaving member goes silent.
    Depart,
    /// The run is over.
    End,
}

/// One change of a member's view, for the checker.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at_ms: f64,
    pub member: Rank,
    pub state: State,
    pub inc: u64,
}

/// What a member reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwimOutput {
    /// Its final view (frozen when its run ended): `None` for a member it never heard of.
    pub view: Vec<Option<Status>>,
    /// Every change of its view, in order.
    pub events: Vec<Event>,
    /// Its own incarnation.
    pub incarnation: u64,
    /// When it became a member (0 for the initial members, the join ack for a newcomer).
    pub joined_ms: Option<f64>,
    /// When it began to leave.
    pub left_ms: Option<f64>,
    /// When its run ended (at `--duration`, or when a leaving member went silent).
    pub end_ms: Option<f64>,
    pub probes: u64,
    pub failed_probes: u64,
    pub ping_reqs_sent: u64,
    pub refutations: u64,
    /// Lifeguard's local health score, the highest it reached.
    pub max_health: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A newcomer before its join time: silent.
    Waiting,
    /// A newcomer waiting for the seed's answer.
    Joining,
    Member,
    /// Gossiping its leave.
    Leaving,
    /// Gone (left) or run over: answers pings only while run over, nothing once gone.
    Over,
    Gone,
}

#[derive(Debug, Clone, Copy)]
struct Probe {
    seq: u64,
    target: Rank,
    acked: bool,
}

#[derive(Debug, Clone, Copy)]
struct Relay {
    seq: u64,
    origin: Rank,
    origin_seq: u64,
    target: Rank,
    at_ms: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One member.
pub struct SwimProcess {
    args: Args,
    me: Rank,
    phase: Phase,
    inc: u64,
    view: Vec<Option<Status>>,
    events: Vec<Event>,
    /// Updates to piggyback, with how many times each was sent.
    queue: Vec<(Update, u32)>,
    order: Vec<Rank>,
    next: usize,
    seq: u64,
    probe: Option<Probe>,
    relays: Vec<Relay>,
    health: u32,
    out: SwimOutput,
}

impl SwimProcess {
    pub fn new(args: &Args, me: Rank, np: usize) -> Self {
        let mut view = vec![None; np];
        if args.join_of(me).is_none() {
            for (r, v) in view.iter_mut().enumerate() {
                if args.join_of(r).is_none() {
                    *v = Some(Status {
                        state: State::Alive,
                        inc: 0,
                    });
                }
            }
        }
        SwimProcess {
            args: args.clone(),
            me,
            phase: Phase::Waiting,
            inc: 0,
            view,
            events: Vec::new(),
            queue: Vec::new(),
            order: Vec::new(),
            next: 0,
            seq: 0,
            probe: None,
            relays: Vec::new(),
            health: 0,
            out: SwimOutput {
                view: Vec::new(),
                events: Vec::new(),
                incarnation: 0,
                joined_ms: None,
                left_ms: None,
                end_ms: None,
                probes: 0,
                failed_probes: 0,
                ping_reqs_sent: 0,
                refutations: 0,
                max_health: 0,
            },
        }
    }

    fn scale(&self) -> u32 {
        if self.args.lifeguard {
            1 + self.health
        } else {
            1
        }
    }

    fn healthier(&mut self, better: bool) {
        if better {
            self.health = self.health.saturating_sub(1);
        } else {
            self.health = (self.health + 1).min(MAX_HEALTH);
        }
        if self.args.lifeguard {
            self.out.max_health = self.out.max_health.max(self.health);
        }
    }

    /// Members this one knows, itself included and not dead or left.
    fn known(&self) -> usize {
        self.view
            .iter()
            .filter(|s| matches!(s, Some(s) if s.state <= State::Suspect))
            .count()
    }

    fn probeable(&self, r: Rank) -> bool {
        r != self.me && matches!(self.view[r], Some(s) if s.state <= State::Suspect)
    }

    /// Take `state` at this member's incarnation in its own view, and gossip it.
    fn announce(&mut self, state: State) {
        let inc = self.inc;
        self.view[self.me] = Some(Status { state, inc });
        self.enqueue(Update {
            member: self.me,
            state,
            inc,
        });
    }

    fn enqueue(&mut self, u: Update) {
        self.queue.retain(|(q, _)| q.member != u.member);
        self.queue.push((u, 0));
    }

    /// The updates for one message to `to`: first what this member holds against `to` (the
    /// buddy system), then the least sent.
    fn piggyback(&mut self, to: Rank) -> Vec<Update> {
        let mut out = Vec::new();
        if let Some(s) = self.view[to] {
            if matches!(s.state, State::Suspect | State::Dead) {
                out.push(Update {
                    member: to,
                    state: s.state,
                    inc: s.inc,
                });
            }
        }
        let limit = self.args.transmits(self.known());
        let mut idx: Vec<usize> = (0..self.queue.len()).collect();
        idx.sort_by_key(|&i| (self.queue[i].1, self.queue[i].0.member));
        for i in idx {
            if out.len() >= self.args.piggyback as usize {
                break;
            }
            let u = self.queue[i].0;
            if out.iter().any(|o: &Update| o.member == u.member) {
                continue;
            }
            out.push(u);
            self.queue[i].1 += 1;
        }
        self.queue.retain(|(_, n)| *n < limit);
        out
    }

    fn set(&mut self, u: Update, ctx: &mut Ctx<Msg, Timer>) {
        let old = self.view[u.member];
        self.view[u.member] = Some(Status {
            state: u.state,
            inc: u.inc,
        });
        self.events.push(Event {
            at_ms: ms(ctx.now()),
            member: u.member,
            state: u.state,
            inc: u.inc,
        });
        self.enqueue(u);
        let m = u.member;
        match u.state {
            State::Suspect => {
                ctx.set_timer(
                    Timer::Suspicion(m),
                    Duration::from_millis(self.args.suspicion),
                );
                ctx.note(format!("suspect rank{m} (inc {})", u.inc));
            }
            State::Alive => {
                ctx.cancel_timer(Timer::Suspicion(m));
                match old {
                    Some(o) if o.state != State::Alive => {
                        ctx.note(format!("rank{m} alive (inc {})", u.inc))
                    }
                    None => ctx.note(format!("rank{m} joined")),
                    _ => {}
                }
            }
            State::Dead => {
                ctx.cancel_timer(Timer::Suspicion(m));
                ctx.note(format!("rank{m} dead"));
            }
            State::Left => {
                ctx.cancel_timer(Timer::Suspicion(m));
                ctx.note(format!("rank{m} left"));
            }
        }
    }

    /// Merge one gossiped update.
    fn apply(&mut self, u: Update, ctx: &mut Ctx<Msg, Timer>) {
        if u.member >= self.view.len() {
            return;
        }
        if u.member == self.me {
            // Suspected or declared dead at our incarnation or later: refute.
            let accused = matches!(u.state, State::Suspect | State::Dead) && u.inc >= self.inc;
            if accused && self.phase == Phase::Member {
                self.inc = u.inc + 1;
                self.out.refutations += 1;
                self.healthier(false);
                self.announce(State::Alive);
                ctx.note(format!("refute: alive at inc {}", self.inc));
            } else if matches!(u.state, State::Suspect | State::Dead) && self.phase == Phase::Member
            {
                // An accusation already refuted: its sender missed the refutation (its gossip
                // may be spent), so gossip it afresh, starting with the answer to that sender.
                self.announce(State::Alive);
            }
            return;
        }
        if supersedes(&u, self.view[u.member]) {
            self.set(u, ctx);
        } else if let Some(mine) = self.view[u.member] {
            // A stale accusation (its sender missed a refutation whose gossip may be spent):
            // gossip the refutation afresh, so that the sender learns it at our next exchange.
            let stale = matches!(u.state, State::Suspect | State::Dead);
            if stale && mine.state == State::Alive && mine.inc > u.inc {
                self.enqueue(Update {
                    member: u.member,
                    state: State::Alive,
                    inc: mine.inc,
                });
            }
        }
    }

    fn merge(&mut self, gossip: Vec<Update>, ctx: &mut Ctx<Msg, Timer>) {
        for u in gossip {
            self.apply(u, ctx);
        }
    }

    fn next_target(&mut self, ctx: &mut Ctx<Msg, Timer>) -> Option<Rank> {
        for _ in 0..2 {
            while self.next < self.order.len() {
                let r = self.order[self.next];
                self.next += 1;
                if self.probeable(r) {
                    return Some(r);
                }
            }
            // A round is over: the members known now, in a new random order.
            let mut order: Vec<Rank> = (0..self.view.len())
                .filter(|&r| self.probeable(r))
                .collect();
            order.shuffle(ctx.rng());
            self.order = order;
            self.next = 0;
        }
        None
    }

    fn start_probing(&mut self, ctx: &mut Ctx<Msg, Timer>) {
        // A random phase, so that members do not all probe at the same instant.
        let first = ctx.rng().gen_range(0..self.args.period.max(1) * 1000);
        ctx.set_timer(Timer::Probe, Duration::from_micros(first));
    }

    fn tick(&mut self, ctx: &mut Ctx<Msg, Timer>) {
        let now = ms(ctx.now());
        if let Some(p) = self.probe.take() {
            self.healthier(p.acked);
            if !p.acked {
                self.out.failed_probes += 1;
                if let Some(s) = self.view[p.target] {
                    if s.state == State::Alive {
                        self.set(
                            Update {
                                member: p.target,
                                state: State::Suspect,
                                inc: s.inc,
                            },
                            ctx,
                        );
                    }
                }
            }
        }
        let old = 4.0 * self.args.max_period() as f64;
        self.relays.retain(|r| now - r.at_ms < old);
        if let Some(target) = self.next_target(ctx) {
            self.seq += 1;
            let seq = self.seq;
            self.probe = Some(Probe {
                seq,
                target,
                acked: false,
            });
            self.out.probes += 1;
            let gossip = self.piggyback(target);
            ctx.send(target, Msg::Ping { seq, gossip });
            ctx.set_timer(
                Timer::Indirect(seq),
                Duration::from_millis(self.args.ping_timeout * self.scale() as u64),
            );
        }
        ctx.set_timer(
            Timer::Probe,
            Duration::from_millis(self.args.period * self.scale() as u64),
        );
    }

    fn indirect(&mut self, seq: u64, ctx: &mut Ctx<Msg, Timer>) {
        let Some(p) = self.probe else { return };
        if p.seq != seq || p.acked {
            return;
        }
        let mut helpers: Vec<Rank> = (0..self.view.len())
            .filter(|&r| r != p.target && self.probeable(r))
            .filter(|&r| matches!(self.view[r], Some(s) if s.state == State::Alive))
            .collect();
        helpers.shuffle(ctx.rng());
        helpers.truncate(self.args.k as usize);
        for h in helpers {
            self.out.ping_reqs_sent += 1;
            let gossip = self.piggyback(h);
            ctx.send(
                h,
                Msg::PingReq {
                    seq,
                    target: p.target,
                    gossip,
                },
            );
        }
    }

    fn end(&mut self, ctx: &mut Ctx<Msg, Timer>) {
        self.out.view = self.view.clone();
        self.out.events = self.events.clone();
        self.out.incarnation = self.inc;
        self.out.end_ms = Some(ms(ctx.now()));
    }
}

impl Process for SwimProcess {
    type Msg = Msg;
    type Timer = Timer;
    type Output = SwimOutput;

    fn on_start(&mut self, ctx: &mut Ctx<Msg, Timer>) {
        match self.args.join_of(self.me) {
            Some(at) => ctx.set_timer(Timer::Join, Duration::from_millis(at)),
            None => {
                self.phase = Phase::Member;
                self.out.joined_ms = Some(0.0);
                self.start_probing(ctx);
            }
        }
        if let Some(at) = self.args.leave_of(self.me) {
            ctx.set_timer(Timer::Leave, Duration::from_millis(at));
        }
        ctx.set_timer(Timer::End, Duration::from_millis(self.args.duration));
    }

    fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut Ctx<Msg, Timer>) {
        match self.phase {
            Phase::Waiting | Phase::Gone => return,
            Phase::Over => {
                // The run is over: answer pings so that no one suspects us, learn nothing.
                if let Msg::Ping { seq, .. } = msg {
                    let me = self.me;
                    ctx.send(
                        from,
                        Msg::Ack {
                            seq,
                            target: me,
                            gossip: Vec::new(),
                        },
                    );
                }
                return;
            }
            Phase::Joining => {
                if let Msg::JoinAck { members } = msg {
                    self.phase = Phase::Member;
                    self.out.joined_ms = Some(ms(ctx.now()));
                    ctx.cancel_timer(Timer::Join);
                    ctx.note("joined");
                    self.merge(members, ctx);
                    self.announce(State::Alive);
                    self.start_probing(ctx);
                }
                return;
            }
            Phase::Member | Phase::Leaving => {}
        }
        // Direct contact from a member never heard of: it joined and we missed the gossip.
        if self.view[from].is_none() && !matches!(msg, Msg::Join | Msg::JoinAck { .. }) {
            self.set(
                Update {
                    member: from,
                    state: State::Alive,
                    inc: 0,
                },
                ctx,
            );
        }
        match msg {
            Msg::Ping { seq, gossip } => {
                self.merge(gossip, ctx);
                let gossip = self.piggyback(from);
                let me = self.me;
                ctx.send(
                    from,
                    Msg::Ack {
                        seq,
                        target: me,
                        gossip,
                    },
                );
            }
            Msg::Ack {
                seq,
                target,
                gossip,
            } => {
                self.merge(gossip, ctx);
                if let Some(p) = self.probe.as_mut() {
                    if p.seq == seq && p.target == target {
                        p.acked = true;
                        return;
                    }
                }
                if let Some(i) = self.relays.iter().position(|r| r.seq == seq) {
                    let r = self.relays.swap_remove(i);
                    if r.target == target {
                        let gossip = self.piggyback(r.origin);
                        ctx.send(
                            r.origin,
                            Msg::Ack {
                                seq: r.origin_seq,
                                target,
                                gossip,
                            },
                        );
                    }
                }
            }
            Msg::PingReq {
                seq,
                target,
                gossip,
            } => {
                self.merge(gossip, ctx);
                if target >= self.view.len() || target == self.me {
                    return;
                }
                self.seq += 1;
                self.relays.push(Relay {
                    seq: self.seq,
                    origin: from,
                    origin_seq: seq,
                    target,
                    at_ms: ms(ctx.now()),
                });
                let gossip = self.piggyback(target);
                ctx.send(
                    target,
                    Msg::Ping {
                        seq: self.seq,
                        gossip,
                    },
                );
            }
            Msg::Join => {
                if self.phase != Phase::Member {
                    return;
                }
                if self.view[from].is_none_or(|s| s.state != State::Alive) {
                    let inc = self.view[from].map_or(0, |s| s.inc + 1);
                    self.set(
                        Update {
                            member: from,
                            state: State::Alive,
                            inc,
                        },
                        ctx,
                    );
                }
                let members: Vec<Update> = (0..self.view.len())
                    .filter_map(|r| {
                        self.view[r].map(|s| Update {
                            member: r,
                            state: s.state,
                            inc: s.inc,
                        })
                    })
                    .collect();
                ctx.send(from, Msg::JoinAck { members });
            }
            Msg::JoinAck { .. } => {}
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx<Msg, Timer>) {
        match timer {
            Timer::Probe if matches!(self.phase, Phase::Member | Phase::Leaving) => self.tick(ctx),
            Timer::Indirect(seq) => self.indirect(seq, ctx),
            Timer::Suspicion(m) => {
                if let Some(s) = self.view[m] {
                    if s.state == State::Suspect {
                        self.set(
                            Update {
                                member: m,
                                state: State::Dead,
                                inc: s.inc,
                            },
                            ctx,
                        );
                    }
                }
            }
            Timer::Join if self.phase == Phase::Waiting || self.phase == Phase::Joining => {
                self.phase = Phase::Joining;
                ctx.send(self.args.join_via, Msg::Join);
                ctx.set_timer(Timer::Join, Duration::from_millis(self.args.period));
            }
            Timer::Leave if self.phase == Phase::Member => {
                self.phase = Phase::Leaving;
                self.out.left_ms = Some(ms(ctx.now()));
                self.announce(State::Left);
                ctx.note("leaving");
                let np = self.view.len();
                ctx.set_timer(
                    Timer::Depart,
                    Duration::from_millis(self.args.leave_grace(np)),
                );
            }
            Timer::Depart => {
                self.phase = Phase::Gone;
                self.end(ctx);
                ctx.note("gone");
            }
            Timer::End if self.phase != Phase::Gone => {
                self.end(ctx);
                self.phase = Phase::Over;
            }
            _ => {}
        }
    }

    fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Over | Phase::Gone)
    }

    fn output(&self) -> SwimOutput {
        let mut out = self.out.clone();
        if out.end_ms.is_none() {
            // Crashed (or the run cut short): what it knew last.
            out.view = self.view.clone();
            out.events = self.events.clone();
            out.incarnation = self.inc;
        }
        out
    }
}

/// The `swim` binary.
pub struct Swim;

/// The members the checks judge by: never crashed, became members, never left.
fn judges(args: &Args, run: &RunResult<SwimOutput>) -> Vec<Rank> {
    run.correct_ranks()
        .filter(|r| r.output.joined_ms.is_some() && args.leave_of(r.rank).is_none())
        .map(|r| r.rank)
        .collect()
}

/// When each judge's run ended (ms; `--duration` if it did not say).
fn end_of(args: &Args, out: &SwimOutput) -> f64 {
    out.end_ms.unwrap_or(args.duration as f64)
}

/// The partitions that cut one rank off from all others (a pause as they see it):
/// (rank, from, to).
pub fn pauses(faults: &FaultPlan, np: usize) -> Vec<(Rank, u64, u64)> {
    let mut v = Vec::new();
    for p in &faults.partitions {
        for g in &p.groups {
            if let [r] = g[..] {
                let all_cut = (0..np).filter(|&o| o != r).all(|o| p.cuts(r, o, p.from_ms));
                if all_cut {
                    v.push((r, p.from_ms, p.to_ms));
                }
            }
        }
    }
    v
}

/// Why accuracy cannot be required under this plan, if it cannot.
pub fn accuracy_waived(args: &Args, faults: &FaultPlan, np: usize) -> Option<String> {
    let lossy_until_end = faults.heal_ms.is_none_or(|h| h >= args.duration);
    if faults.drop > ACCURACY_DROP && lossy_until_end {
        return Some(format!(
            "links drop {} of the messages, above the {ACCURACY_DROP} under which SWIM's false positives are negligible",
            faults.drop
        ));
    }
    if let Some((_, hi)) = faults.delay_ms {
        if 2 * hi >= args.period && lossy_until_end {
            return Some(format!(
                "extra delays up to {hi} ms per message make a round trip outlast the period of {} ms",
                args.period
            ));
        }
    }
    let safe = args.longest_safe_pause(np);
    if let Some(p) = faults
        .partitions
        .iter()
        .find(|p| p.to_ms.min(args.duration).saturating_sub(p.from_ms) > safe)
    {
        return Some(format!(
            "a partition lasts {} ms, longer than the {safe} ms a member can be cut off and still refute in time (suspicion {} ms less the refutation margin)",
            p.to_ms - p.from_ms,
            args.suspicion
        ));
    }
    None
}

fn first_event(out: &SwimOutput, member: Rank, state: State, from: f64) -> Option<f64> {
    out.events
        .iter()
        .find(|e| e.member == member && e.state == state && e.at_ms >= from)
        .map(|e| e.at_ms)
}

/// The checks of a run (see the module doc).
pub fn check(args: &Args, run: &RunResult<SwimOutput>) -> Vec<Check> {
    let np = run.np;
    let faults = run.applied_faults();
    let judges = judges(args, run);
    let out = |r: Rank| &run.ranks[r].output;
    let bound = args.detection_bound(np) as f64;

    // Completeness.
    let mut pairs = 0;
    let mut incomplete = Vec::new();
    for c in &faults.crashes {
        if run.ranks[c.rank].output.joined_ms.is_none() {
            continue;
        }
        if args.leave_of(c.rank).is_some_and(|l| l <= c.at_ms) {
            continue;
        }
        for &j in &judges {
            let o = out(j);
            let start = o.joined_ms.unwrap_or_default().max(c.at_ms as f64);
            if start + bound > end_of(args, o) {
                continue;
            }
            pairs += 1;
            match first_event(o, c.rank, State::Dead, c.at_ms as f64) {
                None => incomplete.push(format!(
                    "rank {j} never declared rank {} (crashed at {} ms) dead",
                    c.rank, c.at_ms
                )),
                Some(t) if t > start + bound => incomplete.push(format!(
                    "rank {j} declared rank {} dead {:.1} ms after its crash, beyond the bound of {bound} ms",
                    c.rank,
                    t - c.at_ms as f64
                )),
                Some(_) => {}
            }
            if !matches!(o.view[c.rank], Some(s) if s.state == State::Dead) {
                incomplete.push(format!(
                    "rank {j} sees crashed rank {} as {:?} at the end",
                    c.rank,
                    o.view[c.rank].map(|s| s.state)
                ));
            }
        }
    }
    let completeness = if faults.crashes.is_empty() {
        Check::from_violations("completeness", "no crash to detect".into(), incomplete)
    } else {
        Check::if_required(
            "completeness",
            if pairs == 0 {
                Err(format!(
                    "no crash leaves the bound of {bound} ms before the end of a correct member's run"
                ))
            } else {
                Ok(())
            },
            format!(
                "{pairs} (crash, correct member) pairs: each crashed member declared dead within {bound} ms and never restored"
            ),
            incomplete,
        )
    };

    // Accuracy: no member declared dead while it was up and had not left.
    let mut false_dead = Vec::new();
    for &j in &judges {
        for e in out(j).events.iter().filter(|e| e.state == State::Dead) {
            let crashed = faults
                .crash_time_ms(e.member)
                .is_some_and(|c| c as f64 <= e.at_ms);
            let left = run.ranks[e.member]
                .output
                .left_ms
                .is_some_and(|l| l <= e.at_ms);
            if !crashed && !left {
                false_dead.push(format!(
                    "rank {j} declared rank {} dead at {:.1} ms (inc {})",
                    e.member, e.at_ms, e.inc
                ));
            }
        }
    }
    let accuracy = match accuracy_waived(args, &faults, np) {
        None => Check::from_violations(
            "accuracy",
            format!(
                "no correct member declared dead (links dropping at most {ACCURACY_DROP}, partitions refutable)"
            ),
            false_dead,
        ),
        Some(why) => Check::if_required(
            "accuracy",
            Err(format!("{why}; {} false positives", false_dead.len())),
            String::new(),
            Vec::new(),
        ),
    };

    // Joins.
    let lossy = faults.drop > ACCURACY_DROP && faults.heal_ms.is_none();
    let mut joins = Vec::new();
    let mut judged_joins = 0;
    let seed_crash = faults.crash_time_ms(args.join_via);
    for j in &args.joins {
        if faults.crash_time_ms(j.rank).is_some() || lossy {
            continue;
        }
        // A partition delays the news by its length; one between the newcomer and the seed
        // waives the check.
        let overlapping: Vec<_> = (faults.partitions.iter())
            .filter(|p| p.to_ms > j.at_ms && p.from_ms < j.at_ms + args.join_bound(np))
            .collect();
        let settled = j.at_ms
            + args.join_bound(np)
            + overlapping.iter().map(|p| p.to_ms - p.from_ms).sum::<u64>();
        if seed_crash.is_some_and(|c| c <= settled) {
            continue;
        }
        let cut = overlapping
            .iter()
            .any(|p| p.cuts(j.rank, args.join_via, p.from_ms));
        if cut {
            continue;
        }
        let newcomer = out(j.rank);
        if (settled as f64) > end_of(args, newcomer) {
            continue;
        }
        judged_joins += 1;
        if newcomer.joined_ms.is_none() {
            joins.push(format!("rank {} never joined", j.rank));
            continue;
        }
        for &m in &judges {
            if m == j.rank || (settled as f64) > end_of(args, out(m)) {
                continue;
            }
            if !matches!(out(m).view[j.rank], Some(s) if s.state <= State::Suspect) {
                joins.push(format!(
                    "rank {m} sees rank {} (joined at {:.1} ms) as {:?} at the end",
                    j.rank,
                    newcomer.joined_ms.unwrap_or_default(),
                    out(m).view[j.rank].map(|s| s.state)
                ));
            }
            if args.leave_of(j.rank).is_none() && newcomer.view[m].is_none() {
                joins.push(format!("rank {} never heard of rank {m}", j.rank));
            }
        }
    }
    let join_check = if args.joins.is_empty() {
        Check::if_required("joins", Err("no --join".into()), String::new(), Vec::new())
    } else if judged_joins == 0 {
        Check::if_required(
            "joins",
            Err(format!(
                "no join leaves {} ms (the join bound, plus partitions in between) before the end on links within the accuracy rate, with no partition between it and the seed, neither of them crashed",
                args.join_bound(np)
            )),
            String::new(),
            Vec::new(),
        )
    } else {
        Check::from_violations(
            "joins",
            format!(
                "{judged_joins} joined members known to every correct member, and knowing them"
            ),
            joins,
        )
    };

    // Leaves.
    let mut leaves = Vec::new();
    let (mut judged_leaves, mut by_gossip, mut seen) = (0, 0, 0);
    for l in &args.leaves {
        let leaver = out(l.rank);
        if leaver.left_ms.is_none() || faults.crash_time_ms(l.rank).is_some() {
            continue;
        }
        let settled = (l.at_ms + args.leave_grace(np) + args.detection_bound(np)) as f64;
        judged_leaves += 1;
        for &m in &judges {
            let o = out(m);
            match o.view[l.rank] {
                Some(s) if s.state == State::Left => {
                    by_gossip += 1;
                    seen += 1;
                }
                Some(s) if s.state == State::Dead => seen += 1,
                other if settled <= end_of(args, o) => leaves.push(format!(
                    "rank {m} sees rank {} (left at {} ms) as {:?} at the end",
                    l.rank,
                    l.at_ms,
                    other.map(|s| s.state)
                )),
                _ => {}
            }
        }
    }
    let leave_check = if judged_leaves == 0 {
        Check::if_required(
            "leaves",
            Err(if args.leaves.is_empty() {
                "no --leave".into()
            } else {
                "every leaving member crashed or never became a member".into()
            }),
            String::new(),
            Vec::new(),
        )
    } else {
        Check::from_violations(
            "leaves",
            format!(
                "{judged_leaves} leaving members seen gone by every correct member ({by_gossip} of {seen} views learned it by gossip, the others by detecting the silence)"
            ),
            leaves,
        )
    };

    // Refutation.
    let mut refute = Vec::new();
    let mut judged = Vec::new();
    let mut notes = Vec::new();
    for (p, from, to) in pauses(&faults, np) {
        let len = to.min(args.duration).saturating_sub(from);
        let settle = to + args.refutation_margin(np);
        if !judges.contains(&p) || len > args.longest_safe_pause(np) {
            notes.push(format!(
                "rank {p}'s pause of {len} ms not judged (longer than {} ms, or it crashed, joined or left)",
                args.longest_safe_pause(np)
            ));
            continue;
        }
        if judges.iter().any(|&m| settle as f64 > end_of(args, out(m))) {
            notes.push(format!(
                "rank {p}'s pause ends too late ({to} ms) to see it refuted"
            ));
            continue;
        }
        judged.push(p);
        let others: Vec<Rank> = judges.iter().copied().filter(|&m| m != p).collect();
        let suspected = others
            .iter()
            .any(|&m| first_event(out(m), p, State::Suspect, from as f64).is_some());
        if !suspected && len >= args.surely_probed(np) {
            refute.push(format!(
                "no member suspected rank {p} during its pause of {len} ms, though each probed it"
            ));
        }
        if suspected && out(p).incarnation == 0 {
            refute.push(format!(
                "rank {p} was suspected but never refuted (incarnation 0)"
            ));
        }
        for &m in &others {
            if let Some(t) = first_event(out(m), p, State::Dead, from as f64) {
                refute.push(format!(
                    "rank {m} declared paused rank {p} dead at {t:.1} ms"
                ));
            }
            // Restored: a suspicion from the pause is followed by "alive" at a higher
            // incarnation (a member may suspect it again later, on lossy links).
            if let Some(t) = first_event(out(m), p, State::Suspect, from as f64) {
                if t <= (to + args.period) as f64
                    && first_event(out(m), p, State::Alive, t).is_none()
                {
                    refute.push(format!(
                        "rank {m} suspected paused rank {p} at {t:.1} ms and never saw it alive again"
                    ));
                }
            }
            if matches!(out(m).view[p], Some(s) if s.state >= State::Dead) {
                refute.push(format!(
                    "rank {m} sees rank {p} as {:?} at the end, after its pause",
                    out(m).view[p].map(|s| s.state)
                ));
            }
        }
        if !suspected {
            notes.push(format!(
                "rank {p} was not probed during its pause of {len} ms: nothing to refute"
            ));
        }
    }
    let refutation = if judged.is_empty() {
        Check::if_required(
            "refutation",
            Err(if notes.is_empty() {
                "no pause (a partition cutting one rank off from all others)".into()
            } else {
                notes.join("; ")
            }),
            String::new(),
            Vec::new(),
        )
    } else {
        let incs: Vec<String> = judged
            .iter()
            .map(|&p| format!("rank {p} at incarnation {}", out(p).incarnation))
            .collect();
        let mut ok = format!(
            "paused members suspected, then restored, never declared dead: {}",
            incs.join(", ")
        );
        if !notes.is_empty() {
            ok += &format!(" ({})", notes.join("; "));
        }
        Check::from_violations("refutation", ok, refute)
    };

    vec![completeness, accuracy, join_check, leave_check, refutation]
}

/// Detection of one crash.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    pub rank: Rank,
    /// Crash to the first suspicion by any correct member.
    pub first_suspicion_ms: Option<f64>,
    /// Crash to the moment the last correct member declared it dead (`None`: some never did).
    pub latency_ms: Option<f64>,
}

/// The figures of a run, for the report and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub detection: Vec<Detection>,
    /// Suspicions of members that were up, by correct members.
    pub false_suspicions: u64,
    /// Members declared dead while up, by correct members.
    pub false_positives: u64,
    /// Messages sent per member per protocol period.
    pub messages_per_member_per_period: f64,
    pub refutations: u64,
    pub ping_reqs: u64,
}

/// The figures of a run.
pub fn figures(args: &Args, run: &RunResult<SwimOutput>) -> Figures {
    let faults = run.applied_faults();
    let judges = judges(args, run);
    let up = |m: Rank, t: f64| {
        !faults.crash_time_ms(m).is_some_and(|c| c as f64 <= t)
            && !run.ranks[m].output.left_ms.is_some_and(|l| l <= t)
    };
    let (mut fs, mut fp) = (0, 0);
    for &j in &judges {
        for e in &run.ranks[j].output.events {
            if up(e.member, e.at_ms) {
                match e.state {
                    State::Suspect => fs += 1,
                    State::Dead => fp += 1,
                    _ => {}
                }
            }
        }
    }
    let detection = faults
        .crashes
        .iter()
        .map(|c| {
            let at = c.at_ms as f64;
            let first = judges
                .iter()
                .filter_map(|&j| first_event(&run.ranks[j].output, c.rank, State::Suspect, at))
                .fold(None, |a: Option<f64>, t| Some(a.map_or(t, |a| a.min(t))));
            let mut last = Some(0.0f64);
            for &j in &judges {
                let t = first_event(&run.ranks[j].output, c.rank, State::Dead, at);
                last = match (last, t) {
                    (Some(l), Some(t)) => Some(l.max(t - at)),
                    _ => None,
                };
            }
            Detection {
                rank: c.rank,
                first_suspicion_ms: first.map(|t| t - at),
                latency_ms: if judges.is_empty() { None } else { last },
            }
        })
        .collect();
    let member_periods: f64 = run
        .ranks
        .iter()
        .map(|r| {
            let o = &r.output;
            let from = o.joined_ms.unwrap_or(0.0);
            let to = o
                .end_ms
                .or_else(|| faults.crash_time_ms(r.rank).map(|c| c as f64))
                .unwrap_or(args.duration as f64);
            if o.joined_ms.is_some() {
                ((to - from) / args.period as f64).max(0.0)
            } else {
                0.0
            }
        })
        .sum();
    let sent = run.metrics().total.sent;
    Figures {
        detection,
        false_suspicions: fs,
        false_positives: fp,
        messages_per_member_per_period: if member_periods > 0.0 {
            sent as f64 / member_periods
        } else {
            0.0
        },
        refutations: run.ranks.iter().map(|r| r.output.refutations).sum(),
        ping_reqs: run.ranks.iter().map(|r| r.output.ping_reqs_sent).sum(),
    }
}

impl Algorithm for Swim {
    const KINDS: &'static [&'static str] = &["Ping", "Ack", "PingReq", "Join", "JoinAck"];
    const NAME: &'static str = "swim";
    const ABOUT: &'static str = "SWIM membership: round-robin probes, indirect ping-reqs, suspicion refuted by incarnation numbers, piggybacked gossip, joins and graceful leaves, Lifeguard's local health as an option; completeness within a bound, accuracy, joins, leaves and refutation of pauses checked; detection time, false positives and messages per member per period measured.";
    type Args = Args;
    type Proc = SwimProcess;

    fn validate(args: &Args, np: usize, faults: &FaultPlan) -> Result<(), String> {
        if np < 2 {
            return Err(format!(
                "swim needs at least 2 ranks to probe one another, got {np}"
            ));
        }
        if args.ping_timeout >= args.period {
            return Err(format!(
                "--ping-timeout {} must be less than --period {}: the indirect probes need the rest of the period",
                args.ping_timeout, args.period
            ));
        }
        if args.join_via >= np {
            return Err(format!(
                "--join-via {} does not exist (ranks are 0..{})",
                args.join_via,
                np - 1
            ));
        }
        for (flag, list) in [("--join", &args.joins), ("--leave", &args.leaves)] {
            if let Some(a) = list.iter().find(|a| a.rank >= np) {
                return Err(format!(
                    "{flag} {}@{}: rank {} does not exist (ranks are 0..{})",
                    a.rank,
                    a.at_ms,
                    a.rank,
                    np - 1
                ));
            }
            let mut ranks: Vec<Rank> = list.iter().map(|a| a.rank).collect();
            ranks.sort_unstable();
            if let Some(w) = ranks.windows(2).find(|w| w[0] == w[1]) {
                return Err(format!("{flag} names rank {} twice", w[0]));
            }
        }
        if args.join_of(args.join_via).is_some() || args.leave_of(args.join_via).is_some() {
            return Err(format!(
                "the seed member, rank {}, cannot join or leave itself: pick another with --join-via",
                args.join_via
            ));
        }
        for l in &args.leaves {
            if let Some(j) = args.join_of(l.rank) {
                if j >= l.at_ms {
                    return Err(format!(
                        "rank {} would leave at {} ms before it joins at {j} ms",
                        l.rank, l.at_ms
                    ));
                }
            }
        }
        let initial = (0..np).filter(|&r| args.join_of(r).is_none()).count();
        if initial < 1 {
            return Err("every rank joins later: no member to join through".into());
        }
        let stay: std::collections::BTreeSet<Rank> = (0..np)
            .filter(|&r| faults.crash_time_ms(r).is_none() && args.leave_of(r).is_none())
            .collect();
        if stay.is_empty() {
            return Err(format!(
                "every one of the {np} ranks crashes or leaves: no correct member would be left to judge"
            ));
        }
        Ok(())
    }

    fn build(args: &Args, rank: Rank, np: usize) -> SwimProcess {
        SwimProcess::new(args, rank, np)
    }

    fn check(args: &Args, run: &RunResult<SwimOutput>) -> Vec<Check> {
        check(args, run)
    }

    fn figures(args: &Args, run: &RunResult<SwimOutput>) -> Option<serde_json::Value> {
        serde_json::to_value(figures(args, run)).ok()
    }

    fn output_view(output: &SwimOutput) -> serde_json::Value {
        serde_json::to_value(output).unwrap_or_default()
    }

    fn summarize(args: &Args, run: &RunResult<SwimOutput>) -> Vec<String> {
        let mut lines: Vec<String> = run
            .ranks
            .iter()
            .map(|r| {
                let o = &r.output;
                let count = |st: State| {
                    o.view
                        .iter()
                        .enumerate()
                        .filter(|(m, s)| *m != r.rank && matches!(s, Some(s) if s.state == st))
                        .map(|(m, _)| m)
                        .collect::<Vec<_>>()
                };
                let what = if r.crashed {
                    " (crashed)".to_string()
                } else if o.left_ms.is_some() {
                    " (left)".to_string()
                } else if o.joined_ms.is_none() {
                    " (never joined)".to_string()
                } else {
                    String::new()
                };
                format!(
                    "rank {}: alive {:?}, suspect {:?}, dead {:?}, left {:?}; incarnation {}; {} probes, {} failed{what}",
                    r.rank,
                    count(State::Alive),
                    count(State::Suspect),
                    count(State::Dead),
                    count(State::Left),
                    o.incarnation,
                    o.probes,
                    o.failed_probes
                )
            })
            .collect();
        let f = figures(args, run);
        for d in &f.detection {
            lines.push(match d.latency_ms {
                Some(l) => format!(
                    "crash of rank {} first suspected after {:.1} ms, declared dead by every correct member after {l:.1} ms",
                    d.rank,
                    d.first_suspicion_ms.unwrap_or_default()
                ),
                None => format!(
                    "crash of rank {} not declared dead by every correct member",
                    d.rank
                ),
            });
        }
        lines.push(format!(
            "{:.2} messages per member per period; {} false suspicions, {} false positives (dead), {} refutations, {} ping-reqs",
            f.messages_per_member_per_period,
            f.false_suspicions,
            f.false_positives,
            f.refutations,
            f.ping_reqs
        ));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::process::{effects_at, sends_of};
    use crate::shared::Effect;

    fn args() -> Args {
        Args {
            period: 20,
            ping_timeout: 8,
            k: 2,
            suspicion: 300,
            lambda: 3,
            piggyback: 6,
            lifeguard: false,
            joins: Vec::new(),
            leaves: Vec::new(),
            join_via: 0,
            duration: 1000,
        }
    }

    fn at(
        p: &mut SwimProcess,
        t_ms: u64,
        f: impl FnOnce(&mut SwimProcess, &mut Ctx<Msg, Timer>),
    ) -> Vec<Effect<Msg, Timer>> {
        let (me, np) = (p.me, p.view.len());
        effects_at(p, me, np, Duration::from_millis(t_ms), f)
    }

    fn started(a: &Args, me: Rank, np: usize) -> SwimProcess {
        let mut p = Swim::build(a, me, np);
        at(&mut p, 0, |p, c| p.on_start(c));
        p
    }

    fn status(state: State, inc: u64) -> Option<Status> {
        Some(Status { state, inc })
    }

    #[test]
    fn precedence_follows_the_paper() {
        let u = |state, inc| Update {
            member: 1,
            state,
            inc,
        };
        use State::*;
        assert!(supersedes(&u(Suspect, 0), status(Alive, 0)));
        assert!(!supersedes(&u(Alive, 0), status(Suspect, 0)));
        assert!(supersedes(&u(Alive, 1), status(Suspect, 0)));
        assert!(!supersedes(&u(Suspect, 0), status(Suspect, 0)));
        assert!(supersedes(&u(Dead, 0), status(Suspect, 0)));
        assert!(!supersedes(&u(Suspect, 5), status(Dead, 0)));
        assert!(
            supersedes(&u(Alive, 1), status(Dead, 0)),
            "a dead member rejoins"
        );
        assert!(!supersedes(&u(Alive, 9), status(Left, 0)), "left is final");
        assert!(supersedes(&u(Left, 0), status(Dead, 3)));
        assert!(supersedes(&u(Alive, 0), None));
    }

    #[test]
    fn each_period_pings_one_member_round_robin() {
        let a = args();
        let mut p = started(&a, 0, 4);
        let mut targets = Vec::new();
        for i in 0..6 {
            let fx = at(&mut p, 20 * i, |p, c| p.on_timer(Timer::Probe, c));
            let sends = sends_of(&fx);
            assert_eq!(sends.len(), 1, "{fx:?}");
            let Msg::Ping { seq, .. } = sends[0].1 else {
                panic!("{fx:?}")
            };
            // Answered at once: no suspicion.
            at(&mut p, 20 * i + 1, |p, c| {
                p.on_message(
                    sends[0].0,
                    Msg::Ack {
                        seq,
                        target: sends[0].0,
                        gossip: vec![],
                    },
                    c,
                )
            });
            targets.push(sends[0].0);
        }
        let mut first: Vec<Rank> = targets[..3].to_vec();
        first.sort_unstable();
        assert_eq!(
            first,
            vec![1, 2, 3],
            "each member once per round: {targets:?}"
        );
        let mut second: Vec<Rank> = targets[3..].to_vec();
        second.sort_unstable();
        assert_eq!(second, vec![1, 2, 3], "{targets:?}");
        assert_eq!(p.output().failed_probes, 0);
    }

    #[test]
    fn no_ack_means_ping_reqs_then_suspicion_then_dead() {
        let a = args();
        let mut p = started(&a, 0, 4);
        let fx = at(&mut p, 20, |p, c| p.on_timer(Timer::Probe, c));
        let (target, seq) = match &sends_of(&fx)[0] {
            (t, Msg::Ping { seq, .. }) => (*t, *seq),
            other => panic!("{other:?}"),
        };
        let fx = at(&mut p, 28, |p, c| p.on_timer(Timer::Indirect(seq), c));
        let reqs = sends_of(&fx);
        assert_eq!(reqs.len(), 2, "k = 2: {fx:?}");
        for (h, m) in &reqs {
            assert_ne!(*h, target);
            assert!(
                matches!(m, Msg::PingReq { target: t, seq: s, .. } if *t == target && *s == seq)
            );
        }
        let fx = at(&mut p, 40, |p, c| p.on_timer(Timer::Probe, c));
        assert!(
            fx.contains(&Effect::SetTimer {
                timer: Timer::Suspicion(target),
                after: Duration::from_millis(300)
            }),
            "{fx:?}"
        );
        assert_eq!(p.view[target], status(State::Suspect, 0));
        at(&mut p, 340, |p, c| p.on_timer(Timer::Suspicion(target), c));
        assert_eq!(p.view[target], status(State::Dead, 0));
        // The next message to anyone carries the news.
        let g = p.piggyback(1);
        assert!(
            g.contains(&Update {
                member: target,
                state: State::Dead,
                inc: 0
            }),
            "{g:?}"
        );
    }

    #[test]
    fn a_relayed_ack_counts() {
        let a = args();
        let mut helper = started(&a, 1, 4);
        let fx = at(&mut helper, 5, |p, c| {
            p.on_message(
                0,
                Msg::PingReq {
                    seq: 7,
                    target: 2,
                    gossip: vec![],
                },
                c,
            )
        });
        let (to, own) = match &sends_of(&fx)[0] {
            (t, Msg::Ping { seq, .. }) => (*t, *seq),
            other => panic!("{other:?}"),
        };
        assert_eq!(to, 2);
        let fx = at(&mut helper, 6, |p, c| {
            p.on_message(
                2,
                Msg::Ack {
                    seq: own,
                    target: 2,
                    gossip: vec![],
                },
                c,
            )
        });
        assert_eq!(
            sends_of(&fx),
            vec![(
                0,
                Msg::Ack {
                    seq: 7,
                    target: 2,
                    gossip: vec![]
                }
            )]
        );
    }

    #[test]
    fn a_suspected_member_refutes_with_a_higher_incarnation() {
        let a = args();
        let mut p = started(&a, 2, 4);
        let accuse = Update {
            member: 2,
            state: State::Suspect,
            inc: 0,
        };
        let fx = at(&mut p, 50, |p, c| {
            p.on_message(
                1,
                Msg::Ping {
                    seq: 3,
                    gossip: vec![accuse],
                },
                c,
            )
        });
        assert_eq!(p.inc, 1);
        match &sends_of(&fx)[0] {
            (
                1,
                Msg::Ack {
                    seq: 3,
                    target: 2,
                    gossip,
                },
            ) => assert!(
                gossip.contains(&Update {
                    member: 2,
                    state: State::Alive,
                    inc: 1
                }),
                "{gossip:?}"
            ),
            other => panic!("{other:?}"),
        }
        // An old accusation is not refuted again.
        at(&mut p, 60, |p, c| {
            p.on_message(
                1,
                Msg::Ping {
                    seq: 4,
                    gossip: vec![accuse],
                },
                c,
            )
        });
        assert_eq!(p.inc, 1);
        // And the accuser takes the refutation: alive again, its suspicion timer cancelled.
        let mut q = started(&a, 1, 4);
        at(&mut q, 10, |p, c| p.apply(accuse, c));
        assert_eq!(q.view[2], status(State::Suspect, 0));
        let fx = at(&mut q, 20, |p, c| {
            p.apply(
                Update {
                    member: 2,
                    state: State::Alive,
                    inc: 1,
                },
                c,
            )
        });
        assert!(
            fx.contains(&Effect::CancelTimer(Timer::Suspicion(2))),
            "{fx:?}"
        );
        assert_eq!(q.view[2], status(State::Alive, 1));
    }

    #[test]
    fn buddy_system_tells_a_suspect_first() {
        let a = Args {
            piggyback: 1,
            ..args()
        };
        let mut p = started(&a, 0, 4);
        at(&mut p, 10, |p, c| {
            p.apply(
                Update {
                    member: 3,
                    state: State::Suspect,
                    inc: 0,
                },
                c,
            )
        });
        at(&mut p, 10, |p, c| {
            p.apply(
                Update {
                    member: 1,
                    state: State::Suspect,
                    inc: 0,
                },
                c,
            )
        });
        // To rank 3: its own suspicion, even though rank 1's is as fresh.
        assert_eq!(
            p.piggyback(3)[0],
            Update {
                member: 3,
                state: State::Suspect,
                inc: 0
            }
        );
    }

    #[test]
    fn gossip_is_sent_a_bounded_number_of_times() {
        let a = args();
        let mut p = started(&a, 0, 4);
        at(&mut p, 10, |p, c| {
            p.apply(
                Update {
                    member: 3,
                    state: State::Dead,
                    inc: 0,
                },
                c,
            )
        });
        // 3 members known (0, 1, 2): λ·⌈log₂ 4⌉ = 6 sends.
        let mut sent = 0;
        for _ in 0..20 {
            if p.piggyback(1).iter().any(|u| u.member == 3) {
                sent += 1;
            }
        }
        assert_eq!(sent, a.transmits(3));
        assert_eq!(sent, 6);
    }

    #[test]
    fn join_through_the_seed_and_leave() {
        let a = Args {
            joins: vec![At {
                rank: 3,
                at_ms: 100,
            }],
            leaves: vec![At {
                rank: 2,
                at_ms: 300,
            }],
            ..args()
        };
        let mut newcomer = started(&a, 3, 4);
        // Silent before its time.
        assert!(at(&mut newcomer, 50, |p, c| p.on_message(
            1,
            Msg::Ping {
                seq: 1,
                gossip: vec![]
            },
            c
        ))
        .is_empty());
        let fx = at(&mut newcomer, 100, |p, c| p.on_timer(Timer::Join, c));
        assert_eq!(sends_of(&fx), vec![(0, Msg::Join)]);
        let mut seed = started(&a, 0, 4);
        assert_eq!(seed.view[3], None);
        let fx = at(&mut seed, 101, |p, c| p.on_message(3, Msg::Join, c));
        assert_eq!(seed.view[3], status(State::Alive, 0));
        let ack = sends_of(&fx).pop().unwrap();
        assert!(
            matches!(&ack, (3, Msg::JoinAck { members }) if members.len() == 4),
            "{ack:?}"
        );
        at(&mut newcomer, 102, |p, c| p.on_message(0, ack.1, c));
        assert_eq!(newcomer.output().joined_ms, Some(102.0));
        assert!((0..4).all(|r| newcomer.view[r] == status(State::Alive, 0)));
        // The seed gossips the newcomer.
        assert!(seed
            .piggyback(1)
            .iter()
            .any(|u| u.member == 3 && u.state == State::Alive));

        let mut leaver = started(&a, 2, 4);
        let fx = at(&mut leaver, 300, |p, c| p.on_timer(Timer::Leave, c));
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::SetTimer {
                timer: Timer::Depart,
                ..
            }
        )));
        assert!(leaver.piggyback(1).contains(&Update {
            member: 2,
            state: State::Left,
            inc: 0
        }));
        at(&mut leaver, 400, |p, c| p.on_timer(Timer::Depart, c));
        assert!(leaver.is_done());
        assert!(at(&mut leaver, 401, |p, c| p.on_message(
            1,
            Msg::Ping {
                seq: 9,
                gossip: vec![]
            },
            c
        ))
        .is_empty());
    }

    #[test]
    fn a_member_whose_run_is_over_still_answers_pings() {
        let a = args();
        let mut p = started(&a, 1, 3);
        at(&mut p, 1000, |p, c| p.on_timer(Timer::End, c));
        assert!(p.is_done());
        let fx = at(&mut p, 1001, |p, c| {
            p.on_message(
                0,
                Msg::Ping {
                    seq: 5,
                    gossip: vec![Update {
                        member: 2,
                        state: State::Dead,
                        inc: 0,
                    }],
                },
                c,
            )
        });
        assert_eq!(
            sends_of(&fx),
            vec![(
                0,
                Msg::Ack {
                    seq: 5,
                    target: 1,
                    gossip: vec![]
                }
            )]
        );
        assert_eq!(
            p.output().view[2],
            status(State::Alive, 0),
            "its view is frozen"
        );
    }

    #[test]
    fn lifeguard_slows_a_member_that_misses_its_acks() {
        let a = Args {
            lifeguard: true,
            ..args()
        };
        let mut p = started(&a, 0, 4);
        at(&mut p, 0, |p, c| p.on_timer(Timer::Probe, c));
        let fx = at(&mut p, 20, |p, c| p.on_timer(Timer::Probe, c));
        // One failed probe: health 1, the next period twice as long.
        assert!(
            fx.contains(&Effect::SetTimer {
                timer: Timer::Probe,
                after: Duration::from_millis(40)
            }),
            "{fx:?}"
        );
        assert_eq!(p.output().max_health, 1);
    }

    #[test]
    fn checker_catches_a_missed_crash_a_false_positive_and_a_killed_pause() {
        use crate::shared::faults::{Crash, Partition};
        let a = args();
        let alive = status(State::Alive, 0);
        let ev = |at_ms, member, state| Event {
            at_ms,
            member,
            state,
            inc: 0,
        };
        let out = |view: Vec<Option<Status>>, events: Vec<Event>| SwimOutput {
            view,
            events,
            incarnation: 0,
            joined_ms: Some(0.0),
            left_ms: None,
            end_ms: Some(1000.0),
            probes: 0,
            failed_probes: 0,
            ping_reqs_sent: 0,
            refutations: 0,
            max_health: 0,
        };
        let dead = status(State::Dead, 0);
        // Rank 3 crashes at 100 ms; rank 2 is paused during 300..400 ms.
        let faults = FaultPlan {
            crashes: vec![Crash {
                rank: 3,
                at_ms: 100,
            }],
            partitions: vec![Partition {
                groups: vec![vec![2], vec![0, 1, 3]],
                from_ms: 300,
                to_ms: 400,
            }],
            ..Default::default()
        };
        let mut run = RunResult::of_outputs(
            "swim",
            faults,
            vec![
                // Detects the crash, but declares the paused rank dead.
                out(
                    vec![alive, alive, dead, dead],
                    vec![
                        ev(150.0, 3, State::Suspect),
                        ev(450.0, 3, State::Dead),
                        ev(320.0, 2, State::Suspect),
                        ev(620.0, 2, State::Dead),
                    ],
                ),
                // Never declares the crashed rank dead.
                out(vec![alive, alive, alive, alive], vec![]),
                out(vec![alive, alive, alive, alive], vec![]),
                out(vec![alive; 4], vec![]),
            ],
        );
        run.ranks[3].crashed = true;
        let checks = check(&a, &run);
        let by = |n: &str| checks.iter().find(|c| c.name == n).unwrap();
        assert!(
            !by("completeness").passed
                && by("completeness")
                    .detail
                    .contains("rank 1 never declared rank 3"),
            "{checks:?}"
        );
        assert!(
            !by("accuracy").passed && by("accuracy").detail.contains("rank 2 dead"),
            "{checks:?}"
        );
        assert!(
            !by("refutation").passed
                && by("refutation")
                    .detail
                    .contains("declared paused rank 2 dead"),
            "{checks:?}"
        );
        // Neither joins nor leaves: not required, so passed.
        assert!(by("joins").passed && by("leaves").passed);
    }

    #[test]
    fn bounds_grow_with_n() {
        let a = args();
        assert_eq!(ceil_log2(1), 0);
        assert_eq!(ceil_log2(5), 3);
        assert!(a.detection_bound(16) > a.detection_bound(4));
        assert_eq!(a.detection_bound(5), 9 * 20 + 300 + 9 * 20);
    }
}
