//! The four state-based CRDTs, written as keyed lattices: a state is a map from a `u32` key to
//! an [`Entry`], and the join of two states is the key-wise join of their entries (a key
//! missing on one side is bottom). Each update is a delta-mutator: it returns the (one-key)
//! delta that, joined into any state holding the update's causal past, has the update's effect;
//! a state is then the join of the deltas of the updates behind it, which is what lets gossip
//! ship deltas, Merkle sync ship single entries, and the checker recompute what a state must be.
//!
//! - G-Counter: key = the origin rank, entry = [`Slot`] with `p` its increments (max-join).
//! - PN-Counter: the same slot with `n`, its decrements (two G-Counters in one entry).
//! - OR-Set (add-wins, with tombstones): key = the element, entry = [`Tags`]: the dots
//!   (origin, seq) of its adds and the add-dots its removes observed (both grow-only sets, union
//!   join); present iff some add-dot is not removed. A remove only kills the adds it has seen,
//!   so a concurrent add wins.
//! - LWW-Map (with tombstones): key = the map key, entry = [`Lww`], the last write by
//!   (timestamp, rank), a delete writing `None` (the tombstone that keeps an older put from
//!   coming back on a merge). Timestamps are Lamport or hybrid ([`Clock`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// An update's identity: (origin rank, its sequence number at the origin, from 1).
pub type Dot = (u32, u32);

/// Which CRDT the replicas hold.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrdtKind {
    /// Grow-only counter: each rank adds rank+1 per update (the C original's workload).
    Gcounter,
    /// Counter with increments and decrements.
    Pncounter,
    /// Observed-remove set, add-wins.
    Orset,
    /// Last-writer-wins map with tombstones.
    Lwwmap,
}

/// A join-semilattice.
pub trait Lattice {
    /// `self := self ⊔ other`; whether `self` changed.
    fn join(&mut self, other: &Self) -> bool;
}

/// One origin's slot of a G- or PN-Counter: its increments and decrements so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct Slot {
    pub p: u64,
    pub n: u64,
}

impl Lattice for Slot {
    fn join(&mut self, o: &Self) -> bool {
        let before = *self;
        self.p = self.p.max(o.p);
        self.n = self.n.max(o.n);
        *self != before
    }
}

/// One element of an OR-Set: the dots of its adds and the add-dots removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct Tags {
    pub adds: BTreeSet<Dot>,
    pub removed: BTreeSet<Dot>,
}

impl Tags {
    /// Whether some add is not removed.
    pub fn present(&self) -> bool {
        self.adds.iter().any(|d| !self.removed.contains(d))
    }
    /// The adds not removed (what a remove here observes).
    pub fn live(&self) -> BTreeSet<Dot> {
        self.adds.difference(&self.removed).copied().collect()
    }
}

impl Lattice for Tags {
    fn join(&mut self, o: &Self) -> bool {
        let (a, r) = (self.adds.len(), self.removed.len());
        self.adds.extend(o.adds.iter().copied());
        self.removed.extend(o.removed.iter().copied());
        (a, r) != (self.adds.len(), self.removed.len())
    }
}

/// One key of an LWW-Map: the winning write, ordered by (timestamp, rank, value) (the value
/// only breaks ties between writes no two correct ranks make, keeping the join a lattice on
/// any states); `value: None` is a tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
pub struct Lww {
    pub ts: u64,
    pub rank: u32,
    pub value: Option<u32>,
}

impl Lattice for Lww {
    fn join(&mut self, o: &Self) -> bool {
        if *o > *self {
            *self = *o;
            true
        } else {
            false
        }
    }
}

/// One key's entry, of whichever CRDT the run holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub enum Entry {
    Slot(Slot),
    Tags(Tags),
    Lww(Lww),
}

impl Lattice for Entry {
    fn join(&mut self, o: &Self) -> bool {
        match (self, o) {
            (Entry::Slot(a), Entry::Slot(b)) => a.join(b),
            (Entry::Tags(a), Entry::Tags(b)) => a.join(b),
            (Entry::Lww(a), Entry::Lww(b)) => a.join(b),
            // One run holds one CRDT: entries of two kinds never meet.
            _ => false,
        }
    }
}

/// An update, as the workload issues it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Inc(u64),
    Dec(u64),
    Add(u32),
    Remove(u32),
    Put(u32, u32),
    Del(u32),
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Inc(a) => write!(f, "inc {a}"),
            Op::Dec(a) => write!(f, "dec {a}"),
            Op::Add(e) => write!(f, "add {e}"),
            Op::Remove(e) => write!(f, "remove {e}"),
            Op::Put(k, v) => write!(f, "put {}={}", key_name(*k), value_name(*v)),
            Op::Del(k) => write!(f, "del {}", key_name(*k)),
        }
    }
}

/// A map key as printed: a..z, then k26, k27...
pub fn key_name(k: u32) -> String {
    if k < 26 {
        char::from(b'a' + k as u8).to_string()
    } else {
        format!("k{k}")
    }
}

/// A map value as printed.
pub fn value_name(v: u32) -> String {
    format!("v{v}")
}

/// A replica's state: key-wise entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct State {
    pub entries: BTreeMap<u32, Entry>,
}

/// What a state reads as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    Counter(i64),
    Set(BTreeSet<u32>),
    Map(BTreeMap<u32, u32>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Counter(c) => write!(f, "{c}"),
            Value::Set(s) => write!(f, "{s:?}"),
            Value::Map(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{}={}", key_name(*k), value_name(*v)))
                    .collect();
                write!(f, "{{{}}}", parts.join(", "))
            }
        }
    }
}

