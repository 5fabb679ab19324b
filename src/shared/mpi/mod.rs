//! Everything that touches MPI, and the only code with `unsafe`: [`world`] (MPI initialized,
//! the world communicator, the collectives the binaries need), [`collectives`] (byte
//! all-to-all, scatter, broadcast, sums and maxima: the data-moving collectives of `map-reduce`
//! and `anti-entropy`), [`driver`] (the MPI driver of
//! the state machines), [`rma`] (one-sided windows, epochs, atomics) and [`primitives`]
//! (shared counters and registers on RMA windows, with the C originals' locked scheme and a
//! std-atomics backend for the simulator and tests). The rest of the crate uses these safe
//! types and never the `mpi` crate itself.

pub mod collectives;
pub mod driver;
pub mod primitives;
pub mod rma;
pub mod world;

pub use collectives::Group;
pub use driver::{run_mpi, MpiConfig, SetupFailed};
pub use world::World;
