//! mpidist: foundational distributed algorithms over MPI.
//!
//! Every algorithm is a sans-IO state machine ([`shared::Process`]) with a checker of its
//! guarantees ([`shared::Algorithm`]). Two drivers run the same state machines: the MPI
//! driver ([`shared::mpi::driver`], one process per rank under `mpirun`) and the
//! deterministic simulator ([`shared::runtime::sim`], all ranks in one process, virtual
//! time). [`algos`] holds the algorithms, one module (or folder) each; [`shared`] the
//! machinery they share. See the README for the user's view.

pub mod algos;
pub mod shared;
