//! Byte collectives over the world communicator, for the binaries that move data with real
//! collectives rather than point-to-point loops (`map-reduce`): all-to-all of variable-size
//! blobs (`MPI_Alltoall` of the counts, then `MPI_Alltoallv` of the bytes), a scatter of
//! variable-size blobs from rank 0 (`MPI_Scatterv`), a broadcast of rank 0's blob
//! (`MPI_Bcast`), a sum and maxima (`MPI_Allreduce`),
//! and an abort that ends every rank (`MPI_Abort`); and [`Group`], a sub-communicator
//! (`MPI_Comm_split`) with the same all-to-all, for a shuffle among a subset of the ranks.
//!
//! Counts are MPI `int`s: a blob over 2 GiB is refused with a sentence, not truncated.

use mpi::collective::SystemOperation;
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::{Color, Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Root};

use super::World;

/// An empty Rust slice points at address 1, which Open MPI reads as `MPI_IN_PLACE` (see
/// [`World::gather_to_root`]): buffers are at least one byte of real memory.
fn backing(len: usize) -> Vec<u8> {
    vec![0u8; len.max(1)]
}

fn count(len: usize) -> Result<i32, String> {
    i32::try_from(len).map_err(|_| {
        format!("a collective message of {len} bytes exceeds MPI's 2 GiB count: use smaller chunks")
    })
}

fn displacements(counts: &[i32]) -> Vec<i32> {
    counts
        .iter()
        .scan(0i32, |acc, &c| {
            let d = *acc;
            *acc += c;
            Some(d)
        })
        .collect()
}

/// All-to-all of blobs over `comm`: `send[i]` goes to rank `i`; returns what each rank sent
/// here, in rank order. Two collectives: the counts (`MPI_Alltoall`), then the bytes
/// (`MPI_Alltoallv`).
fn all_to_all_bytes(comm: &SimpleCommunicator, send: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    assert_eq!(send.len(), comm.size() as usize, "one blob per rank");
    let counts: Vec<i32> = send
        .iter()
        .map(|b| count(b.len()))
        .collect::<Result<_, _>>()?;
    let total: usize = send.iter().map(Vec::len).sum();
    count(total)?;
    let mut recv_counts = vec![0i32; send.len()];
    comm.all_to_all_into(&counts[..], &mut recv_counts[..]);
    let mut flat = backing(total);
    let mut at = 0;
    for b in send {
        flat[at..at + b.len()].copy_from_slice(b);
        at += b.len();
    }
    let send_displs = displacements(&counts);
    let recv_total: usize = recv_counts.iter().map(|&c| c as usize).sum();
    count(recv_total)?;
    let recv_displs = displacements(&recv_counts);
    let mut all = backing(recv_total);
    {
        let s = Partition::new(&flat[..], &counts[..], &send_displs[..]);
        let mut r = PartitionMut::new(&mut all[..], &recv_counts[..], &recv_displs[..]);
        comm.all_to_all_varcount_into(&s, &mut r);
    }
    Ok(recv_displs
        .iter()
        .zip(&recv_counts)
        .map(|(&d, &c)| all[d as usize..(d + c) as usize].to_vec())
        .collect())
}

/// A subset of the world's ranks with a communicator of its own (`MPI_Comm_split`), made by
/// [`World::split_groups`]: its ranks are numbered 0.. in world-rank order.
pub struct Group {
    comm: SimpleCommunicator,
}

impl Group {
    pub fn rank(&self) -> usize {
        self.comm.rank() as usize
    }
    pub fn size(&self) -> usize {
        self.comm.size() as usize
    }
    /// [`World::all_to_all_bytes`] among the group's ranks only.
    pub fn all_to_all_bytes(&self, send: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
        all_to_all_bytes(&self.comm, send)
    }
}

impl World {
    /// All-to-all of blobs: `send[i]` goes to rank `i`; returns what each rank sent here, in
    /// rank order. Two collectives: the counts (`MPI_Alltoall`), then the bytes
    /// (`MPI_Alltoallv`). Every rank must call it, with `send.len() == size()`.
    pub fn all_to_all_bytes(&self, send: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
        all_to_all_bytes(self.comm(), send)
    }

    /// Split the world into groups (`MPI_Comm_split`, a collective call): the ranks that give
    /// the same `group` share one [`Group`], ordered by world rank.
    pub fn split_groups(&self, group: u32) -> Group {
        let color = Color::with_value(i32::try_from(group).expect("a group number fits an int"));
        let comm = self
            .comm()
            .split_by_color_with_key(color, self.rank() as i32)
            .expect("a defined color always gives a communicator");
        Group { comm }
    }

