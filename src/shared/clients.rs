//! What the replicated algorithms' clients and leaders share: command ids, a closed-loop
//! workload with a window of commands in flight and the latency of each (quorum counting is in
//! [`super::quorum`]).
//!
//! A client rank submits `total` commands, at most `inflight` unanswered at a time; each is
//! identified by `(client, seq)`, unique in a run, so that a retried command can be recognized
//! and applied once. The workload is sans-IO: the algorithm decides where to send what it
//! returns and tells it which replies came back.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use super::process::Rank;

/// A command's id: the client's rank and its sequence number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CommandId {
    pub client: u32,
    pub seq: u32,
}

/// A hasher for command ids, one multiply per word: a leader checks every command against
/// the set of those in its log, and SipHash showed in profiles (the ids come from our own
/// clients, so flooding is not a concern).
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A set of command ids (deduplication), hashed with [`IdHasher`].
pub type IdSet = HashSet<CommandId, BuildHasherDefault<IdHasher>>;

/// One client's closed-loop workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    client: u32,
    total: u32,
    inflight: usize,
    next: u32,
    /// Submitted and unanswered: seq -> (submit time µs, causal steps at submission).
    outstanding: BTreeMap<u32, (u64, u64)>,
    /// Answered: (seq, latency µs, communication steps), in the order the answers came.
    done: Vec<(u32, u32, u32)>,
    first_submit_us: Option<u64>,
    last_reply_us: u64,
    /// Since when it has waited for an answer with commands outstanding (µs), and the waits
    /// of at least [`STALL_US`] that an answer ended: (from, to).
    waiting_since_us: Option<u64>,
    stalls: Vec<(u64, u64)>,
    /// [`ClientReport::submit_gaps_us`].
    submit_gaps_us: Vec<u64>,
    last_submit_us: u64,
}

/// The shortest wait for an answer that a client records as a stall (µs): far below any
/// protocol's timeouts, so no wait that matters is missed.
pub const STALL_US: u64 = 10_000;

/// What a client reports: the checkers read `submitted` and `done`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientReport {
    /// Commands submitted (their seqs are `0..submitted`).
    pub submitted: u32,
    /// Commands answered: (seq, latency from first submission to answer in µs, communication
    /// steps: the hops of the longest causal chain from the submission to the answer).
    pub done: Vec<(u32, u32, u32)>,
    pub first_submit_us: Option<u64>,
    pub last_reply_us: u64,
    /// Waits for an answer of at least [`STALL_US`], with commands outstanding: (from, to) µs.
    #[serde(default)]
    pub stalls: Vec<(u64, u64)>,
    /// Waiting for an answer at the end of the run since this time (µs), if it was.
    #[serde(default)]
    pub waiting_since_us: Option<u64>,
    /// When each command was first submitted, in seq order, as µs since the one before (the
    /// first since time 0): small numbers, a byte or two each on the wire.
    #[serde(default)]
    pub submit_gaps_us: Vec<u64>,
}

impl ClientReport {
    /// When each command was first submitted (µs on the client's clock), in seq order.
    pub fn submit_times_us(&self) -> impl Iterator<Item = u64> + '_ {
        self.submit_gaps_us.iter().scan(0u64, |t, &gap| {
            *t += gap;
            Some(*t)
        })
    }
}

