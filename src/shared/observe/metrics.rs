//! Message metrics: counters per message kind (sent, delivered, dropped, duplicated, lost to a
//! crash, bytes) and communication steps, kept per rank by the runtime and summed at rank 0.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Message counters of one kind (or of all kinds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Send effects issued by the algorithm.
    pub sent: u64,
    /// Messages handed to a live process.
    pub delivered: u64,
    /// Lost by the fault plan (`--drop`, `--partition`).
    pub dropped: u64,
    /// Extra copies made by `--dup`.
    pub duplicated: u64,
    /// Arrived at a crashed rank and discarded.
    pub lost_to_crash: u64,
    /// Encoded payload bytes of the sent messages.
    pub bytes_sent: u64,
}

impl Counters {
    pub(crate) fn add(&mut self, o: &Counters) {
        self.sent += o.sent;
        self.delivered += o.delivered;
        self.dropped += o.dropped;
        self.duplicated += o.duplicated;
        self.lost_to_crash += o.lost_to_crash;
        self.bytes_sent += o.bytes_sent;
    }
}

/// One rank's metrics (or the sum over ranks).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub total: Counters,
    /// Per message kind, in first-seen order (few kinds: a vector beats a map here).
    pub by_kind: Vec<(String, Counters)>,
    /// Received messages that did not decode.
    pub decode_failures: u64,
    /// Longest causal chain of messages ending at this rank.
    pub communication_steps: u64,
    /// Records written to stable storage, and syncs (`fdatasync`) that made them durable.
    pub storage_writes: u64,
    pub storage_syncs: u64,
}

impl Metrics {
    /// Apply `f` to the total and to the counters of `kind`.
    pub fn count(&mut self, kind: &str, f: impl Fn(&mut Counters)) {
        f(&mut self.total);
        // Kinds come from `&'static str`s: a length check rejects most mismatches cheaply.
        match self
            .by_kind
            .iter_mut()
            .find(|(k, _)| k.len() == kind.len() && k == kind)
        {
            Some((_, c)) => f(c),
            None => {
                let mut c = Counters::default();
                f(&mut c);
                self.by_kind.push((kind.to_string(), c));
            }
        }
    }

    /// Messages of `kind` sent (0 if none).
    pub fn sent_of(&self, kind: &str) -> u64 {
        self.by_kind
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, c)| c.sent)
    }

    /// Sum over ranks (steps: the maximum).
    pub fn merge(all: impl IntoIterator<Item = Metrics>) -> Metrics {
        let mut m = Metrics::default();
        for r in all {
            // `count` adds to the total too.
            for (k, c) in &r.by_kind {
                m.count(k, |x| x.add(c));
            }
            m.decode_failures += r.decode_failures;
            m.storage_writes += r.storage_writes;
            m.storage_syncs += r.storage_syncs;
            m.communication_steps = m.communication_steps.max(r.communication_steps);
        }
        m
    }

    pub(crate) fn to_json(&self) -> Value {
        let by_kind: BTreeMap<&str, &Counters> =
            self.by_kind.iter().map(|(k, c)| (k.as_str(), c)).collect();
        json!({
            "messages_sent": self.total.sent,
            "messages_delivered": self.total.delivered,
            "messages_dropped": self.total.dropped,
            "messages_duplicated": self.total.duplicated,
            "messages_lost_to_crash": self.total.lost_to_crash,
            "bytes_sent": self.total.bytes_sent,
            "decode_failures": self.decode_failures,
            "communication_steps": self.communication_steps,
            "storage_writes": self.storage_writes,
            "storage_syncs": self.storage_syncs,
            "by_kind": by_kind,
        })
    }
}
