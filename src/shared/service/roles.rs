//! A server and a client role, and the pair as one process.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::wire::*;
use crate::shared::process::{Kind, Process, Rank};

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
    fn is_done(&self) -> bool;
    fn report(&self) -> Self::Report;
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

/// A rank of a service: a server or a client.
#[derive(Debug, Clone)]
pub enum Roles<Srv, Cli> {
    Server(Box<Srv>),
    Client(Box<Cli>),
}

/// What a rank of a service reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoleReport<A, B> {
    Server(A),
    Client(B),
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
        match self {
            Roles::Server(s) => s.on_start(ctx),
            Roles::Client(c) => c.on_start(ctx),
        }
    }
    fn on_message(&mut self, from: Rank, msg: Self::Msg, ctx: &mut CtxOf<Srv::S>) {
        match (self, msg) {
            (Roles::Server(s), msg) => deliver(s.as_mut(), from, msg, ctx),
            (Roles::Client(c), Msg::Reply(r)) => c.on_reply(from, r, ctx),
            (Roles::Client(c), Msg::Redirect(r)) => c.on_redirect(from, r, ctx),
            // A message meant for servers (a misdirected one): nothing to do.
            (Roles::Client(_), m) => {
                log::debug!("rank {}: ignored {} from {from}", ctx.rank(), m.kind())
            }
        }
    }
    fn on_timer(&mut self, t: Self::Timer, ctx: &mut CtxOf<Srv::S>) {
        match (self, t) {
            (Roles::Server(s), Timer::Server(t)) => s.on_timer(t, ctx),
            (Roles::Client(c), Timer::Client(t)) => c.on_timer(t, ctx),
            _ => {}
        }
    }
    fn is_done(&self) -> bool {
        match self {
            Roles::Server(s) => s.is_done(),
            Roles::Client(c) => c.is_done(),
        }
    }
    fn output(&self) -> Self::Output {
        match self {
            Roles::Server(s) => RoleReport::Server(s.report()),
            Roles::Client(c) => RoleReport::Client(c.report()),
        }
    }
}