impl Workload {
    pub fn new(client: Rank, total: u32, inflight: usize) -> Self {
        Workload {
            client: client as u32,
            total,
            inflight: inflight.max(1),
            next: 0,
            outstanding: BTreeMap::new(),
            done: Vec::new(),
            first_submit_us: None,
            last_reply_us: 0,
            waiting_since_us: None,
            stalls: Vec::new(),
            submit_gaps_us: Vec::new(),
            last_submit_us: 0,
        }
    }
    pub fn id(&self, seq: u32) -> CommandId {
        CommandId {
            client: self.client,
            seq,
        }
    }
    /// New commands to submit now, as far as the window allows (recorded as submitted at this
    /// time and causal depth, [`crate::shared::Ctx::steps`]).
    pub fn take_new(&mut self, now_us: u64, steps: u64) -> Vec<u32> {
        let room = self.inflight.saturating_sub(self.outstanding.len());
        let n = room.min((self.total - self.next) as usize) as u32;
        let seqs: Vec<u32> = (self.next..self.next + n).collect();
        for &s in &seqs {
            self.outstanding.insert(s, (now_us, steps));
            self.submit_gaps_us
                .push(now_us.saturating_sub(self.last_submit_us));
            self.last_submit_us = now_us;
        }
        self.next += n;
        if n > 0 {
            self.first_submit_us.get_or_insert(now_us);
            self.waiting_since_us.get_or_insert(now_us);
        }
        seqs
    }
    /// Commands submitted so far (their seqs are `0..submitted`).
    pub fn submitted(&self) -> u32 {
        self.next
    }
    /// The submitted commands still unanswered, oldest first (to resend).
    pub fn outstanding(&self) -> impl Iterator<Item = u32> + '_ {
        self.outstanding.keys().copied()
    }
    /// An answer for `seq`, at this time and causal depth; false if it was not outstanding
    /// (a duplicate answer).
    pub fn complete(&mut self, seq: u32, now_us: u64, steps: u64) -> bool {
        match self.outstanding.remove(&seq) {
            Some((t, s)) => {
                let lat = now_us.saturating_sub(t).min(u32::MAX as u64) as u32;
                let hops = steps.saturating_sub(s).min(u32::MAX as u64) as u32;
                self.done.push((seq, lat, hops));
                self.last_reply_us = self.last_reply_us.max(now_us);
                if let Some(since) = self.waiting_since_us {
                    if now_us.saturating_sub(since) >= STALL_US {
                        self.stalls.push((since, now_us));
                    }
                }
                self.waiting_since_us = (!self.outstanding.is_empty()).then_some(now_us);
                true
            }
            None => false,
        }
    }
    /// Commands answered so far.
    pub fn answered(&self) -> usize {
        self.done.len()
    }
    /// Every command submitted and answered.
    pub fn is_done(&self) -> bool {
        self.next == self.total && self.outstanding.is_empty()
    }
    pub fn report(&self) -> ClientReport {
        ClientReport {
            submitted: self.next,
            done: self.done.clone(),
            first_submit_us: self.first_submit_us,
            last_reply_us: self.last_reply_us,
            stalls: self.stalls.clone(),
            waiting_since_us: self.waiting_since_us,
            submit_gaps_us: self.submit_gaps_us.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_bounds_what_is_in_flight() {
        let mut w = Workload::new(3, 5, 2);
        assert_eq!(w.take_new(10, 1), vec![0, 1]);
        assert_eq!(w.take_new(11, 1), Vec::<u32>::new());
        assert!(w.complete(1, 25, 5));
        assert!(!w.complete(1, 26, 6), "a duplicate answer");
        assert_eq!(w.take_new(30, 5), vec![2]);
        assert_eq!(w.outstanding().collect::<Vec<_>>(), vec![0, 2]);
        for s in [0, 2] {
            w.complete(s, 40, 9);
        }
        assert_eq!(w.take_new(41, 9), vec![3, 4]);
        w.complete(3, 50, 13);
        w.complete(4, 50, 13);
        assert!(w.is_done());
        let r = w.report();
        assert_eq!(r.submitted, 5);
        assert_eq!(r.done[0], (1, 15, 4));
        assert_eq!((r.first_submit_us, r.last_reply_us), (Some(10), 50));
        let submitted: Vec<u64> = r.submit_times_us().collect();
        assert_eq!(submitted, vec![10, 10, 30, 41, 41]);
        assert_eq!(w.id(4), CommandId { client: 3, seq: 4 });
    }
}
