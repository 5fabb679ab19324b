//! `sequence-paxos`: a replicated log by Sequence Paxos (see `mpidist::algos::sequence_paxos`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::sequence_paxos::SequencePaxos>()
}
