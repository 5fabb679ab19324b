//! What the leader-based algorithms share to elect a leader: unique ballots and randomized
//! election timeouts. `leader-election`'s ballot variant teaches them; `single-paxos`,
//! `sequence-paxos` and `raft` use them.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::process::Rank;

/// A ballot: ordered by round, then rank, so two candidates never share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ballot {
    pub round: u64,
    pub rank: Rank,
}

/// How long a rank waits before standing for election: rank 0 stands at T/5 in its first
/// wait, so that a run starts with a known leader; everyone else, and rank 0 later, waits a
/// random T..2T, so that candidacies rarely collide.
pub fn election_delay(rank: Rank, first: bool, timeout: Duration, rng: &mut impl Rng) -> Duration {
    let t = timeout.as_micros() as u64;
    if first && rank == 0 {
        Duration::from_micros(t / 5)
    } else {
        Duration::from_micros(rng.gen_range(t..2 * t))
    }
}
