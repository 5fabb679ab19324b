//! The four roles of single-decree Paxos as one state machine per rank: a rank holds the roles
//! its [`Layout`] gives it (one, or all four with `--colocate`), and each message goes to the
//! roles that handle it.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Layout, Msg, Output, Timer, Value};
use crate::shared::election::Ballot;
use crate::shared::{Ctx, Process, Rank};

type C<'a> = Ctx<'a, Msg, Timer>;

/// Timing of retransmissions and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timing {
    /// Resend the current phase's message to the acceptors that have not answered.
    pub resend: Duration,
    /// Give a ballot up after this long without a quorum, and start a higher one.
    pub patience: Duration,
    /// Randomized backoff before a new ballot, uniform in `0..=backoff`.
    pub backoff: Duration,
    /// A rank that has not decided by then stops waiting (the run can end when the fault
    /// plan makes a decision impossible).
    pub give_up: Duration,
}

/// The client role: proposes its own value, asks until it hears the decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Client {
    /// Drawn at start from the rank's seeded RNG: `(rank + 1) * 1000 + 0..1000`, so distinct
    /// across clients.
    pub value: Option<Value>,
    pub heard: Vec<(Value, u64)>,
}

/// Where a proposer is in its current ballot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// No client value yet, or waiting out a backoff.
    Idle,
    /// Prepare sent; collecting promises.
    Prepare,
    /// Accept sent; collecting acceptances.
    Accept,
    Decided,
}

/// The proposer role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Proposer {
    /// The value a client gave it (it proposes this unless phase 1 says otherwise).
    pub value: Option<Value>,
    pub ballot: Ballot,
    pub phase: Phase,
    promised_by: Vec<Rank>,
    /// Highest (ballot, value) accepted by the acceptors that promised.
    best: Option<(Ballot, Value)>,
    proposal: Option<Value>,
    accepted_by: Vec<Rank>,
    /// Highest round seen anywhere (NACKs, promises): the next ballot goes above it.
    max_round: u64,
    pub decided: Vec<(Value, u64)>,
    pub ballots: u32,
    pub nacks: u32,
    /// Ballots it may start (bounded only in the model checker).
    pub max_ballots: u32,
}

/// The acceptor role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Acceptor {
    pub promised: Option<Ballot>,
    pub accepted: Option<(Ballot, Value)>,
    /// Test hook: the C original's bug of accepting in phase 1.
    pub accept_in_phase1: bool,
}

/// The learner role: learns a value once a majority of acceptors accepted it in one ballot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Learner {
    /// (ballot, value, acceptors that accepted it).
    votes: Vec<(Ballot, Value, Vec<Rank>)>,
    pub learned: Vec<(Value, u64)>,
}

/// How a rank came to know the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Its proposer role saw a majority accept.
    ProposerQuorum,
    /// Its learner role saw a majority accept in one ballot.
    LearnerQuorum,
    /// Another rank told it.
    Told,
}

/// One rank: the roles it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paxos {
    pub me: Rank,
    /// Shared by all ranks of a run and never changed (cheap to clone in the model checker).
    pub layout: Arc<Layout>,
    pub timing: Timing,
    pub client: Option<Client>,
    pub proposer: Option<Proposer>,
    pub acceptor: Option<Acceptor>,
    pub learner: Option<Learner>,
    /// The `give_up` deadline passed before this rank decided.
    pub gave_up: bool,
}

/// The state that changes: `layout` and `timing` are the same in every state of a run.
impl Hash for Paxos {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.me.hash(h);
        self.client.hash(h);
        self.proposer.hash(h);
        self.acceptor.hash(h);
        self.learner.hash(h);
        self.gave_up.hash(h);
    }
}

/// Insert into a sorted list (sets of ranks are kept sorted: one state per knowledge).
fn insert_sorted(v: &mut Vec<Rank>, r: Rank) {
    if let Err(i) = v.binary_search(&r) {
        v.insert(i, r);
    }
}

