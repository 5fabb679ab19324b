//! A server and a client role, and the pair as one process, which also keeps the rank's
//! no-progress deadline (`--give-up`, see [`crate::shared::progress`]).

use std::fmt::Debug;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::wire::*;
use crate::shared::process::{Kind, Process, Rank};
use crate::shared::progress::Watchdog;

/// A server of service `S`: one handler per thing it can get.
pub trait ServerRole {
    type S: Service;
    /// What it reports at the end of the run.
    type Report: Serialize + DeserializeOwned + Clone + Debug;
    fn on_start(&mut self, ctx: &mut CtxOf<Self::S>);
    /// Commands from client `client`.
    fn on_request(
        &mut self,
        client: Rank,
        req: Request<<Self::S as Service>::Op>,
        ctx: &mut CtxOf<Self::S>,
    );
    /// A message of another server.
    fn on_peer(&mut self, from: Rank, msg: <Self::S as Service>::Peer, ctx: &mut CtxOf<Self::S>);
    fn on_timer(&mut self, t: <Self::S as Service>::PeerTimer, ctx: &mut CtxOf<Self::S>);
    /// A count that changes whenever the server makes progress (commits, applies, learns
    /// entries, or a follower catches up with it); O(1), it is read after every handler.
    fn progress(&self) -> u64;
    /// A whole `--give-up` period passed without progress: stop waiting (and be done).
    fn give_up(&mut self, ctx: &mut CtxOf<Self::S>);
    fn is_done(&self) -> bool;
    fn report(&self) -> Self::Report;
    /// Whether it believes it leads now (faults aimed at the leader hit it then).
    fn leads(&self) -> bool {
        false
    }
}

/// A client of service `S`.
pub trait ClientRole {
    type S: Service;
    type Report: Serialize + DeserializeOwned + Clone + Debug;
    fn on_start(&mut self, ctx: &mut CtxOf<Self::S>);
    fn on_reply(
        &mut self,
        from: Rank,
        reply: Reply<<Self::S as Service>::Out>,
        ctx: &mut CtxOf<Self::S>,
    );
    fn on_redirect(&mut self, from: Rank, r: Redirect, ctx: &mut CtxOf<Self::S>);
    fn on_timer(&mut self, t: ClientTimer, ctx: &mut CtxOf<Self::S>);
    /// A count that changes whenever the client makes progress (an answer); O(1).
    fn progress(&self) -> u64;
    /// A whole `--give-up` period passed without an answer: stop waiting (and be done).
    fn give_up(&mut self, ctx: &mut CtxOf<Self::S>);
    fn is_done(&self) -> bool;
    fn report(&self) -> Self::Report;
}

/// Deliver `msg` from `from` to server `s`, as [`Roles`] does (a message meant for clients is
/// ignored): how unit tests drive a server alone.
pub fn deliver<Srv: ServerRole>(
    s: &mut Srv,
    from: Rank,
    msg: MsgOf<Srv::S>,
    ctx: &mut CtxOf<Srv::S>,
) {
    match msg {
        Msg::Request(r) => s.on_request(from, r, ctx),
        Msg::Peer(m) => s.on_peer(from, m, ctx),
        Msg::Redirect(_) | Msg::Reply(_) => {
            log::debug!("rank {}: ignored {} from {from}", ctx.rank(), msg.kind())
        }
    }
}

/// The role of a rank of a service.
#[derive(Debug, Clone)]
pub enum Role<Srv, Cli> {
    Server(Box<Srv>),
    Client(Box<Cli>),
}

/// A rank of a service: a server or a client, with its no-progress deadline.
#[derive(Debug, Clone)]
pub struct Roles<Srv, Cli> {
    role: Role<Srv, Cli>,
    watch: Watchdog,
}

