//! MPI-3 one-sided communication (RMA), wrapped once and safely.
//!
//! rsmpi 0.8 has no window API, so this module calls `mpi::ffi` directly (the only raw FFI
//! outside the driver's request buffers). What it offers:
//! - [`Window`]: owns `len` 64-bit cells allocated by `MPI_Win_allocate` (collective), freed by
//!   `MPI_Win_free` on drop (collective too: every rank drops its window);
//! - access only inside an epoch guard: [`Window::lock_all`] (shared, all targets) or
//!   [`Window::lock`] (exclusive or shared, one target); the guard unlocks on drop;
//! - typed atomic operations on an [`Epoch`]: fetch-and-op (sum, max, min, replace, no-op),
//!   compare-and-swap, accumulate, get, put. Each completes (`MPI_Win_flush`) before it
//!   returns, so origin and result buffers can live on the stack.
//!
//! `MPI_REPLACE` and `MPI_NO_OP` come from a C shim compiled against the installed `mpi.h`
//! (csrc/mpi_constants.c), which works on Open MPI and MPICH alike.

use std::os::raw::{c_int, c_void};

use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives};

use crate::shared::process::Rank;

extern "C" {
    fn mpidist_op_replace() -> ffi::MPI_Op;
    fn mpidist_op_no_op() -> ffi::MPI_Op;
}

/// Reduction operations of fetch-and-op and accumulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Sum,
    Max,
    Min,
    /// Write the operand (atomic swap with fetch-and-op).
    Replace,
    /// Leave the target unchanged (atomic read with fetch-and-op).
    NoOp,
}

impl Op {
    fn raw(self) -> ffi::MPI_Op {
        // SAFETY: reading MPI's predefined operation handles (set at MPI_Init) and calling the
        // shim's functions, which only return such handles.
        unsafe {
            match self {
                Op::Sum => ffi::RSMPI_SUM,
                Op::Max => ffi::RSMPI_MAX,
                Op::Min => ffi::RSMPI_MIN,
                Op::Replace => mpidist_op_replace(),
                Op::NoOp => mpidist_op_no_op(),
            }
        }
    }
}

/// Exclusive or shared lock of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    Exclusive,
    Shared,
}

fn check(what: &str, rc: c_int) {
    // MPI's default error handler aborts on errors, so this only catches a changed handler.
    assert_eq!(rc, 0, "{what} failed with MPI error {rc}");
}

/// A window of `i64` cells on every rank of a communicator.
pub struct Window {
    win: ffi::MPI_Win,
    np: usize,
    len: usize,
}

impl Window {
    /// Collective: every rank of `comm` calls it; this rank exposes `len` cells (0 is fine),
    /// set to `init`.
    pub fn allocate(comm: &SimpleCommunicator, len: usize, init: i64) -> Window {
        let mut base: *mut i64 = std::ptr::null_mut();
        // SAFETY: reading MPI's predefined null window handle.
        let mut win: ffi::MPI_Win = unsafe { ffi::RSMPI_WIN_NULL };
        let bytes = (len * std::mem::size_of::<i64>()) as ffi::MPI_Aint;
        // SAFETY: MPI_Win_allocate writes the base address into `base` (passed as a pointer
        // to the pointer, as the standard requires) and the handle into `win`.
        let rc = unsafe {
            ffi::MPI_Win_allocate(
                bytes,
                std::mem::size_of::<i64>() as c_int,
                ffi::RSMPI_INFO_NULL,
                comm.as_raw(),
                (&mut base as *mut *mut i64).cast::<c_void>(),
                &mut win,
            )
        };
        check("MPI_Win_allocate", rc);
        let w = Window {
            win,
            np: comm.size() as usize,
            len,
        };
        if len > 0 {
            // Initialize through RMA on ourselves: portable under both memory models.
            let me = comm.rank() as Rank;
            let e = w.lock(me, Lock::Exclusive);
            for i in 0..len {
                e.put(me, i, init);
            }
        }
        comm.barrier();
        w
    }

    /// A passive-target epoch on every rank (shared locks).
    pub fn lock_all(&self) -> Epoch<'_> {
        // SAFETY: `win` is a live window; the epoch guard unlocks it exactly once.
        check("MPI_Win_lock_all", unsafe {
            ffi::MPI_Win_lock_all(0, self.win)
        });
        Epoch {
            w: self,
            target: None,
        }
    }

    /// A passive-target epoch on one rank.
    pub fn lock(&self, target: Rank, lock: Lock) -> Epoch<'_> {
        assert!(target < self.np, "lock of rank {target} of {}", self.np);
        let kind = match lock {
            Lock::Exclusive => ffi::MPI_LOCK_EXCLUSIVE,
            Lock::Shared => ffi::MPI_LOCK_SHARED,
        } as c_int;
        // SAFETY: as in `lock_all`.
        check("MPI_Win_lock", unsafe {
            ffi::MPI_Win_lock(kind, target as c_int, 0, self.win)
        });
        Epoch {
            w: self,
            target: Some(target),
        }
    }

    /// Cells exposed by this rank.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether this rank exposes no cell.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: no epoch can be open (epochs borrow the window); MPI_Win_free is
        // collective, and every rank drops its window at the same point of the program.
        let rc = unsafe { ffi::MPI_Win_free(&mut self.win) };
        if rc != 0 {
            log::error!("MPI_Win_free failed with MPI error {rc}");
        }
    }
}

