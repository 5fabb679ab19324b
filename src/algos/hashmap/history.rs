//! The clients' history of a run as the checker and outside checkers read it
//! ([`crate::shared::observe::kv_history`]: `--history FILE` writes it), and
//! `--check-history FILE`, which checks such a file and runs nothing.
//!
//! A value is named `v5.12` when it holds exactly what client 5 wrote in its operation 12 in
//! this run's backend (its id, then the ABD padding), else by its bytes (`0x...`): equal names,
//! equal values.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::ring::key_name;
use super::{Args, Backend, Checker, Output};
use crate::shared::cli::CommonArgs;
use crate::shared::observe::kv_history::{KvCall, KvHistory, KvOp};
use crate::shared::observe::report::Ending;
use crate::shared::run::{code, usage_error, verdict};
use crate::shared::RunResult;

/// Histories of at most this many operations on one key are shrunk to a minimal violation.
pub const SHRINK_LIMIT: usize = 400;

/// The name of value `b`, whose puts in this run are `len` bytes long.
fn value_name(b: &[u8], len: usize) -> String {
    let written = b.len() == len
        && len >= 8
        && (len == 8 || (b[8..12] == *b"val:" && b[12..].iter().all(|&x| x == b'.')));
    if written {
        let c = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let s = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        return format!("v{c}.{s}");
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("0x{hex}")
}

/// Every client operation of a run, times on rank 0's clock.
pub fn of_run(args: &Args, run: &RunResult<Output>) -> KvHistory {
    let len = match args.backend {
        Backend::Abd => (args.value_bytes as usize).max(12),
        // The log client writes its id as one u64.
        Backend::Raft => 8,
    };
    let mut h = KvHistory::default();
    let clients: Vec<_> = run
        .ranks
        .iter()
        .filter_map(|r| match &r.output {
            Output::Client(c) => Some((r, c)),
            Output::Replica(_) | Output::LogServer(_) => None,
        })
        .collect();
    // Keys numbered in order (key-2 before key-10).
    let used: BTreeSet<u32> = clients
        .iter()
        .flat_map(|(_, c)| c.ops.iter().map(|o| o.key))
        .collect();
    let ids: HashMap<u32, u32> = used.into_iter().map(|k| (k, h.key(&key_name(k)))).collect();
    for (r, c) in clients {
        let (off, eps) = (r.clock.offset_us, r.clock.uncertainty_us);
        for o in &c.ops {
            let (what, returned) = match (&o.put, &o.got) {
                (Some(v), _) => (KvCall::Put(h.value(&value_name(v, len))), true),
                (None, Some(got)) => {
                    let out = got.as_ref().map(|v| h.value(&value_name(v, len)));
                    (KvCall::Get(out), true)
                }
                (None, None) => (KvCall::Get(None), false),
            };
            h.ops.push(KvOp {
                client: r.rank as u64,
                key: ids[&o.key],
                what,
                call_us: o.invoke_us as i64 + off,
                ret_us: o.return_us.filter(|_| returned).map(|t| t as i64 + off),
                eps_us: eps,
            });
        }
    }
    h
}

/// `--check-history FILE`: read the history, print the verdict; the exit code (0, 1, 4; 2 for
/// a file that cannot be read, with the line at fault).
pub fn check_file(args: &Args, path: &Path, common: &CommonArgs, quiet: bool) -> u8 {
    let fail = |msg: String| {
        if quiet {
            code::USAGE
        } else {
            usage_error(&msg)
        }
    };
    if common.simulated() || common.np.is_some() {
        return fail(
            "--check-history checks a history file and runs nothing: drop --sim, --np and --seeds"
                .into(),
        );
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return fail(format!("cannot read {}: {e}", path.display())),
    };
    let h = match KvHistory::parse(&text) {
        Ok(h) => h,
        Err(e) => return fail(format!("{} {e}", path.display())),
    };
    let checked = h.check(
        args.checker == Checker::Search,
        args.search_budget,
        SHRINK_LIMIT,
    );
    let eps = h.ops.iter().map(|o| o.eps_us).max().unwrap_or(0);
    let check = checked.to_check(format!(
        "{} operations on {} keys: every key's history has a linearization (clock uncertainty up to {eps} us)",
        checked.ops, checked.keys
    ));
    let exit = verdict(Ending::Finished, std::slice::from_ref(&check));
    if !quiet {
        let pending = h.ops.iter().filter(|o| o.ret_us.is_none()).count();
        println!(
            "history {}: {} operations ({pending} never returned) on {} keys by {} clients",
            path.display(),
            h.ops.len(),
            h.keys.len(),
            h.clients()
        );
        let how = match (check.passed, check.undecided) {
            (true, _) => "passed",
            (false, true) => "UNDECIDED",
            (false, false) => "FAILED",
        };
        println!("  check {}: {how} ({})", check.name, check.detail);
        println!(
            "result: {}",
            match exit {
                code::OK => "the history is linearizable".to_string(),
                code::UNDECIDED => format!(
                    "UNDECIDED: the search gave up within --search-budget {} steps (exit 4)",
                    args.search_budget
                ),
                _ => "the history is NOT linearizable (exit 1)".to_string(),
            }
        );
    }
    exit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_named_by_their_writer_only_when_they_are_what_it_wrote() {
        let abd = b"\0\0\0\x05\0\0\0\x0cval:....";
        assert_eq!(value_name(abd, 16), "v5.12");
        // The same id with other bytes, or another length, is another value.
        assert_eq!(value_name(abd, 12), "0x000000050000000c76616c3a2e2e2e2e");
        assert!(value_name(b"\0\0\0\x05\0\0\0\x0cval:...x", 16).starts_with("0x"));
        assert_eq!(value_name(&((5u64 << 32) | 12).to_be_bytes(), 8), "v5.12");
        assert_eq!(value_name(b"zz", 8), "0x7a7a");
    }
}