impl Paxos {
    /// Rank `me` of `layout`.
    pub fn new(me: Rank, layout: Arc<Layout>, timing: Timing) -> Self {
        let roles = layout.roles_of(me);
        Paxos {
            me,
            timing,
            client: roles.client.then_some(Client {
                value: None,
                heard: Vec::new(),
            }),
            proposer: roles.proposer.then(|| Proposer {
                value: None,
                ballot: Ballot { round: 0, rank: me },
                phase: Phase::Idle,
                promised_by: Vec::new(),
                best: None,
                proposal: None,
                accepted_by: Vec::new(),
                max_round: 0,
                decided: Vec::new(),
                ballots: 0,
                nacks: 0,
                max_ballots: u32::MAX,
            }),
            acceptor: roles.acceptor.then_some(Acceptor {
                promised: None,
                accepted: None,
                accept_in_phase1: false,
            }),
            learner: roles.learner.then(|| Learner {
                votes: Vec::new(),
                learned: Vec::new(),
            }),
            layout,
            gave_up: false,
        }
    }

    fn majority(&self) -> usize {
        self.layout.quorum()
    }

    // ---- proposer ----

    fn start_ballot(&mut self, ctx: &mut C) {
        let me = self.me;
        let layout = Arc::clone(&self.layout);
        let Some(p) = self.proposer.as_mut() else {
            return;
        };
        if p.phase == Phase::Decided
            || p.value.is_none()
            || p.ballots >= p.max_ballots
            || self.gave_up
        {
            return;
        }
        p.ballots += 1;
        p.max_round = p.max_round.max(p.ballot.round) + 1;
        p.ballot = Ballot {
            round: p.max_round,
            rank: me,
        };
        p.phase = Phase::Prepare;
        p.promised_by.clear();
        p.accepted_by.clear();
        p.best = None;
        p.proposal = None;
        ctx.note(format!("prepare ({}, {me})", p.ballot.round));
        ctx.send_to_group(layout.acceptors.iter().copied(), &Msg::Prepare(p.ballot));
        ctx.set_timer(Timer::Resend, self.timing.resend);
        ctx.set_timer(Timer::Retry, self.timing.patience);
    }

    fn on_promise(&mut self, from: Rank, b: Ballot, acc: Option<(Ballot, Value)>, ctx: &mut C) {
        let majority = self.majority();
        let layout = Arc::clone(&self.layout);
        let Some(p) = self.proposer.as_mut() else {
            return;
        };
        if let Some((ab, _)) = acc {
            p.max_round = p.max_round.max(ab.round);
        }
        if p.phase != Phase::Prepare || b != p.ballot || p.promised_by.contains(&from) {
            return;
        }
        insert_sorted(&mut p.promised_by, from);
        if acc.is_some_and(|(ab, _)| p.best.is_none_or(|(bb, _)| ab > bb)) {
            p.best = acc;
        }
        if p.promised_by.len() >= majority {
            // Adopt the value accepted in the highest ballot, if any: the heart of Paxos.
            let v = p
                .best
                .map(|(_, v)| v)
                .or(p.value)
                .expect("a proposer with a ballot has a value");
            p.proposal = Some(v);
            p.phase = Phase::Accept;
            let b = p.ballot;
            ctx.note(match p.best {
                Some((ab, _)) if p.value != Some(v) => {
                    format!("adopts {v} of ({}, {})", ab.round, ab.rank)
                }
                _ => format!("accept ({}, {}) {v}", b.round, b.rank),
            });
            ctx.send_to_group(
                layout.acceptors.iter().copied(),
                &Msg::Accept { b: p.ballot, v },
            );
            ctx.set_timer(Timer::Resend, self.timing.resend);
        }
    }

