//! What travels: the clients' protocol, the servers' own, and the timers of each.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::shared::process::{Ctx, Kind, Rank};

/// The types a service plugs into the scaffolding (implemented by its algorithm marker).
pub trait Service: 'static {
    /// The servers' own messages.
    type Peer: Serialize + DeserializeOwned + Clone + Debug + PartialEq + Kind;
    /// The servers' own timers.
    type PeerTimer: Clone + Debug + PartialEq;
    /// A client's command.
    type Op: Serialize + DeserializeOwned + Clone + Debug + PartialEq;
    /// A command's result.
    type Out: Serialize + DeserializeOwned + Clone + Debug + PartialEq;
}

/// Client to server: commands (seq, op), and the client's lowest unanswered seq, below which
/// the server may forget its answers (the client session's watermark).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request<Op> {
    pub low: u32,
    pub cmds: Vec<(u32, Op)>,
}

/// Server to client: not the leader; the leader if known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub leader: Option<Rank>,
}

/// Leader to client: the results of these commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply<Out>(pub Vec<(u32, Out)>);

/// A message of a service: the clients' protocol, or the servers' own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Msg<P, Op, Out> {
    Request(Request<Op>),
    Redirect(Redirect),
    Reply(Reply<Out>),
    Peer(P),
}

impl<P: Kind, Op, Out> Kind for Msg<P, Op, Out> {
    fn kind(&self) -> &'static str {
        match self {
            Msg::Request(_) => "Request",
            Msg::Redirect(_) => "Redirect",
            Msg::Reply(_) => "Reply",
            Msg::Peer(p) => p.kind(),
        }
    }
    fn refused(&self) -> bool {
        matches!(self, Msg::Peer(p) if p.refused())
    }
}

impl<P, Op, Out> From<P> for Msg<P, Op, Out> {
    fn from(p: P) -> Self {
        Msg::Peer(p)
    }
}

/// A client's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientTimer {
    /// Resend unanswered commands.
    Retry,
}

/// A timer of a service: a client's, the servers' own, or the no-progress deadline that
/// [`Roles`](super::Roles) keeps for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer<P> {
    Client(ClientTimer),
    Server(P),
    /// Look whether a whole `--give-up` period passed without progress.
    GiveUp,
}

impl<P> From<P> for Timer<P> {
    fn from(p: P) -> Self {
        Timer::Server(p)
    }
}

/// The message type of service `S`.
pub type MsgOf<S> = Msg<<S as Service>::Peer, <S as Service>::Op, <S as Service>::Out>;
/// The timer type of service `S`.
pub type TimerOf<S> = Timer<<S as Service>::PeerTimer>;
/// The effect collector of service `S`'s handlers.
pub type CtxOf<'a, S> = Ctx<'a, MsgOf<S>, TimerOf<S>>;

/// Declares a service's peer messages, one type each: an enum with one variant per message
/// type, named as the type, and `From` every type into the enum and into the service's wire
/// message `$wire`, so that a server sends a message as it is (`ctx.send(to, Vote { .. })`)
/// and dispatches on it in one `match`.
#[macro_export]
macro_rules! peer_messages {
    ($(#[$meta:meta])* $vis:vis enum $name:ident for $wire:ty { $($v:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        $vis enum $name { $($v($v)),+ }
        $(
            impl From<$v> for $name {
                fn from(m: $v) -> Self {
                    $name::$v(m)
                }
            }
            impl From<$v> for $wire {
                fn from(m: $v) -> Self {
                    $crate::shared::service::Msg::Peer($name::$v(m))
                }
            }
        )+
    };
}
