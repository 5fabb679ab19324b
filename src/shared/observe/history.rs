//! The event history of a run: every send, receive and local event of every rank with its
//! ground-truth vector timestamp, kept by the drivers (never by the algorithms).
//!
//! Checkers that need happens-before read it (Lamport and vector clocks are checked against
//! it), and so do the ShiViz log ([`super::trace`], `--trace`) and the SVG space-time diagram
//! ([`super::diagram`], `--diagram`). The vector timestamps follow the textbook rules: tick on every event, and
//! element-wise max with the sender's timestamp before ticking on a receive.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::shared::process::Rank;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// Message `seq` of this rank sent to `to`; `copies` left the sender (0 when the fault
    /// plan dropped it, 2 when it was duplicated). `kind` is the message's kind; `refused`:
    /// it is an answer that says no ([`crate::shared::Kind::refused`]).
    Send {
        to: Rank,
        seq: u64,
        copies: u8,
        kind: String,
        #[serde(default)]
        refused: bool,
    },
    /// Message `seq` of rank `from` received.
    Recv { from: Rank, seq: u64, kind: String },
    /// A local event of the algorithm.
    Local,
    /// A local event that states the rank's new state ("leader", "suspects rank 2"), drawn as a
    /// label on the rank's line in the diagram.
    Note,
    /// The rank crashed (crash-stop).
    Crash,
    /// The rank came back after a crash, rebuilt from its stable storage (`--restart`): a new
    /// life of the rank begins here. The label says what it read back.
    Restart,
}

/// One event of one rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    /// Ground-truth vector timestamp.
    pub vc: Vec<u64>,
    /// Microseconds since the start of the run (virtual in the simulator).
    pub t_us: u64,
    pub label: String,
    /// The algorithm's own logical timestamp for this event, if it gave one.
    pub stamp: Option<Vec<u64>>,
}

/// `a` happened before `b` (strictly).
pub fn happened_before(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a != b
}

/// Partial order of vector timestamps: `None` means concurrent.
pub fn vc_cmp(a: &[u64], b: &[u64]) -> Option<Ordering> {
    if a == b {
        Some(Ordering::Equal)
    } else if happened_before(a, b) {
        Some(Ordering::Less)
    } else if happened_before(b, a) {
        Some(Ordering::Greater)
    } else {
        None
    }
}

/// A message leaving a rank, as [`Recorder::send`] records it (the kind is copied only when
/// recording is on).
#[derive(Debug, Clone, Copy)]
pub struct Sent<'a> {
    pub to: Rank,
    /// The sender's sequence number of the message.
    pub seq: u64,
    /// How many copies the fault plan let through (0 dropped, 2 duplicated).
    pub copies: u8,
    pub kind: &'a str,
    /// An answer that says no.
    pub refused: bool,
}

/// Records one rank's events. Off (and free) unless a checker, trace or diagram needs it.
#[derive(Debug, Clone)]
pub struct Recorder {
    rank: Rank,
    on: bool,
    vc: Vec<u64>,
    events: Vec<Event>,
}

impl Recorder {
    pub fn new(rank: Rank, np: usize, on: bool) -> Self {
        Recorder {
            rank,
            on,
            vc: if on { vec![0; np] } else { Vec::new() },
            events: Vec::new(),
        }
    }
    pub fn is_on(&self) -> bool {
        self.on
    }
    fn push(&mut self, kind: EventKind, t_us: u64, label: String) {
        self.vc[self.rank] += 1;
        self.events.push(Event {
            kind,
            vc: self.vc.clone(),
            t_us,
            label,
            stamp: None,
        });
    }
    /// A send; returns the vector timestamp to piggyback on the message.
    pub fn send(
        &mut self,
        sent: Sent<'_>,
        t_us: u64,
        label: impl FnOnce() -> String,
    ) -> Option<Vec<u64>> {
        if !self.on {
            return None;
        }
        let Sent {
            to,
            seq,
            copies,
            kind,
            refused,
        } = sent;
        let kind = kind.to_string();
        self.push(
            EventKind::Send {
                to,
                seq,
                copies,
                kind,
                refused,
            },
            t_us,
            label(),
        );
        Some(self.vc.clone())
    }
    pub fn recv(
        &mut self,
        from: Rank,
        seq: u64,
        kind: &str,
        vc: Option<&[u64]>,
        t_us: u64,
        label: impl FnOnce() -> String,
    ) {
        if !self.on {
            return;
        }
        if let Some(vc) = vc {
            for (mine, theirs) in self.vc.iter_mut().zip(vc) {
                *mine = (*mine).max(*theirs);
            }
        }
        let kind = kind.to_string();
        self.push(EventKind::Recv { from, seq, kind }, t_us, label());
    }
    pub fn local(&mut self, t_us: u64, label: String) {
        if self.on {
            self.push(EventKind::Local, t_us, label);
        }
    }
    pub fn note(&mut self, t_us: u64, label: String) {
        if self.on {
            self.push(EventKind::Note, t_us, label);
        }
    }
    pub fn crash(&mut self, t_us: u64) {
        if self.on {
            self.push(EventKind::Crash, t_us, "crash".into());
        }
    }
    pub fn restart(&mut self, t_us: u64, label: String) {
        if self.on {
            self.push(EventKind::Restart, t_us, label);
        }
    }
    pub fn stamp(&mut self, stamp: Vec<u64>) {
        if let Some(e) = self.events.last_mut() {
            e.stamp = Some(stamp);
        }
    }
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

/// All ranks' events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub ranks: Vec<Vec<Event>>,
}

