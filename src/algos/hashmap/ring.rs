//! Consistent hashing: a ring of 64-bit points, `vnodes` per server, and each key's replica
//! group, the first `replicas` distinct servers clockwise from the key's hash.
//!
//! A ring segment is the arc that ends at one point: every key in it has the same group (the
//! servers found walking clockwise from that point), so a segment is the unit that
//! anti-entropy compares between two replicas.
//!
//! The ring keeps no group lists: with P = servers x vnodes points and groups of N, they would
//! take P x N ranks per ring, built in O(P x N) at best, in every rank (under `--sim`, every
//! rank of the process: at np 200 with the default N = all servers, 200 copies of 3,184 x 199
//! ranks, 1 GB, built in minutes). It keeps, per segment, the length of the walk that gathers
//! its group ([`Ring::span`]) and, per server, its points in ring order: a group is read off
//! the walk when asked, and membership is one binary search.

use crate::shared::Rank;

/// FNV-1a: a stable hash (the same in every rank and every build), enough to spread keys.
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // FNV mixes the last bytes weakly; a final avalanche spreads nearby names apart.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// The ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring {
    /// (point, server), sorted by point.
    points: Vec<(u64, Rank)>,
    /// Per segment i, how many points the walk clockwise from `points[i]` takes to meet its
    /// group's last new server: the group is the distinct servers of those points, in order.
    span: Vec<u32>,
    /// Per server, the indices of its points, ascending.
    own: Vec<Vec<u32>>,
}

impl Ring {
    /// `servers` servers with `vnodes` points each; groups of `replicas` (at most `servers`;
    /// 0: all of them).
    pub fn new(servers: usize, vnodes: usize, replicas: usize) -> Ring {
        let mut points: Vec<(u64, Rank)> = (0..servers)
            .flat_map(|s| (0..vnodes).map(move |v| (hash(format!("server-{s}#{v}").as_bytes()), s)))
            .collect();
        points.sort_unstable();
        let n = points.len();
        let mut own = vec![Vec::with_capacity(vnodes); servers];
        for (i, &(_, s)) in points.iter().enumerate() {
            own[s].push(i as u32);
        }
        let distinct = own.iter().filter(|o| !o.is_empty()).count();
        let want = if replicas == 0 {
            distinct
        } else {
            replicas.min(distinct)
        };
        // A sliding window [i, j) over the ring walked twice: the shortest from i holding
        // `want` distinct servers ends at the first point of the last one to join.
        let mut span = Vec::with_capacity(n);
        let mut count = vec![0u32; servers];
        let (mut j, mut inside) = (0, 0);
        for i in 0..n {
            while inside < want {
                let s = points[j % n].1;
                if count[s] == 0 {
                    inside += 1;
                }
                count[s] += 1;
                j += 1;
            }
            span.push((j - i) as u32);
            let s = points[i].1;
            count[s] -= 1;
            if count[s] == 0 {
                inside -= 1;
            }
        }
        Ring { points, span, own }
    }

    /// The segment `key` falls in: that of the first point at or after its hash.
    pub fn segment(&self, key: &str) -> u32 {
        let h = hash(key.as_bytes());
        let i = self.points.partition_point(|p| p.0 < h);
        (i % self.points.len()) as u32
    }

    /// The points of segment `seg`'s walk, as indices into `points` (they may pass the end).
    fn walk(&self, seg: u32) -> std::ops::Range<usize> {
        let i = seg as usize;
        i..i + self.span[i] as usize
    }

    /// The replica group of a segment, its first member the key's "home" server.
    pub fn group_of_segment(&self, seg: u32) -> Vec<Rank> {
        let mut seen = vec![false; self.own.len()];
        let n = self.points.len();
        self.walk(seg)
            .map(|p| self.points[p % n].1)
            .filter(|&s| !std::mem::replace(&mut seen[s], true))
            .collect()
    }

    /// The replica group of `key`.
    pub fn group(&self, key: &str) -> Vec<Rank> {
        self.group_of_segment(self.segment(key))
    }

    /// Whether `server` is in the group of segment `seg`: its first point from `seg` on,
    /// clockwise, is within the walk.
    pub fn in_group(&self, seg: u32, server: Rank) -> bool {
        let Some(own) = self.own.get(server).filter(|o| !o.is_empty()) else {
            return false;
        };
        let at = own.partition_point(|&p| p < seg);
        let ahead = match own.get(at) {
            Some(&p) => (p - seg) as usize,
            None => self.points.len() - seg as usize + own[0] as usize,
        };
        ahead < self.span[seg as usize] as usize
    }

    /// Segments whose group holds `server`, ascending.
    pub fn segments_of(&self, server: Rank) -> Vec<u32> {
        (0..self.points.len() as u32)
            .filter(|&s| self.in_group(s, server))
            .collect()
    }

    /// Segments whose group holds both `a` and `b`, ascending.
    pub fn shared_segments(&self, a: Rank, b: Rank) -> Vec<u32> {
        self.shared_among(&self.segments_of(a), b)
    }

