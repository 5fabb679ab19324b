//! `single-paxos`: single-decree Paxos (see `mpidist::algos::single_paxos`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::single_paxos::SinglePaxos>()
}
