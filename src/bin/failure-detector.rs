//! `failure-detector`: heartbeat failure detector (see `mpidist::algos::failure_detector`).
fn main() -> std::process::ExitCode {
    mpidist::shared::run::main::<mpidist::algos::failure_detector::FailureDetector>()
}
