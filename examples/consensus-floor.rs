//! The MPI floor for a commit, and sequence-paxos's commit latency, in one mpirun job
//! (`scripts/bench consensus` runs it at np 4 and 6: servers 0..np-1, the client is rank np-1).
//!
//! Three figures on the same ranks, one after the other, the idle ranks waiting in a sleeping
//! poll as the driver's idle ranks do:
//! - the raw round trip between the client and server 0 (blocking `MPI_Send`/`MPI_Recv`);
//! - the raw commit chain: client to server 0, server 0 to every follower, the first majority
//!   of answers back, server 0 to the client (four one-way hops: the least any leader-based
//!   commit costs);
//! - sequence-paxos under the mpidist driver with one command at a time and no batching
//!   (`--inflight 1 --batch 1`): the median commit latency the client measured;
//! - raft on the same workload, with stable storage not synced (`--no-fsync`: a write survives
//!   the crash of its process, which is the fault model here) and then fdatasync'd on the
//!   folder `--data-dir` names (default: the temporary folder).
//!
//! Usage: consensus-floor --out FILE [--commits N] [--data-dir DIR]

use std::time::{Duration, Instant};

use mpi::traits::*;
use serde_json::json;

use mpidist::algos::raft::{self, Raft};
use mpidist::algos::sequence_paxos::{self, Args, SequencePaxos};
use mpidist::shared::faults::FaultPlan;
use mpidist::shared::mpi::{run_mpi, MpiConfig, World};
use mpidist::shared::observe::latency::Latency;
use mpidist::shared::service::{LogArgs, ServiceArgs};
use mpidist::shared::Algorithm;

const WARMUP: usize = 500;
/// Acceptances have their own tag: the leader must not take the client's next request for one.
const ACCEPTED: i32 = 7;

/// Wait in a sleeping poll for the other ranks (an `MPI_Ibarrier`), so that idle ranks leave
/// the cores to the ranks that work, as the driver's idle ranks do.
fn idle_barrier(world: &mpi::topology::SimpleCommunicator) {
    let mut req = world.immediate_barrier();
    while let Err(r) = req.test() {
        req = r;
        std::thread::sleep(Duration::from_micros(50));
    }
}

fn raw_round_trip(world: &mpi::topology::SimpleCommunicator, client: i32, n: usize) -> f64 {
    let me = world.rank();
    let mut buf = [0u64; 2];
    let mut t0 = Instant::now();
    if me == 0 || me == client {
        let peer = world.process_at_rank(if me == 0 { client } else { 0 });
        for i in 0..WARMUP + n {
            if i == WARMUP {
                t0 = Instant::now();
            }
            if me == client {
                peer.send(&buf[..]);
                peer.receive_into(&mut buf[..]);
            } else {
                peer.receive_into(&mut buf[..]);
                peer.send(&buf[..]);
            }
        }
    }
    let us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
    idle_barrier(world);
    us
}