    /// Those of `segs` whose group holds `b` (with `segs` = [`Ring::segments_of`] `a`, the
    /// segments `a` and `b` share, found without scanning the whole ring).
    pub fn shared_among(&self, segs: &[u32], b: Rank) -> Vec<u32> {
        segs.iter()
            .copied()
            .filter(|&s| self.in_group(s, b))
            .collect()
    }

    /// The servers that share at least one segment with `me`, in rank order.
    pub fn peers(&self, me: Rank) -> Vec<Rank> {
        // The servers on the union of the walks of `me`'s segments.
        let n = self.points.len();
        let mut seen = vec![false; self.own.len()];
        let mut reach = 0;
        for seg in (0..n as u32).filter(|&s| self.in_group(s, me)) {
            let walk = self.walk(seg);
            for p in walk.start.max(reach)..walk.end {
                seen[self.points[p % n].1] = true;
            }
            reach = reach.max(walk.end);
        }
        (0..seen.len()).filter(|&s| seen[s] && s != me).collect()
    }
}

/// The name of key number `i`.
pub fn key_name(i: u32) -> String {
    format!("key-{i}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_distinct_servers_and_load_spreads() {
        let ring = Ring::new(8, 16, 3);
        let mut primary = [0u32; 8];
        let mut member = [0u32; 8];
        for i in 0..8000 {
            let g = ring.group(&key_name(i));
            assert_eq!(g.len(), 3);
            let mut d = g.to_vec();
            d.sort_unstable();
            d.dedup();
            assert_eq!(d.len(), 3, "distinct servers: {g:?}");
            primary[g[0]] += 1;
            for &s in &g {
                member[s] += 1;
            }
        }
        // 16 virtual nodes each: every server holds a share within a factor ~2 of the mean.
        for s in 0..8 {
            assert!((400..=2000).contains(&primary[s]), "{primary:?}");
            assert!((1500..=4500).contains(&member[s]), "{member:?}");
        }
        assert_eq!(ring.group(&key_name(5)), ring.group(&key_name(5)));
        // All servers in every group when replicas = servers.
        let all = Ring::new(3, 4, 3);
        assert!(all.peers(0) == vec![1, 2]);
        assert!(!all.shared_segments(0, 2).is_empty());
    }

    /// The groups as the ring used to build them: walk clockwise from each point, keeping
    /// new servers until there are `replicas` (0 or too many: all of them).
    fn groups_by_walking(servers: usize, vnodes: usize, replicas: usize) -> Vec<Vec<Rank>> {
        let mut points: Vec<(u64, Rank)> = (0..servers)
            .flat_map(|s| (0..vnodes).map(move |v| (hash(format!("server-{s}#{v}").as_bytes()), s)))
            .collect();
        points.sort_unstable();
        (0..points.len())
            .map(|i| {
                let mut g = Vec::new();
                for k in 0..points.len() {
                    let s = points[(i + k) % points.len()].1;
                    if !g.contains(&s) {
                        g.push(s);
                        if g.len() == replicas {
                            break;
                        }
                    }
                }
                g
            })
            .collect()
    }

    /// Groups, memberships, shared segments and peers are those of the groups walked in full.
    #[test]
    fn same_groups_as_walking_the_ring() {
        for servers in 1..=9 {
            for vnodes in [1, 2, 3, 7, 16] {
                for replicas in 0..=servers + 1 {
                    let ring = Ring::new(servers, vnodes, replicas);
                    let groups = groups_by_walking(servers, vnodes, replicas);
                    let at = format!("{servers} servers, {vnodes} vnodes, {replicas} replicas");
                    for (seg, g) in groups.iter().enumerate() {
                        assert_eq!(&ring.group_of_segment(seg as u32), g, "{at}, segment {seg}");
                        for s in 0..servers + 1 {
                            assert_eq!(ring.in_group(seg as u32, s), g.contains(&s), "{at}");
                        }
                    }
                    for a in 0..servers {
                        let mut peers: Vec<Rank> = groups
                            .iter()
                            .filter(|g| g.contains(&a))
                            .flatten()
                            .copied()
                            .filter(|&r| r != a)
                            .collect();
                        peers.sort_unstable();
                        peers.dedup();
                        assert_eq!(ring.peers(a), peers, "{at}, peers of {a}");
                        for b in 0..servers {
                            let shared: Vec<u32> = (0..groups.len() as u32)
                                .filter(|&s| {
                                    let g = &groups[s as usize];
                                    g.contains(&a) && g.contains(&b)
                                })
                                .collect();
                            assert_eq!(ring.shared_segments(a, b), shared, "{at}, {a} & {b}");
                        }
                    }
                    for i in 0..50 {
                        let key = key_name(i);
                        assert_eq!(ring.group(&key), groups[ring.segment(&key) as usize]);
                    }
                }
            }
        }
    }
}
