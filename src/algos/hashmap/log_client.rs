//! The client of the Raft backend (`--backend raft`): the same workload as the ABD client, sent
//! as put/get commands to the Raft leader it believes in (redirected by followers, resent on
//! `--retry` to the next server when nothing came back), each operation recorded with its
//! interval for the same linearizability checker.
//!
//! Keys are the map's `key-i` by number, values the 8 bytes of the put's id (client, seq), so
//! that the checker reads them as it reads the ABD values' ids.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;

use super::{ClientReport, Config, OpRecord};
use crate::algos::raft::kv::Op;
use crate::algos::raft::{Msg, Raft, Timer};
use crate::shared::service::{
    ClientRole, ClientTimer, CtxOf, LeaderSeeker, Redirect, Redirected, Reply, Request,
    MAX_PER_REQUEST,
};
use crate::shared::Rank;

type C<'a> = CtxOf<'a, Raft>;

const RETRY: Timer = Timer::Client(ClientTimer::Retry);

#[derive(Debug, Clone)]
pub struct LogClient {
    pub me: Rank,
    cfg: Arc<Config>,
    next_seq: u32,
    /// Submitted, unanswered: seq -> (record, command, causal steps at invoke).
    pending: BTreeMap<u32, (OpRecord, Op, u64)>,
    done: Vec<OpRecord>,
    seek: LeaderSeeker,
    gave_up: bool,
}

/// A put's value: its id, client then seq, big-endian.
pub fn value_of(client: Rank, seq: u32) -> u64 {
    (client as u64) << 32 | seq as u64
}

impl LogClient {
    pub fn new(me: Rank, cfg: Arc<Config>) -> Self {
        LogClient {
            seek: LeaderSeeker::new(me, cfg.servers),
            me,
            cfg,
            next_seq: 0,
            pending: BTreeMap::new(),
            done: Vec::new(),
            gave_up: false,
        }
    }

    /// The lowest unanswered seq (the session's watermark at the servers).
    fn low(&self) -> u32 {
        self.pending.keys().next().copied().unwrap_or(self.next_seq)
    }

    fn send(&self, seqs: &[u32], ctx: &mut C) {
        let cmds: Vec<(u32, Op)> = seqs.iter().map(|s| (*s, self.pending[s].1)).collect();
        let low = self.low();
        for part in cmds.chunks(MAX_PER_REQUEST) {
            let cmds = part.to_vec();
            ctx.send(self.seek.leader(), Msg::Request(Request { low, cmds }));
        }
    }

    fn submit(&mut self, ctx: &mut C) {
        let now = ctx.now().as_micros() as u64;
        let mut new = Vec::new();
        while self.pending.len() < self.cfg.inflight && self.next_seq < self.cfg.ops {
            let seq = self.next_seq;
            self.next_seq += 1;
            let key = ctx.rng().gen_range(0..self.cfg.keys);
            let get = ctx.rng().gen_range(0..1000) < self.cfg.read_permille;
            let value = value_of(self.me, seq);
            let op = if get {
                Op::Get { key }
            } else {
                Op::Put { key, value }
            };
            let rec = OpRecord {
                seq,
                key,
                put: (!get).then(|| value.to_be_bytes().to_vec()),
                got: None,
                invoke_us: now,
                return_us: None,
                trips: 1,
                steps: 0,
                failed: None,
            };
            self.pending.insert(seq, (rec, op, ctx.steps()));
            new.push(seq);
        }
        self.send(&new, ctx);
        if self.is_done() {
            ctx.note(format!("{} operations over", self.cfg.ops));
            ctx.cancel_timer(RETRY);
        }
    }

    fn abandon(&mut self, seqs: Vec<u32>, why: &str) {
        for seq in seqs {
            let (mut rec, ..) = self.pending.remove(&seq).expect("pending");
            rec.failed = Some(format!(
                "{why}: no leader answered it (last tried server {})",
                self.seek.leader()
            ));
            self.done.push(rec);
        }
    }
}

impl ClientRole for LogClient {
    type S = Raft;
    type Report = ClientReport;

    fn on_start(&mut self, ctx: &mut C) {
        ctx.set_timer(RETRY, self.cfg.retry);
        self.submit(ctx);
    }

    fn on_reply(&mut self, from: Rank, reply: Reply<Option<u64>>, ctx: &mut C) {
        if from >= self.cfg.servers || self.is_done() {
            return;
        }
        let now = ctx.now().as_micros() as u64;
        let mut news = false;
        for (seq, r) in reply.0 {
            if let Some((mut rec, op, steps)) = self.pending.remove(&seq) {
                rec.return_us = Some(now);
                rec.steps = ctx.steps().saturating_sub(steps) as u32;
                if matches!(op, Op::Get { .. }) {
                    rec.got = Some(r.map(|v| v.to_be_bytes().to_vec()));
                }
                self.done.push(rec);
                news = true;
            }
        }
        self.seek.replied(from, news);
        self.submit(ctx);
    }

    fn on_redirect(&mut self, from: Rank, r: Redirect, ctx: &mut C) {
        if from >= self.cfg.servers || self.is_done() {
            return;
        }
        match self.seek.redirected(r, self.cfg.retry) {
            Redirected::Resend => {
                let all: Vec<u32> = self.pending.keys().copied().collect();
                self.send(&all, ctx);
            }
            Redirected::RetrySoon(soon) => ctx.set_timer(RETRY, soon),
            Redirected::Ignore => {}
        }
    }

    fn on_timer(&mut self, t: ClientTimer, ctx: &mut C) {
        if self.is_done() {
            return;
        }
        let now = ctx.now().as_micros() as u64;
        match t {
            ClientTimer::Retry => {
                let timeout = self.cfg.op_timeout.as_micros() as u64;
                let expired: Vec<u32> = self
                    .pending
                    .values()
                    .filter(|p| now.saturating_sub(p.0.invoke_us) >= timeout)
                    .map(|p| p.0.seq)
                    .collect();
                let why = format!("timed out after {} ms", self.cfg.op_timeout.as_millis());
                self.abandon(expired, &why);
                if self.seek.tick() {
                    let all: Vec<u32> = self.pending.keys().copied().collect();
                    self.send(&all, ctx);
                }
                self.submit(ctx);
                if !self.is_done() {
                    ctx.set_timer(RETRY, self.cfg.retry);
                }
            }
        }
    }

    fn progress(&self) -> u64 {
        self.done.len() as u64
    }

    fn give_up(&mut self, ctx: &mut C) {
        let all: Vec<u32> = self.pending.keys().copied().collect();
        let why = format!(
            "gave up after {} ms without an answer",
            self.cfg.give_up.as_millis()
        );
        self.abandon(all, &why);
        self.gave_up = true;
        ctx.cancel_timer(RETRY);
    }

    fn is_done(&self) -> bool {
        self.gave_up || (self.next_seq == self.cfg.ops && self.pending.is_empty())
    }

    fn report(&self) -> ClientReport {
        let mut ops: Vec<OpRecord> = self.done.clone();
        ops.extend(self.pending.values().map(|p| p.0.clone()));
        ops.sort_by_key(|o| o.seq);
        ClientReport {
            ops,
            gave_up: self.gave_up,
        }
    }
}
