//! `leader-election`: omega and ballot leader election (see `mpidist::algos::leader_election`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::leader_election::LeaderElection>()
}