impl<Srv, Cli> Roles<Srv, Cli> {
    /// A server that gives up after `give_up` without progress.
    pub fn server(s: Srv, give_up: Duration) -> Self {
        Self::of(Role::Server(Box::new(s)), give_up)
    }
    /// A client that gives up after `give_up` without progress.
    pub fn client(c: Cli, give_up: Duration) -> Self {
        Self::of(Role::Client(Box::new(c)), give_up)
    }
    fn of(role: Role<Srv, Cli>, give_up: Duration) -> Self {
        Roles {
            role,
            watch: Watchdog::new(give_up, Duration::ZERO),
        }
    }
    pub fn role(&self) -> &Role<Srv, Cli> {
        &self.role
    }
}

/// What a rank of a service reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoleReport<A, B> {
    Server(A),
    Client(B),
}

impl<Srv, Cli> Roles<Srv, Cli>
where
    Srv: ServerRole,
    Cli: ClientRole<S = Srv::S>,
{
    fn progress(&self) -> u64 {
        match &self.role {
            Role::Server(s) => s.progress(),
            Role::Client(c) => c.progress(),
        }
    }
    fn watch(&mut self, ctx: &CtxOf<Srv::S>) {
        let p = self.progress();
        self.watch.saw(p, ctx.now());
    }
}

impl<Srv, Cli> Process for Roles<Srv, Cli>
where
    Srv: ServerRole,
    Cli: ClientRole<S = Srv::S>,
{
    type Msg = MsgOf<Srv::S>;
    type Timer = TimerOf<Srv::S>;
    type Output = RoleReport<Srv::Report, Cli::Report>;

    fn on_start(&mut self, ctx: &mut CtxOf<Srv::S>) {
        match &mut self.role {
            Role::Server(s) => s.on_start(ctx),
            Role::Client(c) => c.on_start(ctx),
        }
        // From the start of this life: a restarted server gets a whole period too.
        self.watch = Watchdog::new(self.watch.after(), ctx.now());
        self.watch(ctx);
        ctx.set_timer(Timer::GiveUp, self.watch.after());
    }
    fn on_message(&mut self, from: Rank, msg: Self::Msg, ctx: &mut CtxOf<Srv::S>) {
        match (&mut self.role, msg) {
            (Role::Server(s), msg) => deliver(s.as_mut(), from, msg, ctx),
            (Role::Client(c), Msg::Reply(r)) => c.on_reply(from, r, ctx),
            (Role::Client(c), Msg::Redirect(r)) => c.on_redirect(from, r, ctx),
            // A message meant for servers (a misdirected one): nothing to do.
            (Role::Client(_), m) => {
                log::debug!("rank {}: ignored {} from {from}", ctx.rank(), m.kind())
            }
        }
        self.watch(ctx);
    }
    fn on_timer(&mut self, t: Self::Timer, ctx: &mut CtxOf<Srv::S>) {
        match (&mut self.role, t) {
            (_, Timer::GiveUp) => {
                if self.is_done() {
                    return;
                }
                match self.watch.left(ctx.now()) {
                    Some(left) => ctx.set_timer(Timer::GiveUp, left),
                    None => {
                        ctx.note(format!(
                            "gave up: no progress for {} ms",
                            self.watch.after().as_millis()
                        ));
                        match &mut self.role {
                            Role::Server(s) => s.give_up(ctx),
                            Role::Client(c) => c.give_up(ctx),
                        }
                    }
                }
                return;
            }
            (Role::Server(s), Timer::Server(t)) => s.on_timer(t, ctx),
            (Role::Client(c), Timer::Client(t)) => c.on_timer(t, ctx),
            _ => {}
        }
        self.watch(ctx);
    }
    fn is_done(&self) -> bool {
        match &self.role {
            Role::Server(s) => s.is_done(),
            Role::Client(c) => c.is_done(),
        }
    }
    fn leads(&self) -> bool {
        matches!(&self.role, Role::Server(s) if s.leads())
    }
    fn output(&self) -> Self::Output {
        match &self.role {
            Role::Server(s) => RoleReport::Server(s.report()),
            Role::Client(c) => RoleReport::Client(c.report()),
        }
    }
}
