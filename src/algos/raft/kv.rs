//! The replicated state machine: a key-value map of `u32` keys and `u64` values, with client
//! sessions that make a retried command take effect once (Raft dissertation §6.3).
//!
//! A client's command carries `low`, its lowest unanswered sequence number: every command
//! below it was answered, so will never be retried, and its cached result can go. A command is
//! executed if its sequence number is at least the session's `low` and has no cached result;
//! otherwise it is a duplicate and its cached result (if still kept) answers it again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::shared::clients::CommandId;

/// A client operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Put { key: u32, value: u64 },
    Get { key: u32 },
}

/// The operation of command `id`: a function of the id and the workload's shape, so that a
/// resent command is the same and the checker can tell what each client asked.
pub fn op_of(id: CommandId, keys: u32, read_permille: u32) -> Op {
    let mut z = ((id.client as u64) << 32 | id.seq as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let key = (z % keys.max(1) as u64) as u32;
    if ((z >> 40) % 1000) < read_permille as u64 {
        Op::Get { key }
    } else {
        Op::Put { key, value: z >> 8 }
    }
}

/// A digest of a key-value map (64-bit FNV-1a over its entries in key order): what servers
/// report of their state machine, and what the checker computes by replaying the log.
pub fn digest(map: &BTreeMap<u32, u64>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in map {
        for b in k.to_le_bytes().into_iter().chain(v.to_le_bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// One client's session: results of executed commands not yet known to be answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub low: u32,
    pub results: BTreeMap<u32, Option<u64>>,
}

/// The state machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kv {
    pub map: BTreeMap<u32, u64>,
    pub sessions: BTreeMap<u32, Session>,
    /// Commands executed (duplicates excluded).
    pub executed: u64,
}

impl Kv {
    /// The cached result of `id`, if it was executed and is still kept.
    pub fn result(&self, id: CommandId) -> Option<Option<u64>> {
        self.sessions.get(&id.client)?.results.get(&id.seq).copied()
    }

    /// Whether `id` was executed and answered long ago (below its session's `low`).
    pub fn answered_long_ago(&self, id: CommandId) -> bool {
        self.sessions
            .get(&id.client)
            .is_some_and(|s| id.seq < s.low)
    }

    /// Apply a client's command: `Some(result)` if executed now, `None` for a duplicate.
    pub fn apply(&mut self, id: CommandId, op: Op, low: u32) -> Option<Option<u64>> {
        let s = self.sessions.entry(id.client).or_default();
        if low > s.low {
            s.low = low;
            while let Some(e) = s.results.first_entry() {
                if *e.key() >= low {
                    break;
                }
                e.remove();
            }
        }
        if id.seq < s.low || s.results.contains_key(&id.seq) {
            return None;
        }
        let r = match op {
            Op::Put { key, value } => {
                self.map.insert(key, value);
                None
            }
            Op::Get { key } => self.map.get(&key).copied(),
        };
        s.results.insert(id.seq, r);
        self.executed += 1;
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(seq: u32) -> CommandId {
        CommandId { client: 7, seq }
    }

    #[test]
    fn a_retried_command_takes_effect_once_and_is_answered_again() {
        let mut kv = Kv::default();
        assert_eq!(kv.apply(id(0), Op::Put { key: 1, value: 5 }, 0), Some(None));
        assert_eq!(kv.apply(id(1), Op::Get { key: 1 }, 0), Some(Some(5)));
        assert_eq!(kv.apply(id(0), Op::Put { key: 1, value: 5 }, 0), None);
        assert_eq!(kv.result(id(1)), Some(Some(5)));
        assert_eq!(kv.executed, 2);
        // The client saw both answers: their results go, and a late copy stays a duplicate.
        assert_eq!(kv.apply(id(2), Op::Get { key: 9 }, 2), Some(None));
        assert_eq!(kv.result(id(1)), None);
        assert!(kv.answered_long_ago(id(1)) && !kv.answered_long_ago(id(2)));
        assert_eq!(kv.apply(id(1), Op::Get { key: 1 }, 2), None);
        assert_eq!(kv.executed, 3);
    }

    #[test]
    fn ops_are_a_function_of_the_id() {
        let a = op_of(id(3), 16, 500);
        assert_eq!(a, op_of(id(3), 16, 500));
        let gets = (0..10_000)
            .filter(|&s| matches!(op_of(id(s), 16, 300), Op::Get { .. }))
            .count();
        assert!((2700..3300).contains(&gets), "{gets}");
        assert!((0..100).all(|s| match op_of(id(s), 4, 0) {
            Op::Put { key, .. } => key < 4,
            Op::Get { .. } => false,
        }));
    }
}
