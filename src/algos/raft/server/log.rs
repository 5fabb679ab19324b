//! The log after a snapshot, indexed from 1 as in the paper.

use crate::algos::raft::Entry;

/// The log after a snapshot: entries `offset + 1 ..= last_index()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    /// The last index in the snapshot (0: none) and its term.
    pub offset: u64,
    pub offset_term: u64,
    pub entries: Vec<Entry>,
}

impl Log {
    pub fn last_index(&self) -> u64 {
        self.offset + self.entries.len() as u64
    }
    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.offset_term, |e| e.term)
    }
    /// The term of entry `i`, if the log (or its snapshot's last entry) has it.
    pub fn term_at(&self, i: u64) -> Option<u64> {
        if i == self.offset {
            Some(self.offset_term)
        } else if i < self.offset || i > self.last_index() {
            None
        } else {
            Some(self.entries[(i - self.offset - 1) as usize].term)
        }
    }
    pub fn get(&self, i: u64) -> &Entry {
        &self.entries[(i - self.offset - 1) as usize]
    }
    /// Entries `from ..= to`.
    pub fn slice(&self, from: u64, to: u64) -> &[Entry] {
        &self.entries[(from - self.offset - 1) as usize..(to - self.offset) as usize]
    }
    /// Keep entries up to `i`.
    pub(super) fn truncate_after(&mut self, i: u64) {
        self.entries
            .truncate((i.max(self.offset) - self.offset) as usize);
    }
    /// Drop entries up to `i` (now in a snapshot whose last term is `term`).
    pub(super) fn compact(&mut self, i: u64, term: u64) {
        let n = (i.min(self.last_index()) - self.offset) as usize;
        self.entries.drain(..n);
        self.offset = i;
        self.offset_term = term;
    }
    /// (term, first index) of each run of entries of one term.
    pub fn runs(&self) -> Vec<(u64, u64)> {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for (k, e) in self.entries.iter().enumerate() {
            if runs.last().is_none_or(|r| r.0 != e.term) {
                runs.push((e.term, self.offset + 1 + k as u64));
            }
        }
        runs
    }
}
