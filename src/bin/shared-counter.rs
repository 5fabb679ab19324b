//! `shared-counter`: distributed shared primitives on MPI RMA windows (see
//! `mpidist::algos::shared_counter`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::shared_counter::SharedCounter>()
}
