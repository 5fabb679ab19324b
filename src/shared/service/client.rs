//! The client's side: where the leader is, and the closed-loop client.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::options::*;
use super::roles::*;
use super::wire::*;
use crate::shared::clients::{ClientReport, CommandId, Workload};
use crate::shared::process::Rank;

/// A client's guess of the leader. Each client starts at a different server (spreading the
/// first requests), follows redirects and answers, and after a retry period in which nothing
/// new came back moves on to the next server: the leader may have crashed or been cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderSeeker {
    servers: usize,
    leader: Rank,
    /// News since the last retry tick.
    progressed: bool,
}

/// What a client does after a [`Redirect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirected {
    /// A new leader: resend everything unanswered to it now.
    Resend,
    /// No leader known there (an election is on): retry this soon.
    RetrySoon(Duration),
    /// Nothing new.
    Ignore,
}

impl LeaderSeeker {
    /// Client rank `me` of a service with `servers` servers.
    pub fn new(me: Rank, servers: usize) -> Self {
        LeaderSeeker {
            servers,
            leader: (me - servers) % servers,
            progressed: false,
        }
    }
    /// The server it sends to.
    pub fn leader(&self) -> Rank {
        self.leader
    }
    /// A reply from `from` (a leader answers); `news`: it answered something not answered yet.
    pub fn replied(&mut self, from: Rank, news: bool) {
        self.leader = from;
        self.progressed |= news;
    }
    /// A redirect from a server; `retry` is the client's retry period.
    pub fn redirected(&mut self, r: Redirect, retry: Duration) -> Redirected {
        match r.leader {
            Some(l) if l != self.leader && l < self.servers => {
                self.leader = l;
                Redirected::Resend
            }
            Some(_) => Redirected::Ignore,
            None => Redirected::RetrySoon((retry / 4).max(Duration::from_millis(1))),
        }
    }
    /// The retry period ended: true if nothing new came back in it, and the seeker moved on to
    /// the next server (resend everything unanswered there).
    pub fn tick(&mut self) -> bool {
        if std::mem::replace(&mut self.progressed, false) {
            return false;
        }
        self.leader = (self.leader + 1) % self.servers;
        true
    }
}

/// A service whose commands are a function of their id (so a resent command is the same), for
/// [`ServiceClient`]: what to submit, and what to keep of each answer.
pub trait Commands: Debug + Clone {
    type S: Service;
    type Report: Serialize + DeserializeOwned + Clone + Debug;
    fn op(&self, id: CommandId) -> <Self::S as Service>::Op;
    /// The first answer of command `seq`.
    fn answered(&mut self, seq: u32, op: &<Self::S as Service>::Op, out: <Self::S as Service>::Out);
    fn report(&self, work: ClientReport) -> Self::Report;
}

/// Most commands in one Request: a window of a million commands goes in bounded pieces.
pub const MAX_PER_REQUEST: usize = 4096;

/// The closed-loop client: at most `--inflight` commands unanswered, each new one submitted as
/// an answer frees room, all unanswered ones resent to the next server after a silent
/// `--retry`, stops at `--give-up`.
#[derive(Debug, Clone)]
pub struct ServiceClient<K> {
    cfg: Arc<Config>,
    pub work: Workload,
    pub seek: LeaderSeeker,
    pub gave_up: bool,
    pub commands: K,
}

impl<K: Commands> ServiceClient<K> {
    pub fn new(me: Rank, cfg: Arc<Config>, commands: K) -> Self {
        ServiceClient {
            work: Workload::new(me, cfg.requests, cfg.inflight),
            seek: LeaderSeeker::new(me, cfg.servers),
            gave_up: false,
            commands,
            cfg,
        }
    }

    /// The lowest unanswered seq: everything below it was answered.
    fn low(&self) -> u32 {
        self.work
            .outstanding()
            .next()
            .unwrap_or(self.work.submitted())
    }

    fn send(&self, seqs: impl Iterator<Item = u32>, ctx: &mut CtxOf<K::S>) {
        let cmds: Vec<_> = seqs
            .map(|s| (s, self.commands.op(self.work.id(s))))
            .collect();
        let low = self.low();
        for part in cmds.chunks(MAX_PER_REQUEST) {
            let req = Request {
                low,
                cmds: part.to_vec(),
            };
            ctx.send(self.seek.leader(), Msg::Request(req));
        }
    }

    fn submit_new(&mut self, ctx: &mut CtxOf<K::S>) {
        let now = ctx.now().as_micros() as u64;
        let seqs = self.work.take_new(now, ctx.steps());
        self.send(seqs.into_iter(), ctx);
    }

    fn resend(&mut self, ctx: &mut CtxOf<K::S>) {
        let seqs: Vec<u32> = self.work.outstanding().collect();
        self.send(seqs.into_iter(), ctx);
    }
}

impl<K: Commands> ClientRole for ServiceClient<K> {
    type S = K::S;
    type Report = K::Report;

    fn on_start(&mut self, ctx: &mut CtxOf<K::S>) {
        self.submit_new(ctx);
        ctx.set_timer(Timer::Client(ClientTimer::Retry), self.cfg.retry);
    }

    fn on_reply(
        &mut self,
        from: Rank,
        reply: Reply<<K::S as Service>::Out>,
        ctx: &mut CtxOf<K::S>,
    ) {
        if from >= self.cfg.servers || self.is_done() {
            return;
        }
        let now = ctx.now().as_micros() as u64;
        let mut news = false;
        for (seq, out) in reply.0 {
            if self.work.complete(seq, now, ctx.steps()) {
                news = true;
                let op = self.commands.op(self.work.id(seq));
                self.commands.answered(seq, &op, out);
            }
        }
        self.seek.replied(from, news);
        if self.work.is_done() {
            ctx.note(format!("{} answered", self.cfg.requests));
            ctx.cancel_timer(Timer::Client(ClientTimer::Retry));
        } else {
            self.submit_new(ctx);
        }
    }

    fn on_redirect(&mut self, from: Rank, r: Redirect, ctx: &mut CtxOf<K::S>) {
        if from >= self.cfg.servers || self.is_done() {
            return;
        }
        match self.seek.redirected(r, self.cfg.retry) {
            Redirected::Resend => self.resend(ctx),
            Redirected::RetrySoon(soon) => ctx.set_timer(Timer::Client(ClientTimer::Retry), soon),
            Redirected::Ignore => {}
        }
    }

    fn on_timer(&mut self, t: ClientTimer, ctx: &mut CtxOf<K::S>) {
        if self.is_done() {
            return;
        }
        match t {
            ClientTimer::Retry => {
                if self.seek.tick() {
                    self.resend(ctx);
                }
                ctx.set_timer(Timer::Client(ClientTimer::Retry), self.cfg.retry);
            }
        }
    }

    fn progress(&self) -> u64 {
        self.work.answered() as u64
    }

    fn give_up(&mut self, ctx: &mut CtxOf<K::S>) {
        self.gave_up = true;
        ctx.cancel_timer(Timer::Client(ClientTimer::Retry));
    }

    fn is_done(&self) -> bool {
        self.gave_up || self.work.is_done()
    }

    fn report(&self) -> K::Report {
        self.commands.report(self.work.report())
    }
}
