pub mod failure_detector;
pub mod lamport;
pub mod leader_election;
pub mod shared_counter;
pub mod vector;
pub mod workload;
