//! Stable storage: the records a server writes (term and vote, entries, a snapshot with what
//! follows it), each durable before any message that depends on it leaves, and the replay that
//! rebuilds a restarted server from them and nothing else.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::log::Log;
use super::{Role, Server, C};
use crate::algos::raft::{Config, Entry, Snapshot};
use crate::shared::Rank;

/// What a server writes to stable storage, replayed in order on a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// Its term and vote.
    Hard { term: u64, vote: Option<Rank> },
    /// The log from index `from` on (what was there from `from` on is replaced).
    Entries { from: u64, entries: Vec<Entry> },
    /// A snapshot, with the hard state and the log after it: all that is stored.
    Snap {
        term: u64,
        vote: Option<Rank>,
        snapshot: Snapshot,
        entries: Vec<Entry>,
    },
}

/// [`Record`] as written: the same encoding, borrowing the entries instead of copying them.
#[derive(Serialize)]
enum RecordRef<'a> {
    Hard {
        term: u64,
        vote: Option<Rank>,
    },
    Entries {
        from: u64,
        entries: &'a [Entry],
    },
    Snap {
        term: u64,
        vote: Option<Rank>,
        snapshot: &'a Snapshot,
        entries: &'a [Entry],
    },
}

fn encode(r: &RecordRef) -> Vec<u8> {
    postcard::to_allocvec(r).expect("records serialize")
}

impl Server {
    /// A server restarted with what it stored, and nothing else.
    pub fn recover(me: Rank, cfg: Arc<Config>, stored: &[Vec<u8>]) -> Self {
        let mut s = Server::new(me, cfg);
        for bytes in stored {
            let Ok(r) = postcard::from_bytes::<Record>(bytes) else {
                log::warn!("server {me}: a stored record does not decode; ignoring the rest");
                break;
            };
            match r {
                Record::Hard { term, vote } => (s.term, s.vote) = (term, vote),
                Record::Entries { from, entries } => {
                    s.log.truncate_after(from - 1);
                    s.log.entries.extend(entries);
                }
                Record::Snap {
                    term,
                    vote,
                    snapshot,
                    entries,
                } => {
                    (s.term, s.vote) = (term, vote);
                    s.log = Log {
                        offset: snapshot.last_index,
                        offset_term: snapshot.last_term,
                        entries,
                    };
                    s.sm = snapshot.kv.clone();
                    s.snapshot = Some(snapshot);
                }
            }
        }
        s.commit = s.log.offset;
        s.applied = s.log.offset;
        s.applied_runs = vec![(s.applied + 1, Vec::new())];
        s.recovered = Some((stored.len(), s.log.last_index()));
        s
    }

    pub(super) fn persist_hard(&self, ctx: &mut C) {
        ctx.persist(encode(&RecordRef::Hard {
            term: self.term,
            vote: self.vote,
        }));
    }

    pub(super) fn persist_entries(&self, from: u64, ctx: &mut C) {
        ctx.persist(encode(&RecordRef::Entries {
            from,
            entries: self.log.slice(from, self.log.last_index()),
        }));
    }

    pub(super) fn persist_all(&self, ctx: &mut C) {
        let snapshot = self.snapshot.as_ref().expect("a snapshot to store");
        ctx.persist_reset(encode(&RecordRef::Snap {
            term: self.term,
            vote: self.vote,
            snapshot,
            entries: &self.log.entries,
        }));
    }

    /// Replace the log from `from` on by `entries` (persisted).
    pub(super) fn write_entries(&mut self, from: u64, entries: &[Entry], ctx: &mut C) {
        if from <= self.log.last_index() {
            if self.role == Role::Leader {
                self.leader_overwrites.push((self.term, from));
            }
            self.log.truncate_after(from - 1);
        }
        self.log.entries.extend_from_slice(entries);
        self.persist_entries(from, ctx);
    }
}
