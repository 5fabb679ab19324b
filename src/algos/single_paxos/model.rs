//! Exhaustive exploration of the real single-decree Paxos state machine ([`Paxos`], the code
//! that runs under mpirun) on a tiny configuration: 2 proposers (ranks 0 and 1, values 10 and
//! 20), 3 acceptors (ranks 2 to 4) and, optionally, 1 learner (rank 5).
//!
//! The network is a set of messages: delivering one leaves it in the set, so every message may
//! be delivered any number of times (duplication), in any order (reordering), or never (loss).
//! A proposer's `Retry` timer, when armed, may fire at any moment (time is abstracted away,
//! which covers every timing). `Resend` is not fired: a proposer with a value only sends again
//! messages that are still in the set, so it adds no behaviour here; neither is the learner's
//! `Ask`, whose answers repeat what acceptors already sent it when they accepted (this leaves
//! out answers about a value accepted later, a path the pushes cover).
//!
//! A state is the processes, the network and the armed timers; breadth-first search visits every
//! state reachable from the start in at most `max_depth` steps (deliveries and timer firings),
//! and in each one asserts:
//! - validity: every decision, and every proposal (`Accept`) sent, is 10 or 20;
//! - agreement: no two decisions differ;
//! - the invariant behind agreement (P2b of "Paxos Made Simple"), on the messages sent: once a
//!   value is chosen in ballot b (accepted in b by a majority of the acceptors), every proposal
//!   of a higher ballot carries that value. This catches a wrong proposal when it is made, four
//!   steps before anyone could decide on it.
//!
//! Each proposer may start at most `max_ballots` ballots. The unbounded space is too large for
//! a test (the set network makes every subset of sent messages a different state: over 5
//! million states by depth 13 with 2 ballots each, and still growing at depth 18 with one
//! ballot each), so this is a bounded model check: complete for every interleaving of up to
//! `max_depth` steps. Depth 10 (the default, about 1.6 million states) covers a whole run of
//! one proposer (the search starts with both proposers' Prepare in flight; a value is chosen
//! after 6 steps, decided after 8), and the duel in which the second proposer, preparing after
//! the first's value was chosen, must adopt it (its `Accept` goes out at step 10). It finds a
//! minority quorum's split decision at depth 6 and the C original's phase-1 accept at depth 5.
//!
//! A state is remembered by a 64-bit hash (a collision could only hide states, never report a
//! false violation).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use super::roles::{Paxos, Timing};
use super::{Layout, Msg, Timer, Value};
use crate::shared::election::Ballot;
use crate::shared::process::{effects_of, Ctx, Effect, Process, Rank};

/// What to explore.
#[derive(Debug, Clone, Copy)]
pub struct ModelConfig {
    /// Ballots each proposer may start.
    pub max_ballots: u32,
    /// Acceptances needed (2 of 3 is Paxos; 1 breaks it, which the search must find).
    pub quorum: usize,
    /// Acceptors accept in phase 1, as the C original did (the search must find the bug).
    pub accept_in_phase1: bool,
    /// Add a learner (rank 5): more messages, a much larger state space.
    pub learner: bool,
    /// Explore interleavings of at most this many steps (deliveries and timer firings).
    pub max_depth: usize,
    /// Stop after this many states (a safety net; the result says if it was hit).
    pub max_states: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            max_ballots: 2,
            quorum: 2,
            accept_in_phase1: false,
            learner: false,
            max_depth: 10,
            max_states: 5_000_000,
        }
    }
}

/// What the search found.
#[derive(Debug, Clone)]
pub struct ModelReport {
    pub states: usize,
    pub transitions: u64,
    pub max_depth: usize,
    /// States in which some value was decided.
    pub deciding_states: usize,
    /// The first violated property, and the depth (steps from the start) where it held.
    pub violation: Option<String>,
    pub complete: bool,
}

#[derive(Clone, Hash)]
struct State {
    procs: Vec<Paxos>,
    net: BTreeSet<(Rank, Rank, Msg)>,
    timers: Vec<BTreeSet<Timer>>,
}

const VALUES: [Value; 2] = [10, 20];
const ACCEPTORS: [Rank; 3] = [2, 3, 4];

fn hash_of(s: &State) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Run one handler of rank `r` and apply its effects to the state.
fn step(s: &mut State, r: Rank, f: impl FnOnce(&mut Paxos, &mut Ctx<Msg, Timer>)) {
    let np = s.procs.len();
    let effects = effects_of(&mut s.procs[r], r, np, f);
    for e in effects {
        match e {
            Effect::Send { to, msg } => {
                s.net.insert((r, to, msg));
            }
            Effect::SetTimer { timer, .. } => {
                s.timers[r].insert(timer);
            }
            Effect::CancelTimer(t) => {
                s.timers[r].remove(&t);
            }
            // Single-decree Paxos here is crash-stop: it persists nothing.
            Effect::Local(_)
            | Effect::Note(_)
            | Effect::Stamp(_)
            | Effect::DrawTicket
            | Effect::Persist(_) => {}
        }
    }
}

fn decisions(s: &State) -> Vec<(Rank, Value)> {
    let mut out = Vec::new();
    for (r, p) in s.procs.iter().enumerate() {
        if let Some(pr) = &p.proposer {
            out.extend(pr.decided.iter().map(|d| (r, d.0)));
        }
        if let Some(l) = &p.learner {
            out.extend(l.learned.iter().map(|d| (r, d.0)));
        }
    }
    out
}