    /// Every rank's blob at every rank, in rank order (`MPI_Allgather` of the sizes, then
    /// `MPI_Allgatherv`).
    pub fn all_gather_bytes(&self, mine: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let len = count(mine.len())?;
        let mut lens = vec![0i32; self.size()];
        self.comm().all_gather_into(&len, &mut lens[..]);
        let total: usize = lens.iter().map(|&l| l as usize).sum();
        count(total)?;
        let displs = displacements(&lens);
        let mut all = backing(total);
        // Real memory even when empty (see `backing`).
        let mut send = backing(mine.len());
        send[..mine.len()].copy_from_slice(mine);
        {
            let mut r = PartitionMut::new(&mut all[..], &lens[..], &displs[..]);
            self.comm()
                .all_gather_varcount_into(&send[..mine.len()], &mut r);
        }
        Ok(displs
            .iter()
            .zip(&lens)
            .map(|(&d, &l)| all[d as usize..(d + l) as usize].to_vec())
            .collect())
    }

    /// Scatter blobs from rank 0 (`MPI_Scatter` of the counts, then `MPI_Scatterv`): `parts`
    /// (one per rank, given at rank 0 only) and this rank's blob back.
    pub fn scatter_bytes(&self, parts: Option<&[Vec<u8>]>) -> Result<Vec<u8>, String> {
        let root = self.comm().process_at_rank(0);
        let mut mine = 0i32;
        if self.rank() == 0 {
            let parts = parts.expect("rank 0 gives the parts");
            assert_eq!(parts.len(), self.size(), "one blob per rank");
            let counts: Vec<i32> = parts
                .iter()
                .map(|b| count(b.len()))
                .collect::<Result<_, _>>()?;
            let total: usize = parts.iter().map(Vec::len).sum();
            count(total)?;
            root.scatter_into_root(&counts[..], &mut mine);
            let mut flat = backing(total);
            let mut at = 0;
            for b in parts {
                flat[at..at + b.len()].copy_from_slice(b);
                at += b.len();
            }
            let displs = displacements(&counts);
            let mut buf = backing(mine as usize);
            {
                let s = Partition::new(&flat[..], &counts[..], &displs[..]);
                root.scatter_varcount_into_root(&s, &mut buf[..mine as usize]);
            }
            buf.truncate(mine as usize);
            Ok(buf)
        } else {
            root.scatter_into(&mut mine);
            let mut buf = backing(mine as usize);
            root.scatter_varcount_into(&mut buf[..mine as usize]);
            buf.truncate(mine as usize);
            Ok(buf)
        }
    }

    /// The sum of every rank's `v`, at every rank (`MPI_Allreduce`).
    pub fn sum_u64(&self, v: u64) -> u64 {
        let mut out = 0u64;
        self.comm()
            .all_reduce_into(&v, &mut out, SystemOperation::sum());
        out
    }

    /// The largest of every rank's `v`, at every rank (`MPI_Allreduce`).
    pub fn max_u64(&self, v: u64) -> u64 {
        let mut out = 0u64;
        self.comm()
            .all_reduce_into(&v, &mut out, SystemOperation::max());
        out
    }

    /// The element-wise largest of every rank's `v` (the same length at every rank), at every
    /// rank (`MPI_Allreduce`, `MPI_MAX`): the state-based G-Counter join of `anti-entropy`'s
    /// collective merge. Values stay below 2^63 (MPICH compares `MPI_UINT64_T` as signed).
    pub fn max_u64s(&self, v: &[u64]) -> Vec<u64> {
        let mut out = vec![0u64; v.len()];
        self.comm()
            .all_reduce_into(v, &mut out[..], SystemOperation::max());
        out
    }

    /// Rank 0's blob at every rank (`MPI_Bcast` of its length, then of its bytes); `mine` is
    /// read at rank 0 only.
    pub fn broadcast_bytes(&self, mine: &[u8]) -> Result<Vec<u8>, String> {
        let root = self.comm().process_at_rank(0);
        let mut len = if self.rank() == 0 {
            count(mine.len())?
        } else {
            0
        };
        root.broadcast_into(&mut len);
        let len = len as usize;
        // Real memory even when empty (see `backing`).
        let mut buf = backing(len);
        if self.rank() == 0 {
            buf[..len].copy_from_slice(mine);
        }
        root.broadcast_into(&mut buf[..len]);
        buf.truncate(len);
        Ok(buf)
    }

    /// A barrier that sleeps while it waits (`MPI_Ibarrier`, tested every millisecond): for
    /// ranks that wait while one of them works alone, and must not take its core by polling
    /// (a blocking barrier spins).
    pub fn sleepy_barrier(&self) {
        let mut req = self.comm().immediate_barrier();
        loop {
            match req.test() {
                Ok(_) => return,
                Err(r) => {
                    req = r;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        }
    }

    /// End every rank of the job with `code` (`MPI_Abort`): for a rank that cannot go on
    /// while the others wait in a collective.
    pub fn abort(&self, code: i32) -> ! {
        self.comm().abort(code)
    }
}
