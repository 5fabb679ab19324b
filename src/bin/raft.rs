//! `raft`: Raft with crash-recovery, snapshots and a replicated key-value map (see
//! `mpidist::algos::raft`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::raft::Raft>()
}
