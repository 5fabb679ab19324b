//! Raft's messages between servers, one type each, and its servers' timers. The clients'
//! messages (Request, Redirect, Reply) and timers are the service's
//! ([`crate::shared::service`]).

use serde::{Deserialize, Serialize};

use super::{Entry, Msg, Snapshot};
use crate::shared::Kind;

/// A vote request; `pre`: a PreVote for `term` that changes no one's term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestVote {
    pub term: u64,
    pub last_index: u64,
    pub last_term: u64,
    pub pre: bool,
}

/// The answer to a [`RequestVote`] (of a PreVote when `pre`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub term: u64,
    pub granted: bool,
    pub pre: bool,
}

/// The leader's entries after `prev_index` (none: a heartbeat), and its commit index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendEntries {
    pub term: u64,
    pub prev_index: u64,
    pub prev_term: u64,
    pub entries: Vec<Entry>,
    pub commit: u64,
}

/// `ok`: the log matches up to `index`. Otherwise the follower's first index of
/// `conflict_term` at the leader's `prev_index` (or its last index + 1 if it has no entry
/// there, with `conflict_term` 0), and the refused `prev_index` in `rejected`. `life_us`: when
/// the follower's current life started (a later one: it restarted since).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendResp {
    pub term: u64,
    pub ok: bool,
    pub index: u64,
    pub conflict_term: u64,
    pub rejected: u64,
    pub life_us: u64,
    /// The follower has applied the whole workload: a leader whose own work is done may
    /// stop serving it.
    pub done: bool,
}

/// The leader's snapshot, for a follower that needs entries compacted away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallSnapshot {
    pub term: u64,
    pub snapshot: Snapshot,
}

crate::peer_messages! {
    /// A message between servers.
    pub enum Peer for Msg {
        RequestVote,
        Vote,
        AppendEntries,
        AppendResp,
        InstallSnapshot,
    }
}

impl Kind for Peer {
    fn kind(&self) -> &'static str {
        match self {
            Peer::RequestVote(m) if m.pre => "PreVote",
            Peer::RequestVote(_) => "RequestVote",
            Peer::Vote(m) if m.pre => "PreVoteResp",
            Peer::Vote(_) => "Vote",
            Peer::AppendEntries(_) => "AppendEntries",
            Peer::AppendResp(_) => "AppendResp",
            Peer::InstallSnapshot(_) => "InstallSnapshot",
        }
    }
    fn refused(&self) -> bool {
        match self {
            Peer::Vote(m) => !m.granted,
            Peer::AppendResp(m) => !m.ok,
            _ => false,
        }
    }
}

/// A server's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerTimer {
    /// Follower or candidate: no leader heard; run a PreVote.
    Election,
    /// Leader: replicate and heartbeat.
    Heartbeat,
    /// Leader: step down unless a majority answered since the last check.
    CheckQuorum,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vote_not_granted_says_no_and_a_granted_one_does_not() {
        let vote = |granted| {
            Peer::Vote(Vote {
                term: 2,
                granted,
                pre: false,
            })
        };
        assert!(vote(false).refused());
        assert!(!vote(true).refused());
    }
}
