//! A client: the coordinator of its own operations (ABD). Each operation runs a query phase at
//! a read quorum of its key's group, then, for a put or a read that must repair, a store phase
//! at a write quorum; at most `--inflight` operations are pending at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::ring::key_name;
use super::{ClientReport, Config, Msg, OpRecord, Stored, Timer, Version};
use crate::shared::progress::Watchdog;
use crate::shared::{Ctx, Rank};

type C<'a> = Ctx<'a, Msg, Timer>;

/// How often a client tells the servers it is finished before it stops asking.
const FINISH_TRIES: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Query,
    Store(Version, Vec<u8>),
}

#[derive(Debug, Clone)]
struct Pending {
    rec: OpRecord,
    name: String,
    group: Vec<Rank>,
    phase: Phase,
    /// Replicas that answered the current phase.
    answered: Vec<Rank>,
    /// Query phase: the highest version seen and how many answers had it (`None`: empty).
    best: Option<Stored>,
    at_best: usize,
    steps_at_invoke: u64,
    sent_us: u64,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub me: Rank,
    cfg: Arc<Config>,
    next_seq: u32,
    /// Lamport clock: above every version this client has seen or written.
    clock: u64,
    pending: BTreeMap<u32, Pending>,
    /// Finished operations, in invoke order once sorted by `report`.
    done: Vec<OpRecord>,
    /// After the last operation, with anti-entropy on: servers yet to acknowledge `Finished`.
    unacked: Option<(BTreeSet<Rank>, u32)>,
    gave_up: bool,
    /// Gives up after `--give-up` without completing an operation.
    watch: Watchdog,
}

impl Client {
    pub fn new(me: Rank, cfg: Arc<Config>) -> Self {
        Client {
            me,
            cfg,
            next_seq: 0,
            clock: 0,
            pending: BTreeMap::new(),
            done: Vec::new(),
            unacked: None,
            gave_up: false,
            watch: Watchdog::new(Duration::ZERO, Duration::ZERO),
        }
    }

    fn ops_over(&self) -> bool {
        self.next_seq == self.cfg.ops && self.pending.is_empty()
    }

    pub fn is_done(&self) -> bool {
        self.gave_up
            || (self.ops_over()
                && (self.cfg.anti_entropy.is_none()
                    || self
                        .unacked
                        .as_ref()
                        .is_some_and(|(u, tries)| u.is_empty() || *tries >= FINISH_TRIES)))
    }

