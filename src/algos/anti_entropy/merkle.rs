//! A Merkle tree over a replica's key space, kept as leaf hashes (one per key that has an entry)
//! and rebuilt level by level when a sync asks for it.
//!
//! The key space `0..ARITY^depth` is cut into `ARITY` ranges per level; a node's hash is 0 where
//! its range holds no entry, else the hash of its children's hashes, so two replicas whose
//! subtrees agree never look below them. Leaves are keys: a leaf's hash is its entry's
//! ([`super::crdt::entry_hash`]).

use std::collections::BTreeMap;

use super::crdt::fnv;

/// Children per node.
pub const ARITY: u32 = 4;

/// The depth that gives every key of `0..space` a leaf of its own (at least 1).
pub fn depth_for(space: u32) -> u32 {
    let mut d = 1;
    let mut cover = ARITY as u64;
    while cover < space.max(1) as u64 {
        cover *= ARITY as u64;
        d += 1;
    }
    d
}

/// Leaf hashes and, once built, every level (0 = the root, `depth` = the leaves).
#[derive(Debug, Clone)]
pub struct Tree {
    depth: u32,
    leaves: BTreeMap<u32, u64>,
    levels: Option<Vec<BTreeMap<u32, u64>>>,
}

impl Tree {
    pub fn new(depth: u32) -> Self {
        Tree {
            depth,
            leaves: BTreeMap::new(),
            levels: None,
        }
    }
    pub fn depth(&self) -> u32 {
        self.depth
    }
    /// A key's entry changed: its new hash.
    pub fn set_leaf(&mut self, key: u32, hash: u64) {
        self.leaves.insert(key, hash);
        self.levels = None;
    }
    fn build(&mut self) -> &Vec<BTreeMap<u32, u64>> {
        if self.levels.is_none() {
            let mut levels = vec![BTreeMap::new(); self.depth as usize + 1];
            levels[self.depth as usize] = self.leaves.clone();
            for l in (0..self.depth as usize).rev() {
                let mut parents: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
                for (&i, &h) in &levels[l + 1] {
                    let buf = parents.entry(i / ARITY).or_default();
                    buf.extend((i % ARITY).to_le_bytes());
                    buf.extend(h.to_le_bytes());
                }
                levels[l] = parents
                    .into_iter()
                    .map(|(p, bytes)| (p, fnv(&bytes).max(1)))
                    .collect();
            }
            self.levels = Some(levels);
        }
        self.levels.as_ref().expect("built")
    }
    /// The hash of node `index` at `level` (0 where its range is empty).
    pub fn hash(&mut self, level: u32, index: u32) -> u64 {
        if level > self.depth {
            return 0;
        }
        self.build()[level as usize]
            .get(&index)
            .copied()
            .unwrap_or(0)
    }
    /// The root hash: the state's digest (0 for the empty state).
    pub fn root(&mut self) -> u64 {
        self.hash(0, 0)
    }
    /// The children of `index` at `level`, with their hashes.
    pub fn children(&mut self, level: u32, index: u32) -> Vec<(u32, u64)> {
        (0..ARITY)
            .map(|c| {
                let i = index * ARITY + c;
                (i, self.hash(level + 1, i))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_covers_the_key_space() {
        assert_eq!(depth_for(1), 1);
        assert_eq!(depth_for(4), 1);
        assert_eq!(depth_for(5), 2);
        assert_eq!(depth_for(16), 2);
        assert_eq!(depth_for(64), 3);
    }

    #[test]
    fn equal_leaves_give_equal_roots_and_a_difference_shows_on_its_path_only() {
        let mut a = Tree::new(2);
        let mut b = Tree::new(2);
        assert_eq!(a.root(), 0);
        for k in [1, 5, 9] {
            a.set_leaf(k, 100 + k as u64);
            b.set_leaf(k, 100 + k as u64);
        }
        assert_eq!(a.root(), b.root());
        b.set_leaf(9, 7);
        assert_ne!(a.root(), b.root());
        // Key 9 is under node 2 of level 1; nodes 0 and 1 agree.
        assert_eq!(a.hash(1, 0), b.hash(1, 0));
        assert_eq!(a.hash(1, 1), b.hash(1, 1));
        assert_ne!(a.hash(1, 2), b.hash(1, 2));
        assert_eq!(a.hash(1, 3), 0);
    }
}
