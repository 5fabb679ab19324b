//! `vector`: vector clocks (see `mpidist::algos::clocks::vector`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::clocks::vector::Vector>()
}
