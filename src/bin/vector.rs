//! `vector`: vector clocks (see `mpidist::algos::vector`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::vector::VectorClocks>()
}
