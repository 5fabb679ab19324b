//! The client: a closed loop of put/get commands sent to the leader it believes in,
//! redirected by followers, resent on timeout; it records what every get returned.

use std::sync::Arc;
use std::time::Duration;

use super::kv::{op_of, Op};
use super::{Config, Msg, RaftClientReport, Timer};
use crate::shared::clients::Workload;
use crate::shared::{Ctx, Rank};

type C<'a> = Ctx<'a, Msg, Timer>;

/// Most commands in one Request.
const MAX_PER_REQUEST: usize = 4096;

#[derive(Debug, Clone)]
pub struct Client {
    pub me: Rank,
    cfg: Arc<Config>,
    pub work: Workload,
    /// The server it sends to.
    pub leader: Rank,
    /// Replies since the last retry tick.
    progressed: bool,
    pub gave_up: bool,
    /// (seq, value) of every answered get.
    reads: Vec<(u32, Option<u64>)>,
}

impl Client {
    pub fn new(me: Rank, cfg: Arc<Config>) -> Self {
        Client {
            me,
            work: Workload::new(me, cfg.requests, cfg.inflight),
            leader: (me - cfg.servers) % cfg.servers,
            progressed: false,
            gave_up: false,
            reads: Vec::new(),
            cfg,
        }
    }

    fn op(&self, seq: u32) -> Op {
        op_of(self.work.id(seq), self.cfg.keys, self.cfg.read_permille)
    }

    /// The lowest unanswered seq: everything below it was answered.
    fn low(&self) -> u32 {
        self.work
            .outstanding()
            .next()
            .unwrap_or(self.work.submitted())
    }

    pub fn is_done(&self) -> bool {
        self.gave_up || self.work.is_done()
    }

    fn send(&self, seqs: impl Iterator<Item = u32>, ctx: &mut C) {
        let cmds: Vec<(u32, Op)> = seqs.map(|s| (s, self.op(s))).collect();
        let low = self.low();
        // Bounded messages: a window of a million commands goes in pieces.
        for part in cmds.chunks(MAX_PER_REQUEST) {
            let cmds = part.to_vec();
            ctx.send(self.leader, Msg::Request { low, cmds });
        }
    }

    fn submit_new(&mut self, ctx: &mut C) {
        let now = ctx.now().as_micros() as u64;
        let seqs = self.work.take_new(now, ctx.steps());
        self.send(seqs.into_iter(), ctx);
    }

    fn resend(&mut self, ctx: &mut C) {
        let seqs: Vec<u32> = self.work.outstanding().collect();
        self.send(seqs.into_iter(), ctx);
    }

    pub fn on_start(&mut self, ctx: &mut C) {
        self.submit_new(ctx);
        ctx.set_timer(Timer::Retry, self.cfg.retry);
        ctx.set_timer(Timer::GiveUp, self.cfg.give_up);
    }

    pub fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut C) {
        if from >= self.cfg.servers || self.is_done() {
            return;
        }
        match msg {
            Msg::Reply(results) => {
                let now = ctx.now().as_micros() as u64;
                for (seq, r) in results {
                    if self.work.complete(seq, now, ctx.steps()) {
                        self.progressed = true;
                        if matches!(self.op(seq), Op::Get { .. }) {
                            self.reads.push((seq, r));
                        }
                    }
                }
                self.leader = from;
                if self.work.is_done() {
                    ctx.note(format!("{} answered", self.cfg.requests));
                    ctx.cancel_timer(Timer::Retry);
                    ctx.cancel_timer(Timer::GiveUp);
                } else {
                    self.submit_new(ctx);
                }
            }
            Msg::Redirect { leader: Some(l) } if l != self.leader && l < self.cfg.servers => {
                self.leader = l;
                self.resend(ctx);
            }
            // No leader known there (an election is on): try the next server soon.
            Msg::Redirect { leader: None } => {
                let soon = (self.cfg.retry / 4).max(Duration::from_millis(1));
                ctx.set_timer(Timer::Retry, soon);
            }
            _ => {}
        }
    }

    pub fn on_timer(&mut self, t: Timer, ctx: &mut C) {
        if self.is_done() {
            return;
        }
        match t {
            Timer::Retry => {
                if !std::mem::replace(&mut self.progressed, false) {
                    // Nothing came back for a whole period: try the next server.
                    self.leader = (self.leader + 1) % self.cfg.servers;
                    self.resend(ctx);
                }
                ctx.set_timer(Timer::Retry, self.cfg.retry);
            }
            Timer::GiveUp => {
                self.gave_up = true;
                ctx.note("gave up".to_string());
                ctx.cancel_timer(Timer::Retry);
            }
            Timer::Election | Timer::Heartbeat | Timer::CheckQuorum => {}
        }
    }

    pub fn report(&self) -> RaftClientReport {
        RaftClientReport {
            work: self.work.report(),
            reads: self.reads.clone(),
        }
    }
}