    /// A put's value: its id, unique in the run, padded to `--value-bytes`.
    fn value_of(&self, seq: u32) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.cfg.value_bytes);
        v.extend_from_slice(&(self.me as u32).to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(b"val:");
        v.resize(self.cfg.value_bytes.max(12), b'.');
        v
    }

    fn phase_msg(p: &Pending) -> Msg {
        let op = p.rec.seq;
        match &p.phase {
            Phase::Query => Msg::Query {
                op,
                key: p.name.clone(),
            },
            Phase::Store(version, value) => Msg::Store {
                op,
                key: p.name.clone(),
                version: *version,
                value: value.clone(),
            },
        }
    }

    fn submit(&mut self, ctx: &mut C) {
        let now = ctx.now().as_micros() as u64;
        while self.pending.len() < self.cfg.inflight && self.next_seq < self.cfg.ops {
            let seq = self.next_seq;
            self.next_seq += 1;
            let key = ctx.rng().gen_range(0..self.cfg.keys);
            let get = ctx.rng().gen_range(0..1000) < self.cfg.read_permille;
            let name = key_name(key);
            let p = Pending {
                rec: OpRecord {
                    seq,
                    key,
                    put: (!get).then(|| self.value_of(seq)),
                    got: None,
                    invoke_us: now,
                    return_us: None,
                    trips: 1,
                    steps: 0,
                    failed: None,
                },
                group: self.cfg.ring.group(&name),
                name,
                phase: Phase::Query,
                answered: Vec::new(),
                best: None,
                at_best: 0,
                steps_at_invoke: ctx.steps(),
                sent_us: now,
            };
            let msg = Self::phase_msg(&p);
            ctx.send_to_group(p.group.iter().copied(), &msg);
            self.pending.insert(seq, p);
        }
        if self.ops_over() && self.unacked.is_none() {
            ctx.note(format!("{} operations over", self.cfg.ops));
            if self.cfg.anti_entropy.is_some() {
                let all: BTreeSet<Rank> = (0..self.cfg.servers).collect();
                ctx.send_to_group(all.iter().copied(), &Msg::Finished);
                self.unacked = Some((all, 0));
            } else {
                self.unacked = Some((BTreeSet::new(), 0));
            }
            if self.is_done() {
                ctx.cancel_timer(Timer::Retry);
                ctx.cancel_timer(Timer::GiveUp);
            }
        }
    }

    /// Move `seq` to its store phase with `version` and `value`.
    fn store(&mut self, seq: u32, version: Version, value: Vec<u8>, ctx: &mut C) {
        let now = ctx.now().as_micros() as u64;
        let p = self.pending.get_mut(&seq).expect("pending");
        p.phase = Phase::Store(version, value);
        p.answered.clear();
        p.rec.trips += 1;
        p.sent_us = now;
        let msg = Self::phase_msg(p);
        ctx.send_to_group(p.group.iter().copied(), &msg);
    }

    fn complete(&mut self, seq: u32, ctx: &mut C) {
        let mut p = self.pending.remove(&seq).expect("pending");
        p.rec.return_us = Some(ctx.now().as_micros() as u64);
        p.rec.steps = ctx.steps().saturating_sub(p.steps_at_invoke) as u32;
        if p.rec.put.is_none() {
            p.rec.got = Some(p.best.map(|b| b.1));
        }
        self.done.push(p.rec);
        self.watch.saw(self.done.len() as u64, ctx.now());
        self.submit(ctx);
    }

    pub fn on_start(&mut self, ctx: &mut C) {
        self.watch = Watchdog::new(self.cfg.give_up, ctx.now());
        ctx.set_timer(Timer::Retry, self.cfg.retry);
        ctx.set_timer(Timer::GiveUp, self.cfg.give_up);
        self.submit(ctx);
    }

    pub fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut C) {
        if self.gave_up {
            return;
        }
        let (r, w) = (self.cfg.read_quorum, self.cfg.write_quorum);
        match msg {
            Msg::QueryResp { op, stored } => {
                let Some(p) = self.pending.get_mut(&op) else {
                    return;
                };
                if p.phase != Phase::Query || !p.group.contains(&from) || p.answered.contains(&from)
                {
                    return;
                }
                p.answered.push(from);
                let v = stored.as_ref().map(|s| s.0);
                match v.cmp(&p.best.as_ref().map(|b| b.0)) {
                    std::cmp::Ordering::Greater => {
                        p.best = stored;
                        p.at_best = 1;
                    }
                    std::cmp::Ordering::Equal => p.at_best += 1,
                    std::cmp::Ordering::Less => {}
                }
                if p.answered.len() < r {
                    return;
                }
                let top = p.best.as_ref().map(|b| b.0);
                self.clock = self.clock.max(top.map_or(0, |t| t.clock));
                if let Some(value) = p.rec.put.clone() {
                    self.clock += 1;
                    let version = Version {
                        clock: self.clock,
                        writer: self.me as u32,
                    };
                    self.store(op, version, value, ctx);
                } else if top.is_none() || p.at_best >= w {
                    // Already at a write quorum (or nothing written yet): no repair needed.
                    self.complete(op, ctx);
                } else {
                    let (version, value) = p.best.clone().expect("a version");
                    self.store(op, version, value, ctx);
                }
            }
            Msg::StoreAck { op } => {
                let Some(p) = self.pending.get_mut(&op) else {
                    return;
                };
                if !matches!(p.phase, Phase::Store(..))
                    || !p.group.contains(&from)
                    || p.answered.contains(&from)
                {
                    return;
                }
                p.answered.push(from);
                if p.answered.len() >= w {
                    self.complete(op, ctx);
                }
            }
            Msg::FinishedAck => {
                if let Some((u, _)) = &mut self.unacked {
                    u.remove(&from);
                }
                if self.is_done() {
                    ctx.cancel_timer(Timer::Retry);
                    ctx.cancel_timer(Timer::GiveUp);
                }
            }
            _ => {}
        }
    }
}

