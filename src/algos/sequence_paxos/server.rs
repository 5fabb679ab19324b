//! The server: follower, candidate or leader of Sequence Paxos over a replicated log.

use std::collections::HashMap;
use std::sync::Arc;

use super::messages::{Accept, AcceptSync, Accepted, Nack, Peer, PeerTimer, Prepare, Promise};
use super::{Config, Entry, Msg, SequencePaxos, ServerReport};
use crate::shared::clients::CommandId;
use crate::shared::election::{election_delay, Ballot};
use crate::shared::quorum::quorum_index;
use crate::shared::service::{CtxOf, Redirect, Reply, Request, ServerRole};
use crate::shared::Rank;

type C<'a> = CtxOf<'a, SequencePaxos>;

const ZERO: Ballot = Ballot { round: 0, rank: 0 };

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    /// Prepare sent with its own ballot; collecting promises.
    Candidate,
    Leader,
}

/// A promise as the candidate keeps it.
#[derive(Debug, Clone)]
struct PromiseInfo {
    from: Rank,
    acc_rnd: Ballot,
    log_len: usize,
    decided: usize,
    /// The promiser's log from the candidate's decided index on.
    suffix: Vec<Entry>,
}

/// A server rank.
#[derive(Debug, Clone)]
pub struct Server {
    pub me: Rank,
    cfg: Arc<Config>,
    pub role: Role,
    /// Highest ballot promised (the leader's own ballot while it leads).
    pub promised: Ballot,
    /// Ballot in which the log was last synchronized (accepted).
    pub acc_rnd: Ballot,
    pub log: Vec<Entry>,
    /// `log[..decided]` is decided.
    pub decided: usize,
    /// Where each command of the log is (deduplication).
    ids: HashMap<CommandId, usize>,
    /// The leader this rank follows, when it knows it.
    pub leader: Option<Rank>,
    max_round: u64,
    // Candidate.
    promises: Vec<PromiseInfo>,
    // Leader, indexed by server rank: the promise's decided index, how far the follower
    // accepted in this ballot (None before it accepted the sync), and that at the last tick.
    promised_by: Vec<bool>,
    their_decided: Vec<usize>,
    acked: Vec<Option<usize>>,
    acked_at_tick: Vec<Option<usize>>,
    /// (µs, ballot) each time it became leader.
    pub led: Vec<(u64, Ballot)>,
    pub gave_up: bool,
}

impl Server {
    pub fn new(me: Rank, cfg: Arc<Config>) -> Self {
        let s = cfg.servers;
        Server {
            me,
            role: Role::Follower,
            promised: ZERO,
            acc_rnd: ZERO,
            log: Vec::new(),
            decided: 0,
            ids: HashMap::new(),
            leader: None,
            max_round: 0,
            promises: Vec::new(),
            promised_by: vec![false; s],
            their_decided: vec![0; s],
            acked: vec![None; s],
            acked_at_tick: vec![None; s],
            led: Vec::new(),
            gave_up: false,
            cfg,
        }
    }

    fn quorum(&self) -> usize {
        self.cfg.quorum
    }

