//! Sequence Paxos's messages between servers, one type each, and its servers' timers. The
//! clients' messages (Request, Redirect, Reply) and timers are the service's
//! ([`crate::shared::service`]).

use serde::{Deserialize, Serialize};

use super::{Entry, Msg};
use crate::shared::election::Ballot;
use crate::shared::Kind;

/// A candidate's ballot, and its decided index (promises send the log from there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepare {
    pub b: Ballot,
    pub decided: usize,
}

/// The promise for ballot `b` (the vote): the ballot in which the log was last accepted, its
/// length, decided index, and the log from the candidate's decided index on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promise {
    pub b: Ballot,
    pub acc_rnd: Ballot,
    pub log_len: usize,
    pub decided: usize,
    pub suffix: Vec<Entry>,
}

/// A refusal: a higher ballot was promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nack {
    pub promised: Ballot,
}

/// The new leader's log from index `from` on, replacing the follower's undecided suffix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptSync {
    pub b: Ballot,
    pub from: usize,
    pub entries: Vec<Entry>,
    pub decided: usize,
}

/// Entries from index `start` on (none: a heartbeat), and the decided index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accept {
    pub b: Ballot,
    pub start: usize,
    pub entries: Vec<Entry>,
    pub decided: usize,
}

/// The follower's log length, accepted in ballot `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub b: Ballot,
    pub len: usize,
}

crate::peer_messages! {
    /// A message between servers.
    pub enum Peer for Msg {
        Prepare,
        Promise,
        Nack,
        AcceptSync,
        Accept,
        Accepted,
    }
}

impl Kind for Peer {
    fn kind(&self) -> &'static str {
        match self {
            Peer::Prepare(_) => "Prepare",
            Peer::Promise(_) => "Promise",
            Peer::Nack(_) => "Nack",
            Peer::AcceptSync(_) => "AcceptSync",
            Peer::Accept(_) => "Accept",
            Peer::Accepted(_) => "Accepted",
        }
    }
}

/// A server's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerTimer {
    /// Follower: no leader heard; stand for election.
    Election,
    /// Leader: resend and heartbeat.
    Heartbeat,
}
