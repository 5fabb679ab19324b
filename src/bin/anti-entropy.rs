//! `anti-entropy`: CRDT replicas converged by gossip, Merkle sync or a collective merge (see
//! `mpidist::algos::anti_entropy`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::anti_entropy::AntiEntropy>()
}
