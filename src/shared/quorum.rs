//! Quorum arithmetic of the replicated algorithms.

/// A majority of `n`.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// The largest index that at least `q` replicas reached, given how far each got: the `q`-th
/// largest of `reached` (0 if fewer than `q` replicas).
pub fn quorum_index(reached: impl IntoIterator<Item = usize>, q: usize) -> usize {
    let mut v: Vec<usize> = reached.into_iter().collect();
    if q == 0 || v.len() < q {
        return 0;
    }
    v.sort_unstable_by(|a, b| b.cmp(a));
    v[q - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_index_is_the_qth_largest() {
        assert_eq!(quorum_index([5, 9, 7], 2), 7);
        assert_eq!(quorum_index([5, 9, 7], 3), 5);
        assert_eq!(quorum_index([5], 2), 0);
        assert_eq!(majority(3), 2);
        assert_eq!(majority(4), 3);
    }
}