    fn others(&self) -> impl Iterator<Item = Rank> + '_ {
        (0..self.cfg.servers).filter(move |&r| r != self.me)
    }

    fn arm_election(&self, ctx: &mut C, first: bool) {
        let after = election_delay(self.me, first, self.cfg.election, ctx.rng());
        ctx.set_timer(PeerTimer::Election, after);
    }

    // ---- the log ----

    fn truncate(&mut self, len: usize) {
        for e in self.log.drain(len.min(self.log.len())..) {
            self.ids.remove(&e.id);
        }
    }

    fn append(&mut self, entries: &[Entry]) {
        for e in entries {
            self.ids.insert(e.id, self.log.len());
            self.log.push(*e);
        }
    }

    /// Append what `entries` (the leader's log from `start`, in this ballot) has beyond ours.
    fn extend(&mut self, start: usize, entries: &[Entry]) {
        let len = self.log.len();
        if start <= len && start + entries.len() > len {
            self.append(&entries[len - start..]);
        }
    }

    fn learn_decided(&mut self, d: usize) {
        self.decided = self.decided.max(d.min(self.log.len()));
    }

    // ---- election (phase 1) ----

    fn on_election_timeout(&mut self, ctx: &mut C) {
        if self.role == Role::Leader {
            return;
        }
        self.max_round = self.max_round.max(self.promised.round) + 1;
        let b = Ballot {
            round: self.max_round,
            rank: self.me,
        };
        self.role = Role::Candidate;
        self.promised = b;
        self.leader = None;
        self.promises = vec![PromiseInfo {
            from: self.me,
            acc_rnd: self.acc_rnd,
            log_len: self.log.len(),
            decided: self.decided,
            suffix: Vec::new(),
        }];
        ctx.note(format!("candidate ({}, {})", b.round, b.rank));
        let prepare = Prepare {
            b,
            decided: self.decided,
        };
        let to: Vec<Rank> = self.others().collect();
        ctx.send_to_group(to, &prepare);
        self.arm_election(ctx, false);
        if self.promises.len() >= self.quorum() {
            self.become_leader(ctx);
        }
    }

    /// Note the round, and answer a ballot below the one promised with `Nack`: true if so.
    fn refuse_lower(&mut self, from: Rank, b: Ballot, ctx: &mut C) -> bool {
        self.max_round = self.max_round.max(b.round);
        if b < self.promised {
            let promised = self.promised;
            ctx.send(from, Nack { promised });
        }
        b < self.promised
    }

    fn on_prepare(&mut self, from: Rank, m: Prepare, ctx: &mut C) {
        let Prepare {
            b,
            decided: their_decided,
        } = m;
        if self.refuse_lower(from, b, ctx) {
            return;
        }
        if b > self.promised {
            if self.role != Role::Follower {
                ctx.note("follower".to_string());
            }
            self.promised = b;
            self.role = Role::Follower;
            self.leader = None;
            ctx.cancel_timer(PeerTimer::Heartbeat);
        }
        let suffix = self.log.get(their_decided..).unwrap_or_default().to_vec();
        ctx.send(
            from,
            Promise {
                b,
                acc_rnd: self.acc_rnd,
                log_len: self.log.len(),
                decided: self.decided,
                suffix,
            },
        );
        self.arm_election(ctx, false);
    }

    fn on_promise(&mut self, from: Rank, p: Promise, ctx: &mut C) {
        let b = p.b;
        if b != self.promised || b.rank != self.me {
            return;
        }
        match self.role {
            Role::Candidate => {
                if self.promises.iter().any(|q| q.from == from) {
                    return;
                }
                self.promises.push(PromiseInfo {
                    from,
                    acc_rnd: p.acc_rnd,
                    log_len: p.log_len,
                    decided: p.decided,
                    suffix: p.suffix,
                });
                if self.promises.len() >= self.quorum() {
                    self.become_leader(ctx);
                }
            }
            Role::Leader if !self.promised_by[from] => {
                // A late promise: synchronize this follower too.
                self.promised_by[from] = true;
                self.their_decided[from] = p.decided;
                self.send_sync(from, ctx);
            }
            _ => {}
        }
    }

    fn become_leader(&mut self, ctx: &mut C) {
        let b = self.promised;
        // The log accepted in the highest ballot, longest among those, holds every chosen
        // entry (a majority accepted each, and this majority intersects it).
        let best = self
            .promises
            .iter()
            .max_by_key(|p| (p.acc_rnd, p.log_len, p.from == self.me))
            .expect("a candidate promised itself")
            .clone();
        if best.from != self.me {
            let d = self.decided;
            self.truncate(d);
            self.append(&best.suffix);
        }
        self.acc_rnd = b;
        self.role = Role::Leader;
        self.leader = Some(self.me);
        self.led.push((ctx.now().as_micros() as u64, b));
        ctx.note(format!("leader ({}, {})", b.round, b.rank));
        ctx.cancel_timer(PeerTimer::Election);
        let n = self.cfg.servers;
        self.promised_by = vec![false; n];
        self.their_decided = vec![0; n];
        self.acked = vec![None; n];
        self.acked_at_tick = vec![None; n];
        self.acked[self.me] = Some(self.log.len());
        self.promised_by[self.me] = true;
        for p in std::mem::take(&mut self.promises) {
            if p.from != self.me {
                self.promised_by[p.from] = true;
                self.their_decided[p.from] = p.decided;
                self.send_sync(p.from, ctx);
            }
        }
        ctx.set_timer(PeerTimer::Heartbeat, self.cfg.heartbeat);
        self.advance_decided(ctx);
    }

    fn send_sync(&mut self, to: Rank, ctx: &mut C) {
        let from = self.their_decided[to].min(self.log.len());
        ctx.send(
            to,
            AcceptSync {
                b: self.promised,
                from,
                entries: self.log[from..].to_vec(),
                decided: self.decided,
            },
        );
    }

    fn on_nack(&mut self, m: Nack, ctx: &mut C) {
        let promised = m.promised;
        self.max_round = self.max_round.max(promised.round);
        if self.role != Role::Follower && promised > self.promised {
            self.role = Role::Follower;
            self.leader = None;
            ctx.note("follower".to_string());
            ctx.cancel_timer(PeerTimer::Heartbeat);
            self.arm_election(ctx, false);
        }
    }

    // ---- replication (phase 2) ----

    fn on_accept_sync(&mut self, from: Rank, m: AcceptSync, ctx: &mut C) {
        if self.refuse_lower(from, m.b, ctx) || m.b != self.promised {
            return;
        }
        if self.acc_rnd == m.b {
            // A resent or duplicated sync of the ballot we already follow: it may only extend
            // the log (truncating would drop entries we acknowledged since).
            self.extend(m.from, &m.entries);
        } else {
            // Never drop a decided entry: the leader's copy of it is the same.
            let start = m.from.max(self.decided);
            let skip = start - m.from;
            if skip <= m.entries.len() {
                self.truncate(start);
                self.append(&m.entries[skip..]);
            }
        }
        self.acc_rnd = m.b;
        self.leader = Some(from);
        self.learn_decided(m.decided);
        // Always answered, a repeat too: the leader resends a sync until it hears this.
        ctx.send(
            from,
            Accepted {
                b: m.b,
                len: self.log.len(),
            },
        );
        self.arm_election(ctx, false);
    }

    fn on_accept(&mut self, from: Rank, m: Accept, ctx: &mut C) {
        let Accept {
            b,
            start,
            entries,
            decided,
        } = m;
        if self.refuse_lower(from, b, ctx) {
            return;
        }
        // A live leader of this or a higher ballot: no election now.
        self.arm_election(ctx, false);
        if b > self.promised || self.acc_rnd != b {
            // Its Prepare or AcceptSync did not reach us yet; the leader resends them.
            return;
        }
        self.leader = Some(from);
        let len = self.log.len();
        self.extend(start, &entries);
        self.learn_decided(decided);
        // Acknowledge entries (a resend too: our first answer may have been lost), and answer a
        // gap (a lost Accept) with where we are; a bare heartbeat needs no answer.
        if !entries.is_empty() || start > len {
            ctx.send(
                from,
                Accepted {
                    b,
                    len: self.log.len(),
                },
            );
        }
    }

    fn on_accepted(&mut self, from: Rank, m: Accepted, ctx: &mut C) {
        let Accepted { b, len } = m;
        if self.role != Role::Leader || b != self.promised {
            return;
        }
        let a = &mut self.acked[from];
        *a = Some(a.unwrap_or(0).max(len));
        self.advance_decided(ctx);
    }

    /// Decide what a majority accepted in this ballot, and answer its clients.
    fn advance_decided(&mut self, ctx: &mut C) {
        let d = quorum_index(self.acked.iter().map(|a| a.unwrap_or(0)), self.quorum())
            .min(self.log.len());
        if d <= self.decided {
            return;
        }
        let from = self.decided;
        self.decided = d;
        // One reply per client for the whole range.
        let mut by_client: Vec<(u32, Vec<(u32, ())>)> = Vec::new();
        for e in &self.log[from..d] {
            match by_client.iter_mut().find(|(c, _)| *c == e.id.client) {
                Some((_, seqs)) => seqs.push((e.id.seq, ())),
                None => by_client.push((e.id.client, vec![(e.id.seq, ())])),
            }
        }
        for (c, seqs) in by_client {
            ctx.send(c as Rank, Msg::Reply(Reply(seqs)));
        }
        if self.is_done() {
            // Everything is decided: tell the followers now, as heartbeats stop. One that
            // misses it stands for election and learns it from the next leader's sync.
            let hb = Accept {
                b: self.promised,
                start: self.log.len(),
                entries: Vec::new(),
                decided: self.decided,
            };
            let to: Vec<Rank> = self.others().collect();
            ctx.send_to_group(to, &hb);
        }
    }

    /// Send new log entries `[from..]` to every synchronized follower, `batch` per Accept.
    fn replicate(&mut self, from: usize, ctx: &mut C) {
        let b = self.promised;
        let batch = self.cfg.batch;
        for f in 0..self.cfg.servers {
            if f == self.me || self.acked[f].is_none() {
                continue;
            }
            let mut i = from;
            while i < self.log.len() {
                let j = (i + batch).min(self.log.len());
                ctx.send(
                    f,
                    Accept {
                        b,
                        start: i,
                        entries: self.log[i..j].to_vec(),
                        decided: self.decided,
                    },
                );
                i = j;
            }
        }
    }

    fn on_heartbeat(&mut self, ctx: &mut C) {
        if self.role != Role::Leader {
            return;
        }
        let b = self.promised;
        for f in 0..self.cfg.servers {
            if f == self.me {
                continue;
            }
            if !self.promised_by[f] {
                ctx.send(
                    f,
                    Prepare {
                        b,
                        decided: self.decided,
                    },
                );
            } else if self.acked[f].is_none() {
                self.send_sync(f, ctx);
            } else {
                let a = self.acked[f].unwrap_or(0);
                let stalled = a < self.log.len() && self.acked_at_tick[f] == self.acked[f];
                // Resend what was not acknowledged since the last tick; else a heartbeat that
                // carries the decided index.
                let (start, end) = if stalled {
                    (a, (a + self.cfg.batch.max(1024)).min(self.log.len()))
                } else {
                    (self.log.len(), self.log.len())
                };
                ctx.send(
                    f,
                    Accept {
                        b,
                        start,
                        entries: self.log[start..end].to_vec(),
                        decided: self.decided,
                    },
                );
            }
        }
        self.acked_at_tick = self.acked.clone();
        if !self.is_done() {
            ctx.set_timer(PeerTimer::Heartbeat, self.cfg.heartbeat);
        }
    }

    // ---- clients ----

    fn on_client_request(&mut self, client: Rank, cmds: Vec<(u32, u64)>, ctx: &mut C) {
        if self.role != Role::Leader {
            let leader = self.leader.filter(|_| self.acc_rnd == self.promised);
            ctx.send(client, Msg::Redirect(Redirect { leader }));
            return;
        }
        let from = self.log.len();
        let mut already = Vec::new();
        for (seq, payload) in cmds {
            let id = CommandId {
                client: client as u32,
                seq,
            };
            match self.ids.get(&id) {
                // Decided before: answer again (the first answer was lost).
                Some(&i) if i < self.decided => already.push((seq, ())),
                // In the log, not decided yet: it will be answered.
                Some(_) => {}
                None => self.append(&[Entry { id, payload }]),
            }
        }
        if !already.is_empty() {
            ctx.send(client, Msg::Reply(Reply(already)));
        }
        self.acked[self.me] = Some(self.log.len());
        self.replicate(from, ctx);
        self.advance_decided(ctx);
    }
}

