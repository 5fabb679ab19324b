//! [`World`]: MPI initialized, its world communicator, and the few collectives the binaries
//! and primitives need (barrier, max, gather to rank 0, role-group reductions, broadcast of an
//! exit code, a problem found by any rank said once by rank 0). Dropping it finalizes MPI.

use mpi::collective::SystemOperation;
use mpi::datatype::PartitionMut;
use mpi::point_to_point::{Destination, Source};
use mpi::topology::{Color, Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Root};

use crate::shared::process::Rank;

/// MPI, initialized: the world communicator and the collectives the binaries need. Dropping
/// it finalizes MPI.
pub struct World {
    // Declared before the universe so that it is dropped first.
    comm: SimpleCommunicator,
    _universe: mpi::environment::Universe,
}

impl World {
    /// Initialize MPI (a singleton run when not started by mpirun).
    pub fn init() -> Option<World> {
        // Open MPI 4.x's osc/rdma over shared memory segfaults in 64-bit MPI_Compare_and_swap
        // (open-mpi/ompi#7967, #11349). Unless the user chose, exclude it: one node then gets
        // osc/sm (also several times faster), several nodes osc/ucx or pt2pt. MPICH ignores it.
        if std::env::var_os("OMPI_MCA_osc").is_none() {
            std::env::set_var("OMPI_MCA_osc", "^rdma");
        }
        let universe = mpi::initialize()?;
        // A panic on one rank must not leave the others waiting in a collective forever.
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report(info);
            SimpleCommunicator::world().abort(70);
        }));
        Some(World {
            comm: universe.world(),
            _universe: universe,
        })
    }
    pub fn rank(&self) -> Rank {
        self.comm.rank() as Rank
    }
    pub fn size(&self) -> usize {
        self.comm.size() as usize
    }
    /// The raw communicator, for the RMA module and benchmarks.
    pub fn comm(&self) -> &SimpleCommunicator {
        &self.comm
    }
    pub fn barrier(&self) {
        self.comm.barrier();
    }
    /// The largest of every rank's `v`, at every rank.
    pub fn max_f64(&self, v: f64) -> f64 {
        let mut out = 0.0f64;
        self.comm
            .all_reduce_into(&v, &mut out, SystemOperation::max());
        out
    }
    /// Gather every rank's bytes at rank 0 (`MPI_Gatherv`): `Some(all, in rank order)` there.
    /// Empty blobs are fine (a rank with nothing to say in [`World::settle`]).
    pub fn gather_to_root(&self, blob: &[u8]) -> Option<Vec<Vec<u8>>> {
        // An empty Rust slice points at address 1 (dangling, aligned), which is Open MPI's
        // MPI_IN_PLACE: as a send buffer on a non-root rank, or as the receive buffer at the
        // root when every blob is empty, MPI_Gatherv fails with MPI_ERR_ARG and aborts the
        // job. Empty buffers are therefore zero-length views of real memory.
        static NOTHING: [u8; 1] = [0];
        let blob = if blob.is_empty() { &NOTHING[..0] } else { blob };
        let root = self.comm.process_at_rank(0);
        let len = blob.len() as i32;
        if self.rank() != 0 {
            root.gather_into(&len);
            root.gather_varcount_into(blob);
            return None;
        }
        let mut lens = vec![0i32; self.size()];
        root.gather_into_root(&len, &mut lens[..]);
        let displs: Vec<i32> = lens
            .iter()
            .scan(0i32, |acc, &l| {
                let d = *acc;
                *acc += l;
                Some(d)
            })
            .collect();
        let total: usize = lens.iter().map(|&l| l as usize).sum();
        // At least one byte, for the reason above (the partition uses `total` of them).
        let mut all = vec![0u8; total.max(1)];
        {
            let mut part = PartitionMut::new(&mut all[..], &lens[..], &displs[..]);
            root.gather_varcount_into_root(blob, &mut part);
        }
        Some(
            displs
                .iter()
                .zip(&lens)
                .map(|(d, l)| all[*d as usize..(*d + *l) as usize].to_vec())
                .collect(),
        )
    }
    /// Split the world by membership (`MPI_Comm_split`: a collective call on every rank) and,
    /// on the members, reduce `value` over the group's own communicator (`MPI_Allreduce`):
    /// `[members, members with a value, min, max]`. `None` on non-members.
    pub fn group_view(&self, member: bool, value: Option<u64>) -> Option<[u64; 4]> {
        let color = if member {
            Color::with_value(0)
        } else {
            Color::undefined()
        };
        let group = self.comm.split_by_color(color)?;
        let counts = [1, u64::from(value.is_some())];
        let mut sums = [0u64; 2];
        group.all_reduce_into(&counts[..], &mut sums[..], SystemOperation::sum());
        // min of v and of MAX - v: the smallest and the largest value in one reduction. Reduced
        // as i64 with the top bit flipped (which keeps the order): MPICH 4.0.2 takes MPI_MIN of
        // MPI_UINT64_T as signed, and found u64::MAX smaller than 1851.
        let flip = |x: u64| (x ^ (1 << 63)) as i64;
        let unflip = |x: i64| (x as u64) ^ (1 << 63);
        let ends = value.map_or([i64::MAX; 2], |v| [flip(v), flip(u64::MAX - v)]);
        let mut mins = [0i64; 2];
        group.all_reduce_into(&ends[..], &mut mins[..], SystemOperation::min());
        Some([
            sums[0],
            sums[1],
            unflip(mins[0]),
            u64::MAX - unflip(mins[1]),
        ])
    }
    /// This process's host, as MPI names it (`MPI_Get_processor_name`).
    pub fn host_name(&self) -> String {
        mpi::environment::processor_name().unwrap_or_default()
    }
    /// Rank 0's process id, at every rank: a name for this job's scratch files.
    pub fn root_pid(&self) -> u32 {
        let mut pid = std::process::id();
        self.comm.process_at_rank(0).broadcast_into(&mut pid);
        pid
    }
    /// Cristian's clock synchronization against rank 0 (a collective call): this rank's
    /// offset, rank 0's clock minus its own in µs (`now_us` read on each side), and the
    /// offset's uncertainty, half the shortest of `rounds` round trips (plus the clocks' 1 µs
    /// resolution). Rank 0 gets (0, 0). Adding the offset to a local time gives rank 0's time
    /// within the uncertainty.
    pub fn clock_offset(&self, now_us: impl Fn() -> i64, rounds: usize) -> (i64, i64) {
        const SYNC_TAG: i32 = 9;
        let me = self.rank();
        if me == 0 {
            for k in 1..self.size() {
                let peer = self.comm.process_at_rank(k as i32);
                for _ in 0..rounds {
                    let (_, _): (i64, _) = peer.receive_with_tag(SYNC_TAG);
                    peer.send_with_tag(&now_us(), SYNC_TAG);
                }
            }
            return (0, 0);
        }
        let root = self.comm.process_at_rank(0);
        let mut best = (i64::MAX, 0i64);
        for _ in 0..rounds {
            let t0 = now_us();
            root.send_with_tag(&t0, SYNC_TAG);
            let (theirs, _): (i64, _) = root.receive_with_tag(SYNC_TAG);
            let t1 = now_us();
            if t1 - t0 < best.0 {
                best = (t1 - t0, theirs - (t0 + t1) / 2);
            }
        }
        (best.1, best.0 / 2 + 1)
    }
    /// Synchronize the clocks (`clock_offset`, `rounds` round trips per rank), then start
    /// together: a barrier, after which every rank's clock restarts at 0. Returns the new
    /// origin and the offset and uncertainty on it. Without the common start, rank 0, busy
    /// syncing with each rank in turn, began seconds late on loaded hosts, and the first
    /// operations that needed it timed out.
    pub fn synchronized_start(&self, rounds: usize) -> (std::time::Instant, i64, i64) {
        let base = std::time::Instant::now();
        let (offset, uncertainty) = self.clock_offset(|| base.elapsed().as_micros() as i64, rounds);
        self.barrier();
        let start = std::time::Instant::now();
        let mine = (start - base).as_micros() as i64;
        let mut root = mine;
        self.comm.process_at_rank(0).broadcast_into(&mut root);
        // Rank 0's restarted clock is its old one minus `root`, ours minus `mine`.
        (start, offset - root + mine, uncertainty)
    }
    /// Settle at rank 0 what each rank found for itself (its storage folder, its file), so
    /// that a problem is said once, by rank 0, and every rank acts alike (a collective call):
    /// every rank's `mine` is gathered there, `decide` reads them (in rank order) and returns
    /// an exit code, which every rank gets.
    pub fn settle(&self, mine: &str, decide: impl FnOnce(&[String]) -> u8) -> u8 {
        let code = match self.gather_to_root(mine.as_bytes()) {
            Some(all) => {
                let all: Vec<String> = all
                    .iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect();
                decide(&all)
            }
            None => 0,
        };
        self.agree_on_exit_code(code)
    }
    /// Broadcast rank 0's exit code so that every rank exits with it.
    pub fn agree_on_exit_code(&self, code: u8) -> u8 {
        let mut c = code;
        self.comm.process_at_rank(0).broadcast_into(&mut c);
        c
    }
}
