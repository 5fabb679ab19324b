//! The key-value clients' history of a run for outside checkers (`--history FILE`, the format
//! of [`crate::shared::observe::kv_history`]): every command a client submitted, called when it
//! was first submitted and returned when its first answer came, times on rank 0's clock.
//!
//! A value is the decimal text of the `u64` a put wrote; keys are `key-0`, `key-1`, ...

use std::collections::HashMap;

use super::kv::{op_of, Op};
use super::{Args, Output};
use crate::shared::clients::CommandId;
use crate::shared::observe::kv_history::{KvCall, KvHistory, KvOp};
use crate::shared::RunResult;

/// Every command of every client of a run.
pub fn of_run(args: &Args, run: &RunResult<Output>) -> KvHistory {
    let cfg = args.config(run.np);
    let mut h = KvHistory::default();
    for k in 0..cfg.keys {
        h.key(&format!("key-{k}"));
    }
    for r in &run.ranks {
        let Output::Client(c) = &r.output else {
            continue;
        };
        let (off, eps) = (r.clock.offset_us, r.clock.uncertainty_us);
        let latency: HashMap<u32, u32> = c.work.done.iter().map(|d| (d.0, d.1)).collect();
        let reads: HashMap<u32, Option<u64>> = c.reads.iter().copied().collect();
        for (seq, call) in (0..c.work.submitted).zip(c.work.submit_times_us()) {
            let id = CommandId {
                client: r.rank as u32,
                seq,
            };
            let ret = latency
                .get(&seq)
                .map(|&lat| (call + lat as u64) as i64 + off);
            let (key, what, ret) = match op_of(id, cfg.keys, cfg.read_permille) {
                Op::Put { key, value } => (key, KvCall::Put(h.value(&value.to_string())), ret),
                // An answered get whose result was not kept counts as never answered.
                Op::Get { key } => match reads.get(&seq).filter(|_| ret.is_some()) {
                    Some(out) => (key, KvCall::Get(out.map(|v| h.value(&v.to_string()))), ret),
                    None => (key, KvCall::Get(None), None),
                },
            };
            h.ops.push(KvOp {
                client: r.rank as u64,
                key,
                what,
                call_us: call as i64 + off,
                ret_us: ret,
                eps_us: eps,
            });
        }
    }
    h
}
