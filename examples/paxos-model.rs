//! Explore every reachable state of single-decree Paxos (the real state machine) on 2
//! proposers, 3 acceptors and 1 learner, and print what was found.
//! Usage: paxos-model [MAX_BALLOTS] [QUORUM] [MAX_DEPTH] [--accept-in-phase1] [--learner]
//! (defaults 2, 2, 10: the README's figures; the search stops at a budget of states, so its
//! memory is bounded)
use mpidist::algos::single_paxos::model::{explore, ModelConfig};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let nums: Vec<u64> = args.iter().filter_map(|s| s.parse().ok()).collect();
    let num = |i: usize, d: u64| -> u64 { nums.get(i).copied().unwrap_or(d) };
    let cfg = ModelConfig {
        max_ballots: num(0, 2) as u32,
        quorum: num(1, 2) as usize,
        accept_in_phase1: args.iter().any(|a| a == "--accept-in-phase1"),
        learner: args.iter().any(|a| a == "--learner"),
        max_depth: num(2, 10) as usize,
        ..ModelConfig::default()
    };
    let t = std::time::Instant::now();
    let r = explore(cfg);
    println!(
        "{cfg:?}: {} states, {} transitions, depth {}, {} states with a decision, {} ({:.1} s)",
        r.states,
        r.transitions,
        r.max_depth,
        r.deciding_states,
        match &r.violation {
            Some(v) => format!("VIOLATION {v}"),
            None if r.complete => "agreement and validity hold in every state".into(),
            None => format!(
                "stopped at the budget of {} states: the depth was not covered, use a smaller one",
                cfg.max_states
            ),
        },
        t.elapsed().as_secs_f64()
    );
    std::process::ExitCode::from(u8::from(r.violation.is_some() || !r.complete))
}
