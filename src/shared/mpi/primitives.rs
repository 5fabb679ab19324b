//! Distributed shared primitives: one 64-bit cell updated atomically, and the named types
//! built on it ([`SharedCounter`], [`MaxRegister`], [`CasRegister`]).
//!
//! A [`Cell`] has two backends with the same semantics:
//! - [`RmaCell`]: the cell lives in an MPI window on a chosen host rank, created and freed
//!   collectively ([`RmaCellHost`]); every operation is one MPI-3 atomic (`MPI_Fetch_and_op`,
//!   `MPI_Compare_and_swap`) inside a `lock_all` epoch, so no lock is taken and every rank
//!   makes progress;
//! - [`LocalCell`]: std atomics, for the simulator, threads and unit tests.
//!
//! [`LegacyCell`] and [`LegacyLocal`] reproduce the C originals' scheme for comparison: one
//! slot per rank on the host, an exclusive lock, a Get of every slot, an update of the own slot.
//! The logical value is the sum of the slots; under the exclusive lock any read-modify-write is
//! atomic, so it is correct, only slow.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use super::rma::{Epoch, Lock, Op, Window};
use super::world::World;
use crate::shared::process::Rank;

/// One shared 64-bit cell; every operation is atomic and returns the value it replaced.
pub trait Cell {
    fn fetch_add(&self, v: i64) -> i64;
    fn fetch_max(&self, v: i64) -> i64;
    /// If the cell holds `expected`, store `new`. Returns the previous value either way.
    fn compare_and_swap(&self, expected: i64, new: i64) -> i64;
    fn swap(&self, v: i64) -> i64;
    fn load(&self) -> i64;
}

/// The in-process backend.
#[derive(Debug, Default)]
pub struct LocalCell(AtomicI64);

impl LocalCell {
    pub fn new(v: i64) -> Self {
        LocalCell(AtomicI64::new(v))
    }
}

impl Cell for LocalCell {
    fn fetch_add(&self, v: i64) -> i64 {
        self.0.fetch_add(v, Ordering::SeqCst)
    }
    fn fetch_max(&self, v: i64) -> i64 {
        self.0.fetch_max(v, Ordering::SeqCst)
    }
    fn compare_and_swap(&self, expected: i64, new: i64) -> i64 {
        match self
            .0
            .compare_exchange(expected, new, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(v) | Err(v) => v,
        }
    }
    fn swap(&self, v: i64) -> i64 {
        self.0.swap(v, Ordering::SeqCst)
    }
    fn load(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The window that hosts one cell on rank `host`; created and freed collectively.
pub struct RmaCellHost {
    win: Window,
    host: Rank,
}

impl RmaCellHost {
    /// Collective over `world`.
    pub fn new(world: &World, host: Rank, init: i64) -> Self {
        let len = usize::from(world.rank() == host);
        RmaCellHost {
            win: Window::allocate(world.comm(), len, init),
            host,
        }
    }
    /// Open the cell for use (a `lock_all` epoch until the returned cell is dropped).
    pub fn open(&self) -> RmaCell<'_> {
        RmaCell {
            epoch: self.win.lock_all(),
            host: self.host,
        }
    }
}

/// The RMA backend: one MPI atomic per operation.
pub struct RmaCell<'w> {
    epoch: Epoch<'w>,
    host: Rank,
}

impl Cell for RmaCell<'_> {
    fn fetch_add(&self, v: i64) -> i64 {
        self.epoch.fetch_and_op(self.host, 0, v, Op::Sum)
    }
    fn fetch_max(&self, v: i64) -> i64 {
        self.epoch.fetch_and_op(self.host, 0, v, Op::Max)
    }
    fn compare_and_swap(&self, expected: i64, new: i64) -> i64 {
        self.epoch.compare_and_swap(self.host, 0, expected, new)
    }
    fn swap(&self, v: i64) -> i64 {
        self.epoch.fetch_and_op(self.host, 0, v, Op::Replace)
    }
    fn load(&self) -> i64 {
        self.epoch.fetch_and_op(self.host, 0, 0, Op::NoOp)
    }
}