/// The replicas of `p`'s group that have not answered its current phase.
fn silent(p: &Pending) -> Vec<Rank> {
    p.group
        .iter()
        .copied()
        .filter(|r| !p.answered.contains(r))
        .collect()
}

impl Client {
    /// Why `p` is stuck: its phase, who answered, who did not.
    fn why(&self, p: &Pending, after: &str) -> String {
        let (phase, need) = match p.phase {
            Phase::Query => ("query", self.cfg.read_quorum),
            Phase::Store(..) => ("store", self.cfg.write_quorum),
        };
        format!(
            "{after}: {phase} phase had {} of the {} answers it needs from group {:?}; silent: {:?}",
            p.answered.len(),
            need,
            p.group,
            silent(p)
        )
    }

    pub fn on_timer(&mut self, t: Timer, ctx: &mut C) {
        if self.is_done() {
            return;
        }
        let now = ctx.now().as_micros() as u64;
        match t {
            Timer::Retry => {
                let timeout = self.cfg.op_timeout.as_micros() as u64;
                let retry = self.cfg.retry.as_micros() as u64;
                let expired: Vec<u32> = self
                    .pending
                    .values()
                    .filter(|p| now.saturating_sub(p.rec.invoke_us) >= timeout)
                    .map(|p| p.rec.seq)
                    .collect();
                for seq in expired {
                    let mut p = self.pending.remove(&seq).expect("pending");
                    let after = format!("timed out after {} ms", self.cfg.op_timeout.as_millis());
                    p.rec.failed = Some(self.why(&p, &after));
                    ctx.local(format!("op {seq} on {} timed out", p.name));
                    self.done.push(p.rec);
                }
                for p in self.pending.values_mut() {
                    if now.saturating_sub(p.sent_us) >= retry {
                        p.sent_us = now;
                        ctx.send_to_group(silent(p), &Self::phase_msg(p));
                    }
                }
                if let Some((u, tries)) = &mut self.unacked {
                    *tries += 1;
                    ctx.send_to_group(u.iter().copied(), &Msg::Finished);
                }
                self.submit(ctx);
                if !self.is_done() {
                    ctx.set_timer(Timer::Retry, self.cfg.retry);
                }
            }
            Timer::GiveUp => {
                if let Some(left) = self.watch.left(ctx.now()) {
                    ctx.set_timer(Timer::GiveUp, left);
                    return;
                }
                let after = format!(
                    "gave up after {} ms without completing an operation",
                    self.cfg.give_up.as_millis()
                );
                let stuck: Vec<u32> = self.pending.keys().copied().collect();
                for seq in stuck {
                    let mut p = self.pending.remove(&seq).expect("pending");
                    p.rec.failed = Some(self.why(&p, &after));
                    self.done.push(p.rec);
                }
                self.gave_up = true;
                ctx.note("gave up");
                ctx.cancel_timer(Timer::Retry);
            }
            Timer::AntiEntropy | Timer::Raft(_) => {}
        }
    }

    pub fn report(&self) -> ClientReport {
        let mut ops: Vec<OpRecord> = self.done.clone();
        // Still pending at the end (a crash): invoked, never returned.
        ops.extend(self.pending.values().map(|p| p.rec.clone()));
        ops.sort_by_key(|o| o.seq);
        ClientReport {
            ops,
            gave_up: self.gave_up,
        }
    }
}