impl History {
    /// Every event with its rank.
    pub fn events(&self) -> impl Iterator<Item = (Rank, &Event)> {
        self.ranks
            .iter()
            .enumerate()
            .flat_map(|(r, es)| es.iter().map(move |e| (r, e)))
    }

    /// `[rank][seq]` → index of that send in the rank's events (seqs count from 0 in the
    /// order the sends were recorded, dropped ones included).
    pub fn send_index(&self) -> Vec<Vec<usize>> {
        self.ranks
            .iter()
            .map(|es| {
                es.iter()
                    .enumerate()
                    .filter(|(_, e)| matches!(e.kind, EventKind::Send { .. }))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect()
    }

    /// The send event of message `seq` of rank `from`, through a [`History::send_index`].
    pub fn send_of<'h>(&'h self, index: &[Vec<usize>], from: Rank, seq: u64) -> Option<&'h Event> {
        let i = *index.get(from)?.get(seq as usize)?;
        self.ranks[from].get(i)
    }

    /// Number of pairs `e → f` of events (crashes excluded). With vector timestamps that tick
    /// on every event, `f` has exactly `Σ vc_f − 1` predecessors, so this is linear.
    pub fn happens_before_pairs(&self) -> u64 {
        self.events()
            .filter(|(_, e)| e.kind != EventKind::Crash)
            .map(|(_, e)| e.vc.iter().sum::<u64>() - 1)
            .sum()
    }

    /// Events in an order consistent with happens-before (by the sum of the vector).
    pub fn causal_order(&self) -> Vec<(Rank, usize)> {
        let mut all: Vec<(u64, Rank, usize)> = self
            .ranks
            .iter()
            .enumerate()
            .flat_map(|(r, es)| {
                es.iter()
                    .enumerate()
                    .map(move |(i, e)| (e.vc.iter().sum::<u64>(), r, i))
            })
            .collect();
        all.sort_unstable();
        all.into_iter().map(|(_, r, i)| (r, i)).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn two_rank_history() -> History {
        let mut a = Recorder::new(0, 2, true);
        let mut b = Recorder::new(1, 2, true);
        let ping = Sent {
            to: 1,
            seq: 0,
            copies: 1,
            kind: "Ping",
            refused: false,
        };
        let vc = a.send(ping, 10, || "send Ping".into());
        a.local(12, "think".into());
        b.recv(0, 0, "Ping", vc.as_deref(), 20, || "recv Ping".into());
        b.stamp(vec![2]);
        b.note(22, "pinged".into());
        let pong = Sent {
            to: 0,
            seq: 0,
            copies: 0,
            kind: "Pong",
            refused: false,
        };
        let _ = b.send(pong, 25, || "send Pong".into());
        History {
            ranks: vec![a.into_events(), b.into_events()],
        }
    }

    #[test]
    fn vector_timestamps_follow_the_rules() {
        let h = two_rank_history();
        let vcs: Vec<Vec<u64>> = h.events().map(|(_, e)| e.vc.clone()).collect();
        assert_eq!(
            vcs,
            vec![vec![1, 0], vec![2, 0], vec![1, 1], vec![1, 2], vec![1, 3]]
        );
        assert!(happened_before(&vcs[0], &vcs[2]));
        assert_eq!(vc_cmp(&vcs[1], &vcs[2]), None);
        assert_eq!(h.ranks[1][0].stamp, Some(vec![2]));
    }
}
