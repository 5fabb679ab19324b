//! `lamport`: Lamport logical clocks (see `mpidist::algos::lamport`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::lamport::LamportClocks>()
}