fn raw_commit_chain(world: &mpi::topology::SimpleCommunicator, servers: i32, n: usize) -> f64 {
    let me = world.rank();
    let client = servers;
    let majority = servers / 2 + 1;
    let mut buf = [0u64; 4];
    let mut t0 = Instant::now();
    for i in 0..WARMUP + n {
        if i == WARMUP {
            t0 = Instant::now();
        }
        if me == client {
            world.process_at_rank(0).send(&buf[..]);
            world.process_at_rank(0).receive_into(&mut buf[..]);
        } else if me == 0 {
            world.process_at_rank(client).receive_into(&mut buf[..]);
            for f in 1..servers {
                world.process_at_rank(f).send(&buf[..]);
            }
            for _ in 1..majority {
                world
                    .any_process()
                    .receive_into_with_tag(&mut buf[..], ACCEPTED);
            }
            world.process_at_rank(client).send(&buf[..]);
            // The rest of the acceptances, off the client's path.
            for _ in majority..servers {
                world
                    .any_process()
                    .receive_into_with_tag(&mut buf[..], ACCEPTED);
            }
        } else if me < servers {
            world.process_at_rank(0).receive_into(&mut buf[..]);
            world.process_at_rank(0).send_with_tag(&buf[..], ACCEPTED);
        }
    }
    let us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
    idle_barrier(world);
    us
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1).cloned())
    };
    let out = flag("--out").expect("--out FILE");
    let n: usize = flag("--commits").map_or(5_000, |s| s.parse().expect("--commits N"));
    let mpi = World::init().expect("MPI init");
    let world = mpi.comm();
    let np = world.size();
    assert!(np >= 2, "run under mpirun -np SERVERS+1");
    let servers = np - 1;
    let rtt = raw_round_trip(world, servers, n);
    let chain = raw_commit_chain(world, servers, n);
    // One command at a time, no batching, no deadline that a slow machine could reach.
    let service = ServiceArgs {
        clients: 1,
        requests: n as u32,
        inflight: 1,
        retry: 40,
        give_up: 60_000,
        log: LogArgs {
            batch: 1,
            election_timeout: 50,
            heartbeat: 10,
        },
    };
    let args = Args {
        service: service.clone(),
    };
    let cfg = MpiConfig {
        seed: 1,
        faults: FaultPlan::default(),
        timeout: Duration::from_secs(120),
        record: false,
        // Crash-stop: no stable storage.
        data_dir: std::env::temp_dir(),
        fsync: false,
        recv_buffer: 1 << 20,
    };
    let run = run_mpi::<SequencePaxos>(&mpi, &args, &cfg);
    // rtt and chain were timed on the client's clock: bring them to rank 0.
    let mut timed = [rtt, chain];
    world
        .process_at_rank(servers)
        .broadcast_into(&mut timed[..]);
    // Raft on the same workload, storage unsynced then synced.
    let raft_args = raft::Args {
        service,
        keys: 16,
        read_ratio: 0.5,
        snapshot_every: 0,
        history: None,
    };
    let base = flag("--data-dir").map_or_else(std::env::temp_dir, Into::into);
    let mut raft_runs = Vec::new();
    for fsync in [false, true] {
        let dir = base.join(format!("mpidist-floor-{}-{fsync}", mpi.root_pid()));
        let cfg = MpiConfig {
            data_dir: dir.clone(),
            fsync,
            ..cfg.clone()
        };
        let run = run_mpi::<Raft>(&mpi, &raft_args, &cfg);
        world.barrier();
        let _ = std::fs::remove_dir_all(&dir);
        raft_runs.push(run);
    }
    if let Ok(Some(run)) = run {
        let raft_figure = |r: &Result<Option<mpidist::shared::RunResult<raft::Output>>, _>,
                           q: fn(&Latency) -> f64| {
            let Ok(Some(r)) = r else {
                return (f64::NAN, false);
            };
            let f = raft::check::figures(&raft_args, r);
            let ok = Raft::check(&raft_args, r).iter().all(|c| c.passed);
            (
                f.commit.commit_latency.as_ref().map_or(f64::NAN, q) * 1e3,
                ok,
            )
        };
        let (raft_p50, raft_ok) = raft_figure(&raft_runs[0], |l| l.p50_ms);
        let (raft_p99, _) = raft_figure(&raft_runs[0], |l| l.p99_ms);
        let (fsync_p50, fsync_ok) = raft_figure(&raft_runs[1], |l| l.p50_ms);
        let (fsync_p99, _) = raft_figure(&raft_runs[1], |l| l.p99_ms);
        let checks = SequencePaxos::check(&args, &run);
        let latency = sequence_paxos::check::figures(&args, &run)
            .commit
            .commit_latency
            .expect("latency");
        let p50_us = latency.p50_ms * 1e3;
        let [rtt, chain] = timed;
        let v = json!({
            "servers": servers,
            "commits": n,
            "raw_round_trip_us": rtt,
            "raw_commit_chain_us": chain,
            "sequence_paxos_p50_us": p50_us,
            "sequence_paxos_p99_us": latency.p99_ms * 1e3,
            "p50_in_round_trips": p50_us / rtt,
            "p50_in_commit_chains": p50_us / chain,
            "raft_p50_us": raft_p50,
            "raft_p99_us": raft_p99,
            "raft_p50_in_round_trips": raft_p50 / rtt,
            "raft_p50_in_commit_chains": raft_p50 / chain,
            "raft_fsync_p50_us": fsync_p50,
            "raft_fsync_p99_us": fsync_p99,
            "raft_fsync_p50_in_round_trips": fsync_p50 / rtt,
            "checks_passed": checks.iter().all(|c| c.passed) && raft_ok && fsync_ok,
        });
        println!(
            "{servers} servers, one command at a time: raw round trip {rtt:.2} us, raw commit chain {chain:.2} us, sequence-paxos p50 {p50_us:.2} us = {:.2}x the round trip, {:.2}x the raw chain",
            p50_us / rtt,
            p50_us / chain
        );
        println!(
            "{servers} servers, raft, one command at a time: p50 {raft_p50:.2} us = {:.2}x the round trip unsynced; {fsync_p50:.1} us = {:.1}x with fdatasync",
            raft_p50 / rtt,
            fsync_p50 / rtt
        );
        std::fs::write(&out, serde_json::to_string_pretty(&v).unwrap()).expect("write");
    }
}
