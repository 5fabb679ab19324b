//! `map-reduce`: word count, inverted index and tf-idf on MPI collectives or as fault-tolerant
//! tasks (see `mpidist::algos::map_reduce`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::map_reduce::MapReduce>()
}
