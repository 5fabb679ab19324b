//! `--sync allreduce`: the C originals' one-shot collective merge, under mpirun. Every rank
//! issues all its updates, then one merge gives every rank the join: the counters'
//! slots by `MPI_Allreduce(MAX)` over one array (`crdt-gcounter.c`), the OR-Set and the
//! LWW-Map by `MPI_Gatherv` of the encoded states to rank 0, which joins them, and an
//! `MPI_Bcast` of the join (`lww-map.c`, which gathered with point-to-point sends). The same
//! checks as gossip judge the result. A collective cannot lose a rank or a message, so faults,
//! the simulator, traces and diagrams are refused.

use std::time::Instant;

use super::crdt::{CrdtKind, Entry, Slot, State};
use super::replica::{Replica, ReplicaOutput};
use super::{check, figures, summarize, AntiEntropy, Args, Replicas};
use crate::shared::cli::CommonArgs;
use crate::shared::mpi::World;
use crate::shared::observe::outputs::Outputs;
use crate::shared::observe::report::{Ending, Metrics, RankResult, RunResult};
use crate::shared::run::{self, code, Conclusion};
use crate::shared::Algorithm;

/// The collective merge's refusals: the simulator, and faults a collective cannot survive.
pub fn validate(_args: &Args, common: &CommonArgs, np: usize) -> Result<(), String> {
    common.refuse_for_collectives(np, "--sync allreduce", "--sync gossip or --sync merkle")
}

fn or_abort<T>(world: &World, r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| {
        run::usage_error(&e);
        world.abort(i32::from(code::USAGE))
    })
}

/// This rank's part of the collective merge; rank 0's exit code (the others return OK).
pub fn under_mpi(world: &World, args: &Args, common: &CommonArgs, outputs: &mut Outputs) -> u8 {
    let (rank, np) = (world.rank(), world.size());
    let mut replica = Replica::new(args, rank, np);
    world.barrier();
    let started = Instant::now();
    replica.issue_all(common.seed);
    let (joined, bytes) = match args.crdt {
        CrdtKind::Gcounter | CrdtKind::Pncounter => {
            // One array of 2 slots per rank (increments, decrements), maxed element-wise.
            let mut slots = vec![0u64; 2 * np];
            if let Some(Entry::Slot(s)) = replica.state().entries.get(&(rank as u32)) {
                slots[2 * rank] = s.p;
                slots[2 * rank + 1] = s.n;
            }
            let maxed = world.max_u64s(&slots);
            let mut state = State::default();
            for r in 0..np {
                let (p, n) = (maxed[2 * r], maxed[2 * r + 1]);
                if p > 0 || n > 0 {
                    state.entries.insert(r as u32, Entry::Slot(Slot { p, n }));
                }
            }
            (state, (slots.len() * 8 * np) as u64)
        }
        CrdtKind::Orset | CrdtKind::Lwwmap => {
            let mine = postcard::to_allocvec(replica.state()).expect("a state encodes");
            let gathered = world.gather_to_root(&mine);
            let joined = gathered.map(|all| {
                let mut s = State::default();
                for b in &all {
                    let theirs: State = postcard::from_bytes(b).expect("a rank's state decodes");
                    s.join(&theirs);
                }
                postcard::to_allocvec(&s).expect("a state encodes")
            });
            let sizes = world.sum_u64(mine.len() as u64);
            let bytes = or_abort(
                world,
                world.broadcast_bytes(joined.as_deref().unwrap_or(&[])),
            );
            let state: State = postcard::from_bytes(&bytes).expect("the join decodes");
            (state, sizes + (bytes.len() * np.saturating_sub(1)) as u64)
        }
    };
    replica.merged(&joined, started.elapsed());
    let elapsed_s = started.elapsed().as_secs_f64();
    let blob = postcard::to_allocvec(&(replica.output(), world.host_name())).expect("encodes");
    let Some(blobs) = world.gather_to_root(&blob) else {
        return code::OK;
    };
    let ranks = blobs
        .iter()
        .enumerate()
        .map(|(r, b)| {
            let (output, host): (ReplicaOutput, String) =
                postcard::from_bytes(b).expect("a rank's output decodes");
            RankResult {
                rank: r,
                crashed: false,
                done: true,
                output,
                earlier: Vec::new(),
                metrics: Metrics::default(),
                clock: Default::default(),
                host,
                storage: Default::default(),
                hit_as_leader: Vec::new(),
            }
        })
        .collect();
    let run = RunResult {
        algorithm: "anti-entropy",
        driver: "mpi",
        np,
        seed: common.seed,
        faults: common.faults(),
        ending: Ending::Finished,
        elapsed_s,
        ranks,
        history: None,
        groups: Vec::new(),
    };
    let checks = check::check(args, &run);
    let mut f = figures(args, &run);
    f.bytes_sent = bytes;
    let mut summary = summarize(args, &run);
    summary.push(format!(
        "collective merge: {} bytes moved ({}), {:.3} ms",
        bytes,
        match args.crdt {
            CrdtKind::Gcounter | CrdtKind::Pncounter => "MPI_Allreduce(MAX) of the slots",
            _ => "MPI_Gatherv of the states to rank 0, MPI_Bcast of the join",
        },
        elapsed_s * 1e3
    ));
    run::finish::<AntiEntropy, _>(
        common,
        outputs,
        Conclusion {
            args,
            run: &run,
            checks,
            summary,
            figures: serde_json::to_value(f).ok(),
            view: Replicas::output_view,
            kinds: &[],
            roles: Vec::new(),
        },
    )
}
