//! A server: the replicas of the keys whose groups it is in, answering queries and stores, and
//! (with `--anti-entropy`) repairing its keys against the servers it shares segments with.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::ring::hash;
use super::{Config, Msg, ReplicaReport, Stored, Timer, Version};
use crate::shared::progress::Watchdog;
use crate::shared::{Ctx, Rank};

type C<'a> = Ctx<'a, Msg, Timer>;

#[derive(Debug, Clone)]
pub struct Replica {
    pub me: Rank,
    cfg: Arc<Config>,
    /// key -> (version, value, segment).
    store: BTreeMap<String, (Stored, u32)>,
    /// Segment -> the XOR of [`entry_hash`] over its keys in `store`, kept as `store` changes
    /// (absent: no key yet, digest 0).
    digest: BTreeMap<u32, u64>,
    peers: Vec<Rank>,
    /// The segments whose group holds this server (those anti-entropy compares).
    segs: Vec<u32>,
    next_peer: usize,
    finished: BTreeSet<Rank>,
    repaired: u64,
    exchanges: u64,
    gave_up: bool,
    /// Writes that changed the store (client stores and repairs): its progress.
    changed: u64,
    watch: Watchdog,
    /// Once every client finished: exchanges in a row that found nothing to repair on either
    /// side (see [`Replica::is_done`]), and whether the current one found something.
    quiet: usize,
    differed: bool,
}

/// The digest of one entry: order-free when XORed over a segment.
fn entry_hash(key: &str, v: Version) -> u64 {
    let mut bytes = key.as_bytes().to_vec();
    bytes.extend_from_slice(&v.clock.to_le_bytes());
    bytes.extend_from_slice(&v.writer.to_le_bytes());
    hash(&bytes)
}

impl Replica {
    pub fn new(me: Rank, cfg: Arc<Config>) -> Self {
        Replica {
            me,
            peers: cfg.ring.peers(me),
            segs: cfg.ring.segments_of(me),
            cfg,
            store: BTreeMap::new(),
            digest: BTreeMap::new(),
            next_peer: 0,
            finished: BTreeSet::new(),
            repaired: 0,
            exchanges: 0,
            gave_up: false,
            changed: 0,
            watch: Watchdog::new(Duration::ZERO, Duration::ZERO),
            quiet: 0,
            differed: false,
        }
    }

    /// Without anti-entropy a server has no work of its own. With it, it exchanges until every
    /// client said it is finished, and then until a round with each of its peers in a row found
    /// nothing to repair on either side (a peer that differs answers with entries): the
    /// replicas settle before the run ends, so the checker can ask them to agree.
    pub fn is_done(&self) -> bool {
        self.cfg.anti_entropy.is_none() || self.gave_up || self.settled()
    }

    fn settled(&self) -> bool {
        self.finished.len() == self.cfg.clients && self.quiet >= self.peers.len()
    }

    /// Keep `stored` for `key` if it is newer than ours; whether it was.
    fn absorb(&mut self, key: &str, stored: Stored) -> bool {
        match self.store.get_mut(key) {
            Some((mine, _)) if mine.0 >= stored.0 => false,
            Some((mine, seg)) => {
                let change = entry_hash(key, mine.0) ^ entry_hash(key, stored.0);
                *self.digest.entry(*seg).or_default() ^= change;
                *mine = stored;
                self.changed += 1;
                true
            }
            None => {
                let seg = self.cfg.ring.segment(key);
                *self.digest.entry(seg).or_default() ^= entry_hash(key, stored.0);
                self.store.insert(key.to_string(), (stored, seg));
                self.changed += 1;
                true
            }
        }
    }

    /// The digest of a segment (0 for an empty one).
    fn digest_of(&self, seg: u32) -> u64 {
        self.digest.get(&seg).copied().unwrap_or(0)
    }

    /// The digest of each of `segs`, in segment order, once each.
    fn digests(&self, segs: &[u32]) -> Vec<(u32, u64)> {
        let mut segs = segs.to_vec();
        segs.sort_unstable();
        segs.dedup();
        segs.into_iter().map(|s| (s, self.digest_of(s))).collect()
    }

