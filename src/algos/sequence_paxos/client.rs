//! The client: a closed loop of commands sent to the leader it believes in, redirected by
//! followers, resent on timeout.

use std::sync::Arc;

use super::{Config, Msg, Timer};
use crate::shared::clients::{ClientReport, Workload};
use crate::shared::{Ctx, Rank};

type C<'a> = Ctx<'a, Msg, Timer>;

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
}

impl Client {
    pub fn new(me: Rank, cfg: Arc<Config>) -> Self {
        Client {
            me,
            work: Workload::new(me, cfg.requests, cfg.inflight),
            leader: (me - cfg.servers) % cfg.servers,
            progressed: false,
            gave_up: false,
            cfg,
        }
    }

    /// The command's payload: a function of its id, so that a resent command is the same.
    fn payload(&self, seq: u32) -> u64 {
        let mut z = ((self.me as u64) << 32 | seq as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn is_done(&self) -> bool {
        self.gave_up || self.work.is_done()
    }

    fn submit_new(&mut self, ctx: &mut C) {
        let now = ctx.now().as_micros() as u64;
        let seqs = self.work.take_new(now, ctx.steps());
        if !seqs.is_empty() {
            let cmds = seqs.into_iter().map(|s| (s, self.payload(s))).collect();
            ctx.send(self.leader, Msg::Request(cmds));
        }
    }

    fn resend(&mut self, ctx: &mut C) {
        let cmds: Vec<(u32, u64)> = self
            .work
            .outstanding()
            .map(|s| (s, self.payload(s)))
            .collect();
        if !cmds.is_empty() {
            ctx.send(self.leader, Msg::Request(cmds));
        }
    }

    pub fn on_start(&mut self, ctx: &mut C) {
        self.submit_new(ctx);
        ctx.set_timer(Timer::Retry, self.cfg.retry);
        ctx.set_timer(Timer::GiveUp, self.cfg.give_up);
    }

    pub fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut C) {
        match msg {
            Msg::Reply(seqs) => {
                let now = ctx.now().as_micros() as u64;
                for s in seqs {
                    self.progressed |= self.work.complete(s, now, ctx.steps());
                }
                self.leader = from;
                if self.work.is_done() {
                    self.finish(ctx);
                } else {
                    self.submit_new(ctx);
                }
            }
            Msg::Redirect { leader: Some(l) } if l != self.leader => {
                self.leader = l;
                self.resend(ctx);
            }
            // No leader known there (an election is on): try the next server soon.
            Msg::Redirect { leader: None } => {
                let soon = (self.cfg.retry / 4).max(std::time::Duration::from_millis(1));
                ctx.set_timer(Timer::Retry, soon);
            }
            _ => {}
        }
    }

    fn finish(&mut self, ctx: &mut C) {
        ctx.note(format!("{} answered", self.cfg.requests));
        ctx.cancel_timer(Timer::Retry);
        ctx.cancel_timer(Timer::GiveUp);
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
            Timer::Election | Timer::Heartbeat => {}
        }
    }

    pub fn report(&self) -> ClientReport {
        self.work.report()
    }
}
