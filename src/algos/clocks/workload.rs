//! The seeded random workload shared by the clock algorithms (`--pattern random`): each rank
//! performs K events, one every 0 to 2 ms, each a local event or a send to a random peer.

use std::time::Duration;

use rand::Rng;

use crate::shared::{Ctx, Rank};

/// Timers of the clock algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockTimer {
    /// Time for the next random event.
    Next,
    /// The initiator has waited long enough for lost messages.
    Patience,
}

/// What the next random event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Local,
    SendTo(Rank),
}

/// K random events, paced by the `Next` timer.
#[derive(Debug, Clone)]
pub struct RandomWorkload {
    left: u32,
}

impl RandomWorkload {
    pub fn new(events: u32) -> Self {
        RandomWorkload { left: events }
    }

    pub fn is_done(&self) -> bool {
        self.left == 0
    }

    /// Arm the timer for the next event, if any is left.
    pub fn schedule<M: Clone>(&self, ctx: &mut Ctx<M, ClockTimer>) {
        if self.left > 0 {
            let gap = ctx.rng().gen_range(0..=2000);
            ctx.set_timer(ClockTimer::Next, Duration::from_micros(gap));
        }
    }

    /// Draw the next event (half local, half sends; only local at np = 1).
    pub fn next<M: Clone>(&mut self, ctx: &mut Ctx<M, ClockTimer>) -> Action {
        self.left -= 1;
        let (me, np) = (ctx.rank(), ctx.np());
        if np > 1 && ctx.rng().gen_bool(0.5) {
            let peer = ctx.rng().gen_range(0..np - 1);
            Action::SendTo(if peer >= me { peer + 1 } else { peer })
        } else {
            Action::Local
        }
    }
}
