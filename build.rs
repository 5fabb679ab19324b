//! Compiles the tiny C shim that exports MPI_REPLACE and MPI_NO_OP (see csrc/).
fn main() {
    println!("cargo:rerun-if-changed=csrc/mpi_constants.c");
    println!("cargo:rerun-if-env-changed=MPICC");
    // The MPI compiler wrapper knows where mpi.h is, for Open MPI and MPICH alike.
    let mpicc = std::env::var("MPICC").unwrap_or_else(|_| "mpicc".into());
    cc::Build::new()
        .compiler(mpicc)
        .file("csrc/mpi_constants.c")
        .compile("mpidist_mpi_constants");
}
