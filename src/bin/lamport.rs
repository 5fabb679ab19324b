//! `lamport`: Lamport logical clocks (see `mpidist::algos::clocks::lamport`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::clocks::lamport::Lamport>()
}
