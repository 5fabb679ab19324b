//! Words and keys: the tokenizer every job and the sequential check share, and the hash that
//! routes a key to its reducer.
//!
//! A word is a maximal run of Unicode alphanumeric characters (`char::is_alphanumeric`),
//! lowercased (`char::to_lowercase`, which may give several characters: `İ` becomes `i̇`).
//! Everything else separates words, U+FFFD (what invalid UTF-8 is read as) included.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The Fx hash (rustc's): a multiply-rotate over 8-byte words, deterministic across processes
/// and runs, several times faster than SipHash on short keys. Keys here are words of a
/// corpus, not attacker-chosen, so the weaker hash is fine.
#[derive(Default, Clone, Copy)]
pub struct Fx(u64);

const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Fx {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
    }
}

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // The product's low bits depend only on the key's low bits (its first bytes): the
        // hash table picks buckets by the low bits and `part_of` by the high ones, so every
        // bit is mixed with every other (splitmix64's finalizer).
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A hash map keyed by words, with [`Fx`].
pub type Table<V> = HashMap<String, V, BuildHasherDefault<Fx>>;

/// The reducer (of `parts`) that owns `word`: the same at every rank and in every run.
pub fn part_of(word: &str, parts: usize) -> usize {
    let mut h = Fx::default();
    h.write(word.as_bytes());
    // The high bits mix best; `parts` is small.
    ((h.finish() >> 32) % parts as u64) as usize
}

/// Call `f` with every word of `text`, lowercased, in order. Pure-ASCII lowercase words are
/// handed out as slices of `text` (no copy): the common case of the corpora here.
pub fn for_each_word(text: &str, mut f: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    let mut buf = String::new();
    let mut i = 0;
    while i < bytes.len() {
        // Skip ASCII separators fast.
        let b = bytes[i];
        if b < 0x80 && !b.is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        // A word starts at i: try the fast path (ASCII lowercase letters and digits, ended by
        // an ASCII separator or the end).
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_lowercase() || bytes[i].is_ascii_digit()) {
            i += 1;
        }
        if i == bytes.len() || (bytes[i] < 0x80 && !bytes[i].is_ascii_alphanumeric()) {
            f(&text[start..i]);
            continue;
        }
        // Slow path: uppercase or non-ASCII inside the word.
        buf.clear();
        buf.push_str(&text[start..i]);
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                if !b.is_ascii_alphanumeric() {
                    break;
                }
                buf.push(b.to_ascii_lowercase() as char);
                i += 1;
            } else {
                let c = text[i..].chars().next().expect("a char starts here");
                if !c.is_alphanumeric() {
                    break;
                }
                buf.extend(c.to_lowercase());
                i += c.len_utf8();
            }
        }
        if !buf.is_empty() {
            f(&buf);
        }
        // Not a word char: a separator (skipped by the next turn, ASCII or not).
        if i < bytes.len() && bytes[i] >= 0x80 {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        for_each_word(s, |w| v.push(w.to_string()));
        v
    }

    #[test]
    fn words_are_lowercased_alphanumeric_runs() {
        assert_eq!(words("Hello, world! 42x"), ["hello", "world", "42x"]);
        assert_eq!(words("  a--b_c  "), ["a", "b", "c"]);
        assert_eq!(words("Café ÉTÉ naïve"), ["café", "été", "naïve"]);
        assert_eq!(words("straße—STRASSE"), ["straße", "strasse"]);
        // Non-alphanumeric non-ASCII separates; U+FFFD (invalid UTF-8) too.
        assert_eq!(words("a\u{FFFD}b→c d"), ["a", "b", "c", "d"]);
        assert_eq!(words("日本語 テスト"), ["日本語", "テスト"]);
        assert_eq!(words("İx"), ["i\u{307}x"]);
        assert!(words("").is_empty() && words(" .,; ").is_empty());
        assert_eq!(words("abc"), ["abc"]);
        assert_eq!(words("aBc"), ["abc"]);
        assert_eq!(words("xé"), ["xé"]);
    }

    #[test]
    fn the_tokenizer_agrees_with_a_plain_char_loop() {
        let plain = |s: &str| {
            let mut out = Vec::new();
            let mut w = String::new();
            for c in s.chars() {
                if c.is_alphanumeric() {
                    w.extend(c.to_lowercase());
                } else if !w.is_empty() {
                    out.push(std::mem::take(&mut w));
                }
            }
            if !w.is_empty() {
                out.push(w);
            }
            out
        };
        for s in [
            "The quick Brown fox, jumps; over 13 lazy DOGS.",
            "ÀÉÎÕÜ àéîõü ñ Ñ ΣΊΣΥΦΟΣ Ωmega ωmega",
            "mixed日本Text テスト123 a\u{0301}b",
            "tail-É",
        ] {
            assert_eq!(words(s), plain(s), "{s}");
        }
    }

    #[test]
    fn parts_are_stable_and_spread() {
        assert_eq!(part_of("word", 7), part_of("word", 7));
        // Keys alike in their first bytes (the weak spot of a multiplicative hash) spread.
        for parts in [2, 3, 4, 7, 8] {
            let mut seen = vec![0usize; parts];
            for i in 0..4000 {
                seen[part_of(&format!("w{i}"), parts)] += 1;
            }
            let even = 4000 / parts;
            assert!(seen.iter().all(|&n| n > even * 4 / 5), "{parts}: {seen:?}");
        }
    }
}
