//! Logical clocks: the `lamport` and `vector` binaries ([`lamport`], [`vector`]), one folder
//! because both run the same seeded workload ([`workload`], `--pattern random`): each clock
//! times the same events, so their runs compare side by side.

pub mod lamport;
pub mod vector;
pub mod workload;
