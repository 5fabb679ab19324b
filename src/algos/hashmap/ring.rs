//! Consistent hashing: a ring of 64-bit points, `vnodes` per server, and each key's replica
//! group, the first `replicas` distinct servers clockwise from the key's hash.
//!
//! A ring segment is the arc that ends at one point: every key in it has the same group (the
//! servers found walking clockwise from that point), so a segment is the unit that
//! anti-entropy compares between two replicas.

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
    /// The group of each segment (the arc ending at `points[i]`).
    groups: Vec<Vec<Rank>>,
}

impl Ring {
    /// `servers` servers with `vnodes` points each; groups of `replicas` (at most `servers`).
    pub fn new(servers: usize, vnodes: usize, replicas: usize) -> Ring {
        let mut points: Vec<(u64, Rank)> = (0..servers)
            .flat_map(|s| (0..vnodes).map(move |v| (hash(format!("server-{s}#{v}").as_bytes()), s)))
            .collect();
        points.sort_unstable();
        let groups = (0..points.len())
            .map(|i| {
                let mut g = Vec::with_capacity(replicas);
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
            .collect();
        Ring { points, groups }
    }

    /// The segment `key` falls in: that of the first point at or after its hash.
    pub fn segment(&self, key: &str) -> u32 {
        let h = hash(key.as_bytes());
        let i = self.points.partition_point(|p| p.0 < h);
        (i % self.points.len()) as u32
    }

    /// The replica group of a segment, its first member the key's "home" server.
    pub fn group_of_segment(&self, seg: u32) -> &[Rank] {
        &self.groups[seg as usize]
    }

    /// The replica group of `key`.
    pub fn group(&self, key: &str) -> &[Rank] {
        self.group_of_segment(self.segment(key))
    }

    /// Segments whose group holds both `a` and `b`.
    pub fn shared_segments(&self, a: Rank, b: Rank) -> Vec<u32> {
        (0..self.groups.len() as u32)
            .filter(|&s| {
                let g = &self.groups[s as usize];
                g.contains(&a) && g.contains(&b)
            })
            .collect()
    }

    /// The servers that share at least one segment with `me`, in rank order.
    pub fn peers(&self, me: Rank) -> Vec<Rank> {
        let mut v: Vec<Rank> = self
            .groups
            .iter()
            .filter(|g| g.contains(&me))
            .flatten()
            .copied()
            .filter(|&r| r != me)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
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
            for &s in g {
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
}