    fn on_accepted_as_proposer(&mut self, from: Rank, b: Ballot, v: Value, ctx: &mut C) {
        let majority = self.majority();
        let Some(p) = self.proposer.as_mut() else {
            return;
        };
        if p.phase != Phase::Accept || b != p.ballot || p.accepted_by.contains(&from) {
            return;
        }
        insert_sorted(&mut p.accepted_by, from);
        if p.accepted_by.len() >= majority {
            self.decide(v, Source::ProposerQuorum, ctx);
        }
    }

    fn on_nack(&mut self, b: Ballot, promised: Ballot, ctx: &mut C) {
        let backoff = self.timing.backoff;
        let Some(p) = self.proposer.as_mut() else {
            return;
        };
        p.max_round = p.max_round.max(promised.round);
        if b != p.ballot || !matches!(p.phase, Phase::Prepare | Phase::Accept) {
            return;
        }
        // Abortable consensus: give this ballot up and retry higher after a random wait, so
        // that dueling proposers fall out of step.
        p.nacks += 1;
        p.phase = Phase::Idle;
        ctx.cancel_timer(Timer::Resend);
        let wait = Duration::from_micros(ctx.rng().gen_range(0..=backoff.as_micros() as u64));
        ctx.set_timer(Timer::Retry, wait);
    }

    fn on_resend(&mut self, ctx: &mut C) {
        let layout = Arc::clone(&self.layout);
        let acceptors = layout.acceptors.iter().copied();
        let resend = self.timing.resend;
        let Some(p) = self.proposer.as_ref() else {
            return;
        };
        match p.phase {
            Phase::Prepare => {
                let to = acceptors.filter(|a| !p.promised_by.contains(a));
                ctx.send_to_group(to, &Msg::Prepare(p.ballot));
            }
            Phase::Accept => {
                let v = p.proposal.expect("phase 2 has a proposal");
                let to = acceptors.filter(|a| !p.accepted_by.contains(a));
                ctx.send_to_group(to, &Msg::Accept { b: p.ballot, v });
            }
            // No value yet: ask whether it is already decided.
            Phase::Idle if p.value.is_none() => {
                ctx.send_to_group(layout.learners.iter().copied(), &Msg::Query)
            }
            Phase::Idle | Phase::Decided => {}
        }
        if p.phase != Phase::Decided {
            ctx.set_timer(Timer::Resend, resend);
        }
    }

    // ---- acceptor ----

    fn on_prepare(&mut self, from: Rank, b: Ballot, ctx: &mut C) {
        let Some(a) = self.acceptor.as_mut() else {
            return;
        };
        match a.promised {
            Some(p) if b < p => ctx.send(from, Msg::Nack { b, promised: p }),
            _ => {
                a.promised = Some(b);
                ctx.send(
                    from,
                    Msg::Promise {
                        b,
                        accepted: a.accepted,
                    },
                );
            }
        }
    }

    fn on_accept(&mut self, from: Rank, b: Ballot, v: Value, ctx: &mut C) {
        let layout = Arc::clone(&self.layout);
        let Some(a) = self.acceptor.as_mut() else {
            return;
        };
        match a.promised {
            Some(p) if b < p => ctx.send(from, Msg::Nack { b, promised: p }),
            _ => {
                a.promised = Some(b);
                a.accepted = Some((b, v));
                let proposer = (!layout.learners.contains(&from)).then_some(from);
                let to = layout.learners.iter().copied().chain(proposer);
                ctx.send_to_group(to, &Msg::Accepted { b, v });
            }
        }
    }

    // ---- learner ----

    fn on_accepted_as_learner(&mut self, from: Rank, b: Ballot, v: Value, ctx: &mut C) {
        let majority = self.majority();
        let Some(l) = self.learner.as_mut() else {
            return;
        };
        // Kept sorted, so that equal knowledge is one state for the model checker.
        let i = match l.votes.binary_search_by(|(vb, _, _)| vb.cmp(&b)) {
            Ok(i) => i,
            Err(i) => {
                l.votes.insert(i, (b, v, Vec::new()));
                i
            }
        };
        let who = &mut l.votes[i].2;
        if !who.contains(&from) {
            insert_sorted(who, from);
        }
        if who.len() >= majority {
            self.decide(v, Source::LearnerQuorum, ctx);
        }
    }

