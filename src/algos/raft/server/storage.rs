//! Stable storage: the records a server writes (term and vote, entries, a snapshot with what
//! follows it), each durable before any message that depends on it leaves, and the replay that
//! rebuilds a restarted server from them and nothing else.
//!
//! The records reach [`Server::recover`] only once their frames' checksums held
//! ([`crate::shared::runtime::wal`]); a torn tail (a write the crash cut short, never
//! acknowledged) is already gone. What is left to refuse here is a record that does not decode
//! or does not fit the ones before it (entries after a gap, a term going back): the server
//! then does not come back at all, rather than come back with less than it acknowledged, which
//! could let it vote twice in a term or count towards a majority for entries it no longer
//! has (Ongaro's thesis, §11.7.3; Alagappan et al., FAST'18). Refusing to rejoin is the safe
//! choice this project makes; rejoining without a vote until a majority has re-taught it is
//! the thesis's alternative.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::log::Log;
use super::{Role, Server, C};
use crate::algos::raft::{Config, Entry, Snapshot};
use crate::shared::process::BadRecord;
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
    /// A server restarted with what it stored, and nothing else; refused if a record does not
    /// decode or does not follow from those before it.
    pub fn recover(me: Rank, cfg: Arc<Config>, stored: &[Vec<u8>]) -> Result<Self, BadRecord> {
        let mut s = Server::new(me, cfg);
        for (index, bytes) in stored.iter().enumerate() {
            let bad = |why: String| Err(BadRecord { index, why });
            let r = match postcard::from_bytes::<Record>(bytes) {
                Ok(r) => r,
                Err(e) => return bad(format!("it does not decode ({e})")),
            };
            let term = match &r {
                Record::Hard { term, .. } | Record::Snap { term, .. } => *term,
                Record::Entries { .. } => s.term,
            };
            if term < s.term {
                return bad(format!(
                    "its term {term} is below the term {} before it",
                    s.term
                ));
            }
            match r {
                Record::Hard { term, vote } => (s.term, s.vote) = (term, vote),
                Record::Entries { from, entries } => {
                    if from <= s.log.offset || from > s.log.last_index() + 1 {
                        return bad(format!(
                            "entries from index {from} do not follow a log of {}..={}",
                            s.log.offset + 1,
                            s.log.last_index()
                        ));
                    }
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
        Ok(s)
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