    fn entries<'a>(
        &'a self,
        segs: &'a BTreeSet<u32>,
    ) -> impl Iterator<Item = (&'a String, &'a Stored)> + 'a {
        self.store
            .iter()
            .filter(|(_, (_, s))| segs.contains(s))
            .map(|(k, (st, _))| (k, st))
    }

    pub fn on_start(&mut self, ctx: &mut C) {
        if let Some(p) = self.cfg.anti_entropy {
            if !self.peers.is_empty() {
                ctx.set_timer(Timer::AntiEntropy, p);
            }
            self.watch = Watchdog::new(self.cfg.give_up, ctx.now());
            ctx.set_timer(Timer::GiveUp, self.cfg.give_up);
        }
    }

    /// What it has done so far: any change is progress (see [`Watchdog`]).
    fn progress(&self) -> u64 {
        self.changed + self.finished.len() as u64
    }

    pub fn on_message(&mut self, from: Rank, msg: Msg, ctx: &mut C) {
        match msg {
            Msg::Query { op, key } => {
                let stored = self.store.get(&key).map(|(s, _)| s.clone());
                ctx.send(from, Msg::QueryResp { op, stored });
            }
            Msg::Store {
                op,
                key,
                version,
                value,
            } => {
                // Idempotent: an older or repeated store changes nothing, and is acknowledged
                // (the replica holds that version or a newer one).
                self.absorb(&key, (version, value));
                ctx.send(from, Msg::StoreAck { op });
            }
            Msg::Finished => {
                if from >= self.cfg.servers
                    && self.finished.insert(from)
                    && self.finished.len() == self.cfg.clients
                {
                    ctx.note("every client finished");
                    self.end_if_settled(ctx);
                }
                ctx.send(from, Msg::FinishedAck);
            }
            Msg::Digests { segs } => {
                let differ: BTreeSet<u32> = segs
                    .iter()
                    .filter(|&&(s, d)| self.digest_of(s) != d)
                    .map(|s| s.0)
                    .collect();
                if !differ.is_empty() {
                    let items = self
                        .entries(&differ)
                        .map(|(k, s)| (k.clone(), s.clone()))
                        .collect();
                    let segs = differ.into_iter().collect();
                    ctx.send(
                        from,
                        Msg::Entries {
                            segs,
                            items,
                            reply: true,
                        },
                    );
                }
            }
            Msg::Entries { segs, items, reply } => {
                self.differed = true;
                let theirs: BTreeMap<&String, Version> =
                    items.iter().map(|(k, s)| (k, s.0)).collect();
                let segs: BTreeSet<u32> = segs.into_iter().collect();
                let back: Vec<(String, Stored)> = if reply {
                    self.entries(&segs)
                        .filter(|(k, s)| theirs.get(k).is_none_or(|v| *v < s.0))
                        .map(|(k, s)| (k.clone(), s.clone()))
                        .collect()
                } else {
                    Vec::new()
                };
                let mut fixed = 0;
                for (k, s) in items {
                    if self.absorb(&k, s) {
                        fixed += 1;
                    }
                }
                if fixed > 0 {
                    self.repaired += fixed;
                    ctx.local(format!("anti-entropy: {fixed} key(s) repaired from {from}"));
                }
                if !back.is_empty() {
                    let segs = segs.into_iter().collect();
                    ctx.send(
                        from,
                        Msg::Entries {
                            segs,
                            items: back,
                            reply: false,
                        },
                    );
                }
            }
            Msg::QueryResp { .. } | Msg::StoreAck { .. } | Msg::FinishedAck | Msg::Raft(_) => {}
        }
    }

    pub fn on_timer(&mut self, t: Timer, ctx: &mut C) {
        match t {
            Timer::AntiEntropy => {
                if self.finished.len() == self.cfg.clients {
                    // The exchange before this one, done: did it find anything?
                    self.quiet = if self.differed { 0 } else { self.quiet + 1 };
                    self.differed = false;
                    if self.end_if_settled(ctx) {
                        return;
                    }
                }
                let peer = self.peers[self.next_peer % self.peers.len()];
                self.next_peer += 1;
                self.exchanges += 1;
                let segs = self.digests(&self.cfg.ring.shared_among(&self.segs, peer));
                ctx.send(peer, Msg::Digests { segs });
                if let Some(p) = self.cfg.anti_entropy {
                    ctx.set_timer(Timer::AntiEntropy, p);
                }
            }
            Timer::GiveUp => {
                self.watch.saw(self.progress(), ctx.now());
                if let Some(left) = self.watch.left(ctx.now()) {
                    ctx.set_timer(Timer::GiveUp, left);
                    return;
                }
                self.gave_up = true;
                ctx.note(format!(
                    "gave up: no progress for {} ms",
                    self.cfg.give_up.as_millis()
                ));
                ctx.cancel_timer(Timer::AntiEntropy);
            }
            Timer::Retry | Timer::Raft(_) => {}
        }
    }

    /// Stop exchanging once settled; whether it did.
    fn end_if_settled(&mut self, ctx: &mut C) -> bool {
        if self.cfg.anti_entropy.is_none() || !self.settled() {
            return false;
        }
        ctx.note("settled: anti-entropy found nothing to repair with any peer");
        ctx.cancel_timer(Timer::AntiEntropy);
        ctx.cancel_timer(Timer::GiveUp);
        true
    }

    pub fn report(&self) -> ReplicaReport {
        ReplicaReport {
            store: self
                .store
                .iter()
                .map(|(k, ((v, _), _))| (k.clone(), *v))
                .collect(),
            repaired: self.repaired,
            exchanges: self.exchanges,
            gave_up: self.gave_up,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ring::key_name;
    use super::super::Args;
    use super::*;
    use clap::Parser;
    use rand::{Rng, SeedableRng};

    /// The kept digests are those computed from the store: XOR over each segment's entries.
    #[test]
    fn kept_digests_are_the_stores() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            a: Args,
        }
        let args = Cli::parse_from(["x", "--replicas", "2", "--vnodes", "4"]).a;
        // 4 servers, 16 segments.
        let cfg = Arc::new(args.config(5));
        let mut r = Replica::new(0, cfg.clone());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..2000 {
            let key = key_name(rng.gen_range(0..60));
            let v = Version {
                clock: rng.gen_range(0..50),
                writer: rng.gen_range(0..3),
            };
            r.absorb(&key, (v, Vec::new()));
        }
        let all: Vec<u32> = (0..16).rev().collect();
        let mut want = [0u64; 16];
        for (k, ((v, _), seg)) in &r.store {
            assert_eq!(*seg, cfg.ring.segment(k));
            want[*seg as usize] ^= entry_hash(k, *v);
        }
        let got: Vec<(u32, u64)> = r.digests(&all);
        assert_eq!(
            got,
            want.iter()
                .copied()
                .enumerate()
                .map(|(s, d)| (s as u32, d))
                .collect::<Vec<_>>()
        );
        assert!(want.iter().filter(|&&d| d != 0).count() > 4);
    }
}