    // ---- every role ----

    /// `v` is decided: record it in each role of this rank that does not know it yet (a
    /// colocated rank decides once per role), tell whoever still needs it, stop the timers.
    fn decide(&mut self, v: Value, source: Source, ctx: &mut C) {
        let now = ctx.now().as_micros() as u64;
        let me = self.me;
        let layout = Arc::clone(&self.layout);
        let mut noted = false;
        let mut note = |ctx: &mut C| {
            if !std::mem::replace(&mut noted, true) {
                ctx.note(format!("decided {v}"));
            }
        };
        if let Some(c) = self.client.as_mut().filter(|c| c.heard.is_empty()) {
            c.heard.push((v, now));
            note(ctx);
        }
        let mut tell: Vec<Rank> = Vec::new();
        if let Some(l) = self.learner.as_mut().filter(|l| l.learned.is_empty()) {
            l.learned.push((v, now));
            note(ctx);
            tell.extend(&layout.clients);
        }
        if let Some(p) = self.proposer.as_mut().filter(|p| p.decided.is_empty()) {
            p.decided.push((v, now));
            p.phase = Phase::Decided;
            note(ctx);
            ctx.cancel_timer(Timer::Resend);
            ctx.cancel_timer(Timer::Retry);
            if source == Source::ProposerQuorum {
                // Learners and clients would learn it anyway; telling them saves a round trip.
                tell.extend(layout.learners.iter().chain(&layout.clients));
            }
        }
        tell.sort_unstable();
        tell.dedup();
        ctx.send_to_group(tell.into_iter().filter(|&r| r != me), &Msg::Decided(v));
        ctx.cancel_timer(Timer::Ask);
    }

    /// The deadline passed without a decision: stop asking and retrying (the acceptor role
    /// keeps answering), so that a run the fault plan cannot decide still ends.
    fn give_up(&mut self, ctx: &mut C) {
        if self.decided_everywhere() {
            return;
        }
        self.gave_up = true;
        ctx.note("gave up".to_string());
        for t in [Timer::Resend, Timer::Retry, Timer::Ask] {
            ctx.cancel_timer(t);
        }
    }

    // ---- client ----

    fn client_ask(&mut self, ctx: &mut C) {
        let Some(c) = self.client.as_ref() else {
            return;
        };
        let Some(v) = c.value else { return };
        if !c.heard.is_empty() {
            return;
        }
        ctx.send_to_group(self.layout.proposers.iter().copied(), &Msg::Propose(v));
        ctx.send_to_group(self.layout.learners.iter().copied(), &Msg::Query);
        ctx.set_timer(Timer::Ask, self.timing.resend * 2);
    }

    fn learner_ask(&mut self, ctx: &mut C) {
        if self.learner.as_ref().is_some_and(|l| l.learned.is_empty()) {
            ctx.send_to_group(self.layout.acceptors.iter().copied(), &Msg::Query);
            ctx.set_timer(Timer::Ask, self.timing.resend * 2);
        }
    }

    /// Every role of this rank that waits for the decision has it.
    fn decided_everywhere(&self) -> bool {
        self.client.as_ref().is_none_or(|c| !c.heard.is_empty())
            && self.learner.as_ref().is_none_or(|l| !l.learned.is_empty())
            && self.proposer.as_ref().is_none_or(|p| !p.decided.is_empty())
    }

    fn decided(&self) -> Option<Value> {
        let p = self.proposer.as_ref().and_then(|p| p.decided.first());
        let l = self.learner.as_ref().and_then(|l| l.learned.first());
        p.or(l).map(|d| d.0)
    }
}

impl Process for Paxos {
    type Msg = Msg;
    type Timer = Timer;
    type Output = Output;

