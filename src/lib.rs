//! mpidist: foundational distributed algorithms over MPI.
//!
//! Every algorithm is a sans-IO state machine ([`shared::Process`]) with a checker of its
//! guarantees ([`shared::Algorithm`]). Two drivers run the same state machines: the MPI
//! runtime ([`shared::mpi_driver`], one process per rank under `mpirun`) and the deterministic
//! simulator ([`shared::sim`], all ranks in one process, virtual time). See the README for the
//! user's view and `DESIGN.md` notes in the module docs for the internals.

pub mod algos;
pub mod shared;
