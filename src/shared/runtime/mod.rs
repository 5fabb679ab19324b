//! What runs the state machines, apart from MPI: [`runner`], one rank as both drivers see it
//! (timers, fault decisions, metrics, the event recorder), and [`sim`], the deterministic
//! simulator that runs all ranks in one process on virtual time, and [`store`], the stable
//! storage of ranks that recover from crashes, in the checksummed format of [`wal`]. The MPI
//! driver is in
//! [`crate::shared::mpi`], the only room that touches MPI.

pub mod runner;
pub mod sim;
pub mod store;
pub mod wal;
