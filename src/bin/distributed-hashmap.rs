//! `distributed-hashmap`: a quorum-replicated key-value map on a consistent-hashing ring, with
//! anti-entropy and a linearizability checker (see `mpidist::algos::hashmap`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::hashmap::DistributedHashmap>()
}