    fn on_start(&mut self, ctx: &mut C) {
        if let Some(c) = self.client.as_mut() {
            c.value = Some((self.me as u64 + 1) * 1000 + ctx.rng().gen_range(0..1000));
        }
        if self.client.is_some() {
            self.client_ask(ctx);
        } else if self.learner.is_some() {
            ctx.set_timer(Timer::Ask, self.timing.resend * 2);
        }
        if self.proposer.is_some() {
            ctx.set_timer(Timer::Resend, self.timing.resend);
        }
        if !self.decided_everywhere() {
            ctx.set_timer(Timer::GiveUp, self.timing.give_up);
        }
    }

    fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut C) {
        match msg {
            Msg::Propose(v) => {
                if let Some(d) = self.proposer.as_ref().and_then(|p| p.decided.first()) {
                    ctx.send(from, Msg::Decided(d.0));
                    return;
                }
                if let Some(p) = self.proposer.as_mut() {
                    if p.value.is_none() {
                        p.value = Some(v);
                        if p.phase == Phase::Idle {
                            self.start_ballot(ctx);
                        }
                    }
                }
            }
            Msg::Prepare(b) => {
                self.on_prepare(from, b, ctx);
                if self.acceptor.as_ref().is_some_and(|a| a.accept_in_phase1) {
                    // The C original's bug, for the checkers' tests: accept on Prepare.
                    let v = 1_000_000 + b.round;
                    self.on_accept(from, b, v, ctx);
                }
            }
            Msg::Promise { b, accepted } => self.on_promise(from, b, accepted, ctx),
            Msg::Accept { b, v } => self.on_accept(from, b, v, ctx),
            Msg::Accepted { b, v } => {
                if self.layout.acceptors.contains(&from) {
                    self.on_accepted_as_proposer(from, b, v, ctx);
                    self.on_accepted_as_learner(from, b, v, ctx);
                }
            }
            Msg::Nack { b, promised } => self.on_nack(b, promised, ctx),
            Msg::Query => {
                if let Some(v) = self.decided() {
                    ctx.send(from, Msg::Decided(v));
                } else if let Some((b, v)) = self.acceptor.as_ref().and_then(|a| a.accepted) {
                    if self.layout.learners.contains(&from) {
                        ctx.send(from, Msg::Accepted { b, v });
                    }
                }
            }
            Msg::Decided(v) => {
                // Only a proposer that saw a majority, or a learner that did, sends this.
                self.decide(v, Source::Told, ctx);
            }
        }
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut C) {
        if self.gave_up {
            return;
        }
        match timer {
            Timer::GiveUp => self.give_up(ctx),
            Timer::Resend => self.on_resend(ctx),
            Timer::Retry => {
                if self
                    .proposer
                    .as_ref()
                    .is_some_and(|p| p.phase != Phase::Decided)
                {
                    self.start_ballot(ctx);
                }
            }
            Timer::Ask => {
                self.client_ask(ctx);
                self.learner_ask(ctx);
            }
        }
    }

    fn is_done(&self) -> bool {
        self.gave_up || self.decided_everywhere()
    }

    fn output(&self) -> Output {
        let t = |v: &Vec<(Value, u64)>| v.iter().map(|&(x, us)| (x, us as f64 / 1e3)).collect();
        Output {
            proposed: self.client.as_ref().and_then(|c| c.value),
            heard: self
                .client
                .as_ref()
                .map(|c| t(&c.heard))
                .unwrap_or_default(),
            learned: self
                .learner
                .as_ref()
                .map(|l| t(&l.learned))
                .unwrap_or_default(),
            decided: self
                .proposer
                .as_ref()
                .map(|p| t(&p.decided))
                .unwrap_or_default(),
            ballots: self.proposer.as_ref().map_or(0, |p| p.ballots),
            nacks: self.proposer.as_ref().map_or(0, |p| p.nacks),
            accepted: self.acceptor.as_ref().and_then(|a| a.accepted),
            gave_up: self.gave_up,
        }
    }
}
