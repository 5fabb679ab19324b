//! The no-progress deadline behind every `--give-up`: a rank stops waiting only after a whole
//! `--give-up` period in which it made no progress (nothing decided, applied, answered or
//! learned), never while work still moves. A slow but progressing run therefore runs on, to
//! its end or to `--timeout` (exit 3, with how far it got); a run whose faults forbid progress
//! still ends.
//!
//! The rank reports a progress counter after each handler ([`Watchdog::saw`], O(1): no timer
//! is re-armed per message); the one timer, when it fires, asks [`Watchdog::left`] whether the
//! period without progress is over, or when to look again.

use std::time::Duration;

/// Whether, and since when, a rank has made no progress.
#[derive(Debug, Clone)]
pub struct Watchdog {
    after_us: u64,
    /// The last progress counter seen, and when it last changed (µs).
    seen: u64,
    since_us: u64,
}

impl Watchdog {
    /// Give up after `after` without progress, counting from `now`.
    pub fn new(after: Duration, now: Duration) -> Watchdog {
        Watchdog {
            after_us: after.as_micros() as u64,
            seen: 0,
            since_us: now.as_micros() as u64,
        }
    }

    /// The period without progress that ends the wait.
    pub fn after(&self) -> Duration {
        Duration::from_micros(self.after_us)
    }

    /// Note the rank's progress counter at `now`: any change is progress.
    pub fn saw(&mut self, progress: u64, now: Duration) {
        if progress != self.seen {
            self.seen = progress;
            self.since_us = now.as_micros() as u64;
        }
    }

    /// At the timer: `None` once a whole period passed without progress (give up), otherwise
    /// how long until the period could be over (re-arm the timer for that).
    pub fn left(&self, now: Duration) -> Option<Duration> {
        let due = self.since_us + self.after_us;
        let now = now.as_micros() as u64;
        (now < due).then(|| Duration::from_micros(due - now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn progress_postpones_the_deadline_and_silence_reaches_it() {
        let mut w = Watchdog::new(ms(100), ms(0));
        assert_eq!(w.left(ms(40)), Some(ms(60)));
        w.saw(1, ms(90));
        assert_eq!(
            w.left(ms(100)),
            Some(ms(90)),
            "progress at 90 ms: due at 190"
        );
        w.saw(1, ms(150));
        assert_eq!(
            w.left(ms(150)),
            Some(ms(40)),
            "the same count is no progress"
        );
        assert_eq!(w.left(ms(190)), None);
        assert_eq!(w.left(ms(200)), None, "110 ms without progress");
    }
}