fn violation(s: &State) -> Option<String> {
    let d = decisions(s);
    if let Some(&(r, v)) = d.iter().find(|(_, v)| !VALUES.contains(v)) {
        return Some(format!(
            "validity: rank {r} decided {v}, which no one proposed"
        ));
    }
    if let (Some(a), Some(b)) = (d.first(), d.iter().find(|x| x.1 != d[0].1)) {
        return Some(format!(
            "agreement: rank {} decided {} but rank {} decided {}",
            a.0, a.1, b.0, b.1
        ));
    }
    // The invariant behind agreement (P2b in "Paxos Made Simple"), checked on what was sent,
    // so that a wrong proposal is caught the moment it is made, before anyone decides on it:
    // once v is chosen in ballot b (accepted there by a majority), every proposal of a higher
    // ballot carries v.
    let mut accepted: BTreeMap<(Ballot, Value), BTreeSet<Rank>> = BTreeMap::new();
    for (from, _, msg) in &s.net {
        match msg {
            Msg::Accept { b, v } if !VALUES.contains(v) => {
                return Some(format!(
                    "validity: ballot ({}, {}) proposes {v}, which no one proposed",
                    b.round, b.rank
                ));
            }
            Msg::Accepted { b, v } => {
                accepted.entry((*b, *v)).or_default().insert(*from);
            }
            _ => {}
        }
    }
    let majority = ACCEPTORS.len() / 2 + 1;
    for ((cb, cv), _) in accepted.iter().filter(|(_, who)| who.len() >= majority) {
        for (_, _, msg) in &s.net {
            if let Msg::Accept { b, v } = msg {
                if b > cb && v != cv {
                    return Some(format!(
                        "agreement: {cv} was chosen in ballot ({}, {}) but ballot ({}, {}) proposes {v}",
                        cb.round, cb.rank, b.round, b.rank
                    ));
                }
            }
        }
    }
    None
}

fn initial(cfg: &ModelConfig) -> State {
    let layout = Arc::new(Layout {
        clients: vec![],
        proposers: vec![0, 1],
        acceptors: ACCEPTORS.to_vec(),
        learners: if cfg.learner { vec![5] } else { vec![] },
        quorum: cfg.quorum,
    });
    let timing = Timing {
        resend: Duration::from_millis(1),
        patience: Duration::from_millis(1),
        backoff: Duration::from_millis(1),
        give_up: Duration::from_millis(1),
    };
    let n = if cfg.learner { 6 } else { 5 };
    let mut s = State {
        procs: (0..n)
            .map(|r| {
                let mut p = Paxos::new(r, Arc::clone(&layout), timing);
                if let Some(pr) = p.proposer.as_mut() {
                    pr.max_ballots = cfg.max_ballots;
                }
                if let Some(a) = p.acceptor.as_mut() {
                    a.accept_in_phase1 = cfg.accept_in_phase1;
                }
                p
            })
            .collect(),
        net: BTreeSet::new(),
        timers: vec![BTreeSet::new(); n],
    };
    for r in 0..n {
        step(&mut s, r, |p, ctx| p.on_start(ctx));
    }
    // Each proposer got its client's value and sent Prepare for ballot (1, rank).
    for (r, v) in VALUES.iter().enumerate() {
        let v = *v;
        step(&mut s, r, |p, ctx| p.on_message(r, Msg::Propose(v), ctx));
    }
    s
}

/// Explore every reachable state of the configuration.
pub fn explore(cfg: ModelConfig) -> ModelReport {
    let start = initial(&cfg);
    let mut seen: HashSet<u64> = HashSet::new();
    seen.insert(hash_of(&start));
    let mut queue: VecDeque<(State, usize)> = VecDeque::new();
    queue.push_back((start, 0));
    let mut report = ModelReport {
        states: 1,
        transitions: 0,
        max_depth: 0,
        deciding_states: 0,
        violation: None,
        complete: true,
    };
    while let Some((s, depth)) = queue.pop_front() {
        report.max_depth = report.max_depth.max(depth);
        if let Some(v) = violation(&s) {
            report.violation = Some(format!("{v} (at depth {depth})"));
            return report;
        }
        if !decisions(&s).is_empty() {
            report.deciding_states += 1;
        }
        if depth >= cfg.max_depth {
            continue;
        }
        let mut next = Vec::new();
        for (from, to, msg) in &s.net {
            let mut n = s.clone();
            let (from, to, msg) = (*from, *to, msg.clone());
            step(&mut n, to, |p, ctx| p.on_message(from, msg, ctx));
            next.push(n);
        }
        for (r, timers) in s.timers.iter().enumerate() {
            for t in timers.iter().filter(|t| **t == Timer::Retry) {
                let mut n = s.clone();
                n.timers[r].remove(t);
                let t = *t;
                step(&mut n, r, |p, ctx| p.on_timer(t, ctx));
                next.push(n);
            }
        }
        for n in next {
            report.transitions += 1;
            if seen.insert(hash_of(&n)) {
                report.states += 1;
                if report.states >= cfg.max_states {
                    report.complete = false;
                    return report;
                }
                queue.push_back((n, depth + 1));
            }
        }
    }
    report
}
