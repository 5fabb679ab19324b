pub mod lamport;
pub mod vector;
pub mod workload;