impl RmaCell<'_> {
    /// The benchmark floor: `n` bare fetch-and-add calls, no wrapper.
    pub fn raw_fetch_add_loop(&self, n: u64) -> i64 {
        self.epoch.raw_fetch_add_loop(self.host, n)
    }
}

/// The originals' scheme over MPI: np slots on the host, exclusive lock per operation.
pub struct LegacyCell {
    win: Window,
    host: Rank,
    me: Rank,
    np: usize,
}

impl LegacyCell {
    /// Collective over `world`; the logical value starts at `init` (in the host's slot).
    pub fn new(world: &World, host: Rank, init: i64) -> Self {
        let np = world.size();
        let me = world.rank();
        let len = if me == host { np } else { 0 };
        let win = Window::allocate(world.comm(), len, 0);
        if me == host {
            win.lock(host, Lock::Exclusive).put(host, host, init);
        }
        world.barrier();
        LegacyCell { win, host, me, np }
    }

    /// Under the exclusive lock: read every slot, compute the new logical value from the old
    /// one, and move the own slot by the difference.
    fn update(&self, f: impl FnOnce(i64) -> i64) -> i64 {
        let e = self.win.lock(self.host, Lock::Exclusive);
        // Slots move by wrapping differences, so their sum wraps too (not `sum`: it panics on
        // overflow in debug builds, e.g. with max's initial i64::MIN).
        let old = (e.get(self.host, 0, self.np).iter()).fold(0i64, |a, &b| a.wrapping_add(b));
        let new = f(old);
        if new != old {
            e.accumulate(self.host, self.me, new.wrapping_sub(old), Op::Sum);
        }
        old
    }
}

/// A cell whose every operation is one read-modify-write under a lock (`update`).
macro_rules! cell_by_update {
    ($t:ty) => {
        impl Cell for $t {
            fn fetch_add(&self, v: i64) -> i64 {
                self.update(|x| x.wrapping_add(v))
            }
            fn fetch_max(&self, v: i64) -> i64 {
                self.update(|x| x.max(v))
            }
            fn compare_and_swap(&self, expected: i64, new: i64) -> i64 {
                self.update(|x| if x == expected { new } else { x })
            }
            fn swap(&self, v: i64) -> i64 {
                self.update(|_| v)
            }
            fn load(&self) -> i64 {
                self.update(|x| x)
            }
        }
    };
}

cell_by_update!(LegacyCell);

/// The originals' scheme in process: per-rank slots behind one lock.
#[derive(Debug)]
pub struct LegacyLocal {
    slots: Mutex<Vec<i64>>,
}

impl LegacyLocal {
    pub fn new(np: usize, init: i64) -> Self {
        let mut slots = vec![0; np.max(1)];
        slots[0] = init;
        LegacyLocal {
            slots: Mutex::new(slots),
        }
    }
    /// The view of one rank (whose slot it updates).
    pub fn for_rank(&self, rank: Rank) -> LegacyLocalRank<'_> {
        LegacyLocalRank { cell: self, rank }
    }
}

/// [`LegacyLocal`] as seen by one rank.
pub struct LegacyLocalRank<'a> {
    cell: &'a LegacyLocal,
    rank: Rank,
}

impl LegacyLocalRank<'_> {
    fn update(&self, f: impl FnOnce(i64) -> i64) -> i64 {
        let mut slots = self.cell.slots.lock().unwrap_or_else(|e| e.into_inner());
        let old = slots.iter().fold(0i64, |a, &b| a.wrapping_add(b));
        let new = f(old);
        slots[self.rank] = slots[self.rank].wrapping_add(new.wrapping_sub(old));
        old
    }
}

