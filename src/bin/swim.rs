//! `swim`: SWIM membership with suspicion, incarnations and piggybacked gossip (see
//! `mpidist::algos::swim`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::swim::Swim>()
}
