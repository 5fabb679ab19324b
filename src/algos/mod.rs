//! The algorithms, one module each, one binary each (`src/bin/`). A module holds the sans-IO
//! state machine ([`crate::shared::Process`]), its messages and timers, the
//! [`crate::shared::Algorithm`] that builds and checks it, and its unit tests; once it outgrows
//! one file it becomes a folder whose `mod.rs` keeps the doc that teaches the algorithm.
//! `clocks` holds two, Lamport and vector clocks, which share one seeded event workload.

pub mod anti_entropy;
pub mod clocks;
pub mod failure_detector;
pub mod hashmap;
pub mod leader_election;
pub mod map_reduce;
pub mod raft;
pub mod sequence_paxos;
pub mod shared_counter;
pub mod single_paxos;
pub mod swim;