cell_by_update!(LegacyLocalRank<'_>);

/// A counter: unique tickets, e.g. ballots for leader election.
pub struct SharedCounter<C: Cell>(pub C);

impl<C: Cell> SharedCounter<C> {
    /// Add `n`; returns the value before (a unique ticket when every `n` > 0).
    pub fn fetch_add(&self, n: i64) -> i64 {
        self.0.fetch_add(n)
    }
    /// The counter incremented with compare-and-swap (retrying on contention); returns the
    /// value it incremented from and the number of failed attempts.
    pub fn cas_increment(&self) -> (i64, u64) {
        let mut seen = self.0.load();
        let mut retries = 0;
        loop {
            let prev = self.0.compare_and_swap(seen, seen + 1);
            if prev == seen {
                return (seen, retries);
            }
            seen = prev;
            retries += 1;
        }
    }
    pub fn read(&self) -> i64 {
        self.0.load()
    }
}

/// A max register: reads never go down.
pub struct MaxRegister<C: Cell>(pub C);

impl<C: Cell> MaxRegister<C> {
    /// Write `v`; returns the maximum before it.
    pub fn write(&self, v: i64) -> i64 {
        self.0.fetch_max(v)
    }
    pub fn read(&self) -> i64 {
        self.0.load()
    }
}

/// A register with compare-and-swap and swap.
pub struct CasRegister<C: Cell>(pub C);

impl<C: Cell> CasRegister<C> {
    pub fn compare_and_swap(&self, expected: i64, new: i64) -> i64 {
        self.0.compare_and_swap(expected, new)
    }
    /// Replace the value (the "reset" of the originals); returns the previous one.
    pub fn swap(&self, v: i64) -> i64 {
        self.0.swap(v)
    }
    pub fn read(&self) -> i64 {
        self.0.load()
    }
}

/// A shared reference to a cell is a cell (so wrappers can borrow one).
impl<C: Cell> Cell for &C {
    fn fetch_add(&self, v: i64) -> i64 {
        (*self).fetch_add(v)
    }
    fn fetch_max(&self, v: i64) -> i64 {
        (*self).fetch_max(v)
    }
    fn compare_and_swap(&self, expected: i64, new: i64) -> i64 {
        (*self).compare_and_swap(expected, new)
    }
    fn swap(&self, v: i64) -> i64 {
        (*self).swap(v)
    }
    fn load(&self) -> i64 {
        (*self).load()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(c: &impl Cell) {
        assert_eq!(c.fetch_add(5), 0);
        assert_eq!(c.fetch_max(3), 5);
        assert_eq!(c.fetch_max(-9), 5);
        assert_eq!(c.fetch_max(7), 5);
        assert_eq!(
            c.compare_and_swap(6, 1),
            7,
            "no swap when the value differs"
        );
        assert_eq!(c.compare_and_swap(7, 1), 7);
        assert_eq!(c.swap(-4), 1);
        assert_eq!(c.load(), -4);
    }

    #[test]
    fn both_in_process_backends_have_the_same_semantics() {
        exercise(&LocalCell::new(0));
        let legacy = LegacyLocal::new(3, 0);
        exercise(&legacy.for_rank(2));
    }

    #[test]
    fn counters_under_threads_hand_out_every_ticket_once() {
        let cell = LocalCell::new(0);
        let legacy = LegacyLocal::new(4, 0);
        let mut tickets: Vec<i64> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|r| {
                    let (cell, legacy) = (&cell, &legacy);
                    s.spawn(move || {
                        let c = SharedCounter(cell);
                        let l = SharedCounter(legacy.for_rank(r));
                        let mut got = Vec::new();
                        for _ in 0..1000 {
                            got.push(c.fetch_add(1));
                            got.push(c.cas_increment().0);
                            got.push(10_000 + l.fetch_add(1));
                        }
                        got
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        tickets.sort_unstable();
        let expected: Vec<i64> = (0..8000).chain(10_000..14_000).collect();
        assert_eq!(tickets, expected);
    }
}