impl ServerRole for Server {
    type S = SequencePaxos;
    type Report = ServerReport;

    fn on_start(&mut self, ctx: &mut C) {
        self.arm_election(ctx, true);
    }

    fn on_request(&mut self, client: Rank, req: Request<u64>, ctx: &mut C) {
        if client >= self.cfg.servers {
            self.on_client_request(client, req.cmds, ctx);
        }
    }

    fn on_peer(&mut self, from: Rank, msg: Peer, ctx: &mut C) {
        if from >= self.cfg.servers {
            return;
        }
        match msg {
            Peer::Prepare(m) => self.on_prepare(from, m, ctx),
            Peer::Promise(m) => self.on_promise(from, m, ctx),
            Peer::Nack(m) => self.on_nack(m, ctx),
            Peer::AcceptSync(m) => self.on_accept_sync(from, m, ctx),
            Peer::Accept(m) => self.on_accept(from, m, ctx),
            Peer::Accepted(m) => self.on_accepted(from, m, ctx),
        }
    }

    fn on_timer(&mut self, t: PeerTimer, ctx: &mut C) {
        if self.is_done() {
            return;
        }
        match t {
            PeerTimer::Election => self.on_election_timeout(ctx),
            PeerTimer::Heartbeat => self.on_heartbeat(ctx),
        }
    }

    fn progress(&self) -> u64 {
        (self.decided + self.log.len()) as u64
    }

    fn give_up(&mut self, ctx: &mut C) {
        self.gave_up = true;
        for t in [PeerTimer::Election, PeerTimer::Heartbeat] {
            ctx.cancel_timer(t);
        }
    }

    fn is_done(&self) -> bool {
        // Every client's every command is decided (servers do not know of client crashes: a
        // crashed client's servers stop at `--give-up`, after that long without progress).
        self.gave_up || self.decided >= self.cfg.clients * self.cfg.requests as usize
    }

    fn leads(&self) -> bool {
        self.role == Role::Leader
    }

    fn report(&self) -> ServerReport {
        ServerReport {
            decided: self.log[..self.decided].iter().map(|e| e.id).collect(),
            log_len: self.log.len(),
            led: self
                .led
                .iter()
                .map(|&(us, b)| (us as f64 / 1e3, b.round))
                .collect(),
            leader_at_end: self.role == Role::Leader,
            gave_up: self.gave_up,
        }
    }
}