/// An open access epoch; operations complete before they return.
pub struct Epoch<'w> {
    w: &'w Window,
    target: Option<Rank>,
}

impl Epoch<'_> {
    fn at(&self, target: Rank) -> c_int {
        assert!(target < self.w.np, "RMA to rank {target} of {}", self.w.np);
        if let Some(t) = self.target {
            assert_eq!(t, target, "this epoch locks rank {t} only");
        }
        target as c_int
    }

    /// Complete every operation issued to `target` in this epoch.
    pub fn flush(&self, target: Rank) {
        let t = self.at(target);
        // SAFETY: a live window inside an epoch.
        check("MPI_Win_flush", unsafe {
            ffi::MPI_Win_flush(t, self.w.win)
        });
    }

    /// Atomically apply `op` with `value` to cell `disp` of `target`; returns the old value.
    pub fn fetch_and_op(&self, target: Rank, disp: usize, value: i64, op: Op) -> i64 {
        let t = self.at(target);
        let mut old = 0i64;
        // SAFETY: origin and result buffers are locals that outlive the call and the flush
        // that completes it.
        check("MPI_Fetch_and_op", unsafe {
            ffi::MPI_Fetch_and_op(
                (&value as *const i64).cast(),
                (&mut old as *mut i64).cast(),
                ffi::RSMPI_INT64_T,
                t,
                disp as ffi::MPI_Aint,
                op.raw(),
                self.w.win,
            )
        });
        self.flush(target);
        old
    }

    /// Atomically: if cell == `expected`, set it to `new`. Returns the old value.
    pub fn compare_and_swap(&self, target: Rank, disp: usize, expected: i64, new: i64) -> i64 {
        let t = self.at(target);
        let mut old = 0i64;
        // SAFETY: as in `fetch_and_op`.
        check("MPI_Compare_and_swap", unsafe {
            ffi::MPI_Compare_and_swap(
                (&new as *const i64).cast(),
                (&expected as *const i64).cast(),
                (&mut old as *mut i64).cast(),
                ffi::RSMPI_INT64_T,
                t,
                disp as ffi::MPI_Aint,
                self.w.win,
            )
        });
        self.flush(target);
        old
    }

    /// Atomically combine `value` into cell `disp` of `target` (no result).
    pub fn accumulate(&self, target: Rank, disp: usize, value: i64, op: Op) {
        let t = self.at(target);
        // SAFETY: as in `fetch_and_op`.
        check("MPI_Accumulate", unsafe {
            ffi::MPI_Accumulate(
                (&value as *const i64).cast(),
                1,
                ffi::RSMPI_INT64_T,
                t,
                disp as ffi::MPI_Aint,
                1,
                ffi::RSMPI_INT64_T,
                op.raw(),
                self.w.win,
            )
        });
        self.flush(target);
    }

    /// Read `n` cells from `disp` of `target` (not atomic with respect to other operations
    /// unless the epoch is an exclusive lock).
    pub fn get(&self, target: Rank, disp: usize, n: usize) -> Vec<i64> {
        let t = self.at(target);
        let mut out = vec![0i64; n];
        // SAFETY: `out` has room for `n` cells and outlives the flush that completes the get.
        check("MPI_Get", unsafe {
            ffi::MPI_Get(
                out.as_mut_ptr().cast(),
                n as c_int,
                ffi::RSMPI_INT64_T,
                t,
                disp as ffi::MPI_Aint,
                n as c_int,
                ffi::RSMPI_INT64_T,
                self.w.win,
            )
        });
        self.flush(target);
        out
    }

    /// Write one cell (not atomic with respect to accumulates; use fetch-and-op Replace).
    pub fn put(&self, target: Rank, disp: usize, value: i64) {
        let t = self.at(target);
        // SAFETY: as in `fetch_and_op`.
        check("MPI_Put", unsafe {
            ffi::MPI_Put(
                (&value as *const i64).cast(),
                1,
                ffi::RSMPI_INT64_T,
                t,
                disp as ffi::MPI_Aint,
                1,
                ffi::RSMPI_INT64_T,
                self.w.win,
            )
        });
        self.flush(target);
    }

    /// The floor for benchmarks: `n` bare `MPI_Fetch_and_op(+1)` + `MPI_Win_flush` pairs on
    /// cell 0 of `target`, with no wrapper in between. Returns the last old value.
    pub fn raw_fetch_add_loop(&self, target: Rank, n: u64) -> i64 {
        let t = self.at(target);
        let (one, mut old) = (1i64, 0i64);
        let sum = Op::Sum.raw();
        for _ in 0..n {
            // SAFETY: as in `fetch_and_op`.
            unsafe {
                ffi::MPI_Fetch_and_op(
                    (&one as *const i64).cast(),
                    (&mut old as *mut i64).cast(),
                    ffi::RSMPI_INT64_T,
                    t,
                    0,
                    sum,
                    self.w.win,
                );
                ffi::MPI_Win_flush(t, self.w.win);
            }
        }
        old
    }
}

impl Drop for Epoch<'_> {
    fn drop(&mut self) {
        // SAFETY: the epoch was opened on this live window by `lock`/`lock_all`.
        let rc = unsafe {
            match self.target {
                Some(t) => ffi::MPI_Win_unlock(t as c_int, self.w.win),
                None => ffi::MPI_Win_unlock_all(self.w.win),
            }
        };
        if rc != 0 {
            log::error!("unlocking an RMA epoch failed with MPI error {rc}");
        }
    }
}