impl State {
    /// Join one key's entry in; whether the state changed.
    pub fn join_entry(&mut self, key: u32, e: &Entry) -> bool {
        match self.entries.get_mut(&key) {
            Some(mine) => mine.join(e),
            None => {
                self.entries.insert(key, e.clone());
                true
            }
        }
    }

    /// Whether every entry of `self` is below `other`'s (the lattice order).
    pub fn leq(&self, other: &State) -> bool {
        self.entries.iter().all(|(k, e)| {
            other.entries.get(k).is_some_and(|o| {
                let mut j = o.clone();
                !j.join(e)
            })
        })
    }

    /// The value, as `kind` reads it.
    pub fn value(&self, kind: CrdtKind) -> Value {
        match kind {
            CrdtKind::Gcounter | CrdtKind::Pncounter => {
                let mut c: i64 = 0;
                for e in self.entries.values() {
                    if let Entry::Slot(s) = e {
                        c += s.p as i64 - s.n as i64;
                    }
                }
                Value::Counter(c)
            }
            CrdtKind::Orset => Value::Set(
                self.entries
                    .iter()
                    .filter(|(_, e)| matches!(e, Entry::Tags(t) if t.present()))
                    .map(|(k, _)| *k)
                    .collect(),
            ),
            CrdtKind::Lwwmap => Value::Map(
                self.entries
                    .iter()
                    .filter_map(|(k, e)| match e {
                        Entry::Lww(Lww { value: Some(v), .. }) => Some((*k, *v)),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }

    /// The delta of `op`, issued here with identity `dot` and (LWW-Map) timestamp `ts`: the
    /// one-key state to join in (the delta-mutator).
    pub fn delta(&self, op: Op, dot: Dot, ts: u64) -> (u32, Entry) {
        let (origin, _) = dot;
        let slot = || match self.entries.get(&origin) {
            Some(Entry::Slot(s)) => *s,
            _ => Slot::default(),
        };
        match op {
            Op::Inc(a) => {
                let s = slot();
                (origin, Entry::Slot(Slot { p: s.p + a, n: s.n }))
            }
            Op::Dec(a) => {
                let s = slot();
                (origin, Entry::Slot(Slot { p: s.p, n: s.n + a }))
            }
            Op::Add(e) => (
                e,
                Entry::Tags(Tags {
                    adds: BTreeSet::from([dot]),
                    removed: BTreeSet::new(),
                }),
            ),
            Op::Remove(e) => {
                let observed = match self.entries.get(&e) {
                    Some(Entry::Tags(t)) => t.live(),
                    _ => BTreeSet::new(),
                };
                (
                    e,
                    Entry::Tags(Tags {
                        adds: BTreeSet::new(),
                        removed: observed,
                    }),
                )
            }
            Op::Put(k, v) => (
                k,
                Entry::Lww(Lww {
                    ts,
                    rank: origin,
                    value: Some(v),
                }),
            ),
            Op::Del(k) => (
                k,
                Entry::Lww(Lww {
                    ts,
                    rank: origin,
                    value: None,
                }),
            ),
        }
    }

    /// Join a whole state in; whether this one changed.
    pub fn join(&mut self, other: &State) -> bool {
        let mut changed = false;
        for (k, e) in &other.entries {
            changed |= self.join_entry(*k, e);
        }
        changed
    }

    /// The largest LWW timestamp held (what a Lamport or hybrid clock must exceed).
    pub fn max_ts(&self) -> u64 {
        self.entries
            .values()
            .filter_map(|e| match e {
                Entry::Lww(l) => Some(l.ts),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }
}

impl Lattice for State {
    fn join(&mut self, other: &Self) -> bool {
        State::join(self, other)
    }
}

/// Timestamps of LWW-Map writes.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClockKind {
    /// A Lamport clock, advanced past every timestamp merged in.
    Lamport,
    /// A hybrid logical clock: physical milliseconds (plus this rank's --skew) in the high
    /// bits, a logical counter in the low 16, never behind a timestamp merged in.
    Hybrid,
}

/// A replica's write clock: Lamport, or hybrid (physical time in the high bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub kind: ClockKind,
    /// The largest timestamp issued or seen.
    pub last: u64,
}

impl Clock {
    pub fn new(kind: ClockKind) -> Self {
        Clock { kind, last: 0 }
    }
    /// A timestamp above every one seen, at physical time `phys_ms` (hybrid).
    pub fn tick(&mut self, phys_ms: u64) -> u64 {
        let t = match self.kind {
            ClockKind::Lamport => self.last + 1,
            ClockKind::Hybrid => (phys_ms << 16).max(self.last + 1),
        };
        self.last = t;
        t
    }
    /// A timestamp seen in a merge.
    pub fn observe(&mut self, ts: u64) {
        self.last = self.last.max(ts);
    }
}

/// A hybrid timestamp as (milliseconds, logical).
pub fn hybrid_parts(ts: u64) -> (u64, u64) {
    (ts >> 16, ts & 0xffff)
}

/// FNV-1a over bytes: a stable 64-bit hash, the same at every rank and on every run.
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The hash of one key's entry (a Merkle leaf).
pub fn entry_hash(key: u32, e: &Entry) -> u64 {
    let mut bytes = key.to_le_bytes().to_vec();
    bytes.extend(postcard::to_allocvec(e).expect("an entry encodes"));
    fnv(&bytes).max(1)
}
